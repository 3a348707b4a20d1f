"""The two verdicts read from bioimageio.core's checks (pure), the reproduction figures, the
hand-over's checks of kept outputs, and how a warning counts in scores and statuses."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backoffice.dynamic.runner_outputs import compare, crop_to_fit
from backoffice.errors import InvalidArgumentError
from backoffice.records.core_report import assemble
from backoffice.records.handover import parse_handover
from backoffice.records.verdicts import derive_verdict, verdict_line

WF = "onnx"
REPRODUCE = f"Reproduce test outputs from test inputs ({WF})"


def _summary(reproduce: dict[str, Any] | None, *, inference: str = "passed", static: str = "passed",
             reproduction: Any = None) -> dict[str, Any]:
    details: list[dict[str, Any]] = [{"name": "bioimageio.spec format validation model 0.5.12", "status": static,
                                      "errors": [] if static == "passed" else [{"loc": ["inputs"], "msg": "bad input"}]}]
    if reproduce is not None:
        details.append({"name": REPRODUCE, "status": "passed", "errors": [], **reproduce})
    details.append({"name": f"Run {WF} inference for inputs with batch_size: 1 and size parameter n: 0", "status": inference,
                    "errors": [] if inference == "passed" else [{"msg": "shape mismatch"}]})
    return {"name": "t", "status": "failed", "details": details, "reproduction": reproduction,
            "hardware": {"label": "CPU: Test CPU", "device": "CPU", "cpu": "Test CPU"}}


def _figures(**over: Any) -> dict[str, Any]:
    base = {"integer": False, "elements": 100, "shape": [1, 100], "dtype": "float32",
            "tolerance": {"relative": 1e-3, "absolute": 1e-3, "mismatched_elements_per_million": 100.0},
            "max_abs_error": 0.5, "max_rel_error": 0.25, "mismatched_elements": 2, "mismatched_ppm": 20000.0,
            "reproduces": False}
    return {**base, **over}


def test_comparison_failure_runs_but_does_not_reproduce() -> None:
    failed = {"status": "failed", "errors": [{"msg": "Output 'out': 2 of 100 elements disagree", "with_traceback": False}]}
    v = derive_verdict(_summary(failed, reproduction={"out": _figures()}), WF)
    assert (v.runs, v.reproduces, v.outcome, v.hardware) == (True, False, "warning", "CPU: Test CPU")
    assert v.reason == ("output 'out': 2 of 100 elements (2e+04 ppm) outside the tolerance (relative 0.001, absolute 0.001,"
                        " 100 ppm allowed); max abs error 0.5, max rel error 0.25")
    assert verdict_line(v, v.outcome) == "runs: yes, reproduces: no"


def test_an_exception_while_predicting_does_not_run() -> None:
    crashed = {"status": "failed", "errors": [{"msg": "CUDA out of memory", "with_traceback": True, "traceback_md": "..."}]}
    v = derive_verdict(_summary(crashed), WF)
    assert (v.runs, v.reproduces, v.outcome) == (False, None, "failed")
    assert v.reason == f"{REPRODUCE}: CUDA out of memory"
    assert verdict_line(v, "failed") == "runs: no, reproduces: not known"


def test_a_failed_inference_on_resized_inputs_does_not_run() -> None:
    v = derive_verdict(_summary({}, inference="failed"), WF)
    assert (v.runs, v.outcome) == (False, "failed") and v.reason is not None and "shape mismatch" in v.reason


def test_a_test_that_never_got_to_the_inputs() -> None:
    v = derive_verdict(_summary(None, static="failed"), WF)
    assert (v.runs, v.reproduces, v.outcome) == (None, None, "failed") and "bad input" in (v.reason or "")
    env_failed = {"name": "t", "status": "failed", "details": [{"name": f"bioimageio.core test of {WF}", "status": "failed",
                                                                 "errors": [{"msg": "environment failed: no torch"}]}]}
    v = derive_verdict(env_failed, WF)
    assert (v.runs, v.outcome, v.hardware) == (None, "failed", None) and "environment failed" in (v.reason or "")


def test_integer_outputs_need_an_exact_match_even_when_core_passes() -> None:
    labels = _figures(integer=True, tolerance={"exact_match": True}, max_abs_error=1.0, max_rel_error=0.0005,
                      mismatched_elements=1, mismatched_ppm=10000.0, exact_match_fraction=0.99)
    v = derive_verdict(_summary({}, reproduction={"labels": labels}), WF)
    assert (v.runs, v.reproduces, v.outcome) == (True, False, "warning")
    assert v.reason is not None and "compared by exact match): exact-match fraction 0.99" in v.reason
    exact = {**labels, "mismatched_elements": 0, "mismatched_ppm": 0.0, "exact_match_fraction": 1.0, "reproduces": True}
    assert derive_verdict(_summary({}, reproduction={"labels": exact}), WF).outcome == "passed"


def test_malformed_figures_leave_the_verdict_to_core() -> None:
    v = derive_verdict(_summary({}, reproduction={"out": {"integer": "maybe"}}), WF)
    assert v.outcome == "passed" and v.outputs == {} and v.figures_error is not None


def test_compare_float_and_integer() -> None:
    expected = np.linspace(0, 1, 1000, dtype=np.float32).reshape(10, 100)
    actual = expected.copy()
    actual[0, :3] += 0.01
    f = compare(actual, expected, rtol=1e-3, atol=1e-3, mismatched_tol=100, integer=False)
    assert f["mismatched_elements"] == 3 and f["mismatched_ppm"] == 3000.0 and not f["reproduces"]
    assert f["max_abs_error"] == pytest.approx(0.01, rel=1e-3)
    labels = np.full((4, 4), 2000, dtype=np.int32)
    produced = labels.copy()
    produced[0, 0] = 2001  # within a 1e-3 relative tolerance, not an exact match
    f = compare(produced, labels, rtol=1e-3, atol=1e-3, mismatched_tol=100, integer=True)
    assert (f["exact_match_fraction"], f["mismatched_elements"], f["reproduces"]) == (15 / 16, 1, False)
    assert compare(labels, labels, rtol=0, atol=0, mismatched_tol=0, integer=True)["reproduces"] is True
    assert compare(labels[:2], labels, rtol=0, atol=0, mismatched_tol=0, integer=True)["shape_mismatch"] == [[2, 4], [4, 4]]


def test_a_large_output_is_center_cropped_to_the_cap() -> None:
    big = np.arange(4 * 512 * 512, dtype=np.float32).reshape(1, 4, 512, 512)  # 4 MiB
    kept, crop = crop_to_fit(big, 1024 * 1024)
    assert kept.nbytes <= 1024 * 1024 and crop is not None
    assert np.array_equal(kept, big[tuple(slice(a, b) for a, b in crop)])
    small = np.zeros((2, 2), dtype=np.float32)
    assert crop_to_fit(small)[1] is None


def _npy(array: Any) -> str:
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return base64.b64encode(buffer.getvalue()).decode()


def _handover(kept: list[dict[str, Any]], figures_kept: dict[str, Any] | None) -> dict[str, Any]:
    figures = _figures(shape=[2, 3], kept=figures_kept)
    return {"step": "test", "concept_id": "bold-bat", "subject": "draft", "draft_token": "t1", "tool": "bioimageio.core",
            "weight_format": WF, "status": "failed", "kept_outputs": kept,
            "summary": {"name": "t", "status": "failed", "details": [], "reproduction": {"out": figures}}}


KEPT = {"file": "out.npy", "shape": [2, 3], "dtype": "float32", "full_shape": [2, 3], "crop": None}


def test_hand_over_carries_a_kept_output(tmp_path: Path) -> None:
    path = tmp_path / "h.json"
    array = np.ones((2, 3), dtype=np.float32)
    path.write_text(json.dumps(_handover([{"name": "out.npy", "data": _npy(array)}], KEPT)))
    handover = parse_handover(path)
    assert np.array_equal(np.load(io.BytesIO(handover.kept_files()["out.npy"])), array)


@pytest.mark.parametrize(("kept", "figures_kept", "text"), [
    ([{"name": "out.npy", "data": _npy(np.array([{"x": 1}], dtype=object))}], KEPT, "is not a plain .npy file"),
    ([{"name": "out.npy", "data": _npy(np.ones((3, 2), dtype=np.float32))}], KEPT, "is [3, 2] float32, the figures say [2, 3]"),
    ([{"name": "other.npy", "data": _npy(np.ones((2, 3), dtype=np.float32))}], KEPT, "not one the reproduction figures name"),
    ([{"name": "out.npy", "data": _npy(np.ones((2, 3), dtype=np.float32))}], None, "not one the reproduction figures name"),
    ([{"name": "../out.npy", "data": ""}], KEPT, "kept_outputs.0.name"),
    ([{"name": "out.npy", "data": "not base64!"}], KEPT, "is not base64"),
    ([{"name": "out.npy", "data": "A" * (2 * 1024 * 1024)}], KEPT, "kept_outputs.0.data"),
])
def test_hand_over_refuses_a_bad_kept_output(tmp_path: Path, kept: list[dict[str, Any]], figures_kept: Any, text: str) -> None:
    path = tmp_path / "h.json"
    path.write_text(json.dumps(_handover(kept, figures_kept)))
    with pytest.raises(InvalidArgumentError, match=None) as e:
        parse_handover(path)
    assert text in str(e.value)


def test_hand_over_refuses_kept_outputs_over_the_total_cap(tmp_path: Path) -> None:
    """Each output within its cap (1 MiB), four together over the hand-over's 2 MiB."""
    data = _handover([], None)
    shape = {**KEPT, "shape": [400, 400], "full_shape": [400, 400]}
    data["summary"]["reproduction"] = {n: _figures(shape=[400, 400], kept={**shape, "file": f"{n}.npy"}) for n in "abcd"}
    data["kept_outputs"] = [{"name": f"{n}.npy", "data": _npy(np.zeros((400, 400), dtype=np.float32))} for n in "abcd"]
    path = tmp_path / "h.json"
    path.write_text(json.dumps(data))
    with pytest.raises(InvalidArgumentError, match="kept output d.npy is over the size cap"):
        parse_handover(path)
    data["kept_outputs"] = data["kept_outputs"][:3]
    path.write_text(json.dumps(data))
    assert sorted(parse_handover(path).kept_files()) == ["a.npy", "b.npy", "c.npy"]


def test_a_warning_is_not_a_failure_in_the_report_and_the_scores() -> None:
    from backoffice.index.plan import conflate as index_conflate
    from backoffice.records.concept import ReportBrief
    from backoffice.records.scoring import conflate
    from backoffice.records.tool_report import ToolReport

    parts = {"static": {"status": "valid-format"}, "onnx": {"status": "passed"},
             "torchscript": {"status": "warning", "verdict": {"runs": True, "reproduces": False, "reason": "output 'o': off"}}}
    report = assemble(parts, "0.11.0", {})
    assert (report["status"], report["score"], report["details"]["status"]) == ("passed", round(2.5 / 3, 4), "warning")
    assert report["details"]["warnings"] == ["torchscript: runs but does not reproduce: output 'o': off"]
    compat = conflate({("bioimageio.core", "0.11.0"): ToolReport.model_validate(report)})
    assert compat.status == "warning" and compat.scores.metadata_format == 1.0
    assert "bioimageio.core-compatible" in compat.tags
    failed = assemble({**parts, "onnx": {"status": "failed", "error": "boom"}}, "0.11.0", {})
    assert failed["status"] == "failed" and failed["details"]["status"] == "failed"

    tests = {"a": ReportBrief(status="passed", report="a", tool="bioimageio.core", weight_format="onnx", runs=True, reproduces=True),
             "b": ReportBrief(status="warning", report="b", tool="bioimageio.core", weight_format="torchscript", runs=True,
                              reproduces=False, by_hardware={"CPU: x": "warning", "GPU: y": "passed"})}
    summary = index_conflate(tests)
    assert summary.status == "warning"
    assert [(b.status, b.runs, b.reproduces) for b in summary.badges] == [("passed", True, True), ("warning", True, False)]
    assert summary.badges[1].by_hardware == {"CPU: x": "warning", "GPU: y": "passed"}


def test_mail_lists_both_verdicts_per_weight_format() -> None:
    from backoffice.notify.mail import render_mail, test_lines
    from backoffice.records.concept import ReportBrief

    tests = {"s": ReportBrief(status="valid-format", report="s", tool="bioimageio.spec"),
             "t": ReportBrief(status="warning", report="t", tool="bioimageio.core", weight_format="torchscript", runs=True,
                              reproduces=False, hardware="CPU: x", by_hardware={"CPU: x": "warning", "GPU: y": "passed"})}
    lines = test_lines(tests)
    assert lines == ["torchscript: warning (runs: yes, reproduces: no) on CPU: x; passed on GPU: y"]
    _, body = render_mail("awaiting_review", concept_id="bold-bat", version="1", reason=None, url=None,
                          version_assigned=False, tests=lines, drafts_url="http://x/collection_draft.json")
    assert "  - torchscript: warning (runs: yes, reproduces: no) on CPU: x; passed on GPU: y\n" in body
    assert "runs but does not reproduce\nis a warning, not a failure" in body


def test_job_summary_leads_with_the_verdicts() -> None:
    from backoffice.records.verdicts import verdict_markdown

    failed = {"status": "failed", "errors": [{"msg": "Output 'out': 2 of 100 elements disagree", "with_traceback": False}]}
    v = derive_verdict(_summary(failed, reproduction={"out": _figures()}), WF)
    text = verdict_markdown(WF, v)
    assert text.startswith("### \u26a0\ufe0f onnx: warning (runs: yes, reproduces: no) on CPU: Test CPU\n\noutput 'out': 2 of 100")

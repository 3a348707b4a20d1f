"""`backoffice test`: one bioimageio.core test of one weight format, in a subprocess
with a timeout. Whatever happens, a summary is stored that says what happened."""

from __future__ import annotations

import json
import re
import tempfile
from dataclasses import dataclass
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any, cast

from ..context import Context
from ..description import parse_description
from ..errors import NotFoundError
from ..notify.mail import notify_uploader
from ..records.concept import ConceptRecord, DraftRecord
from ..records.report_names import core_report, spec_report
from ..records.reports import store_report
from ..records.status import DraftStatus
from ..records.target import Target, local_files, resolve_target
from ..records.verdicts import MAX_KEPT_FILE_BYTES, MAX_KEPT_OUTPUTS, Verdict, derive_verdict, verdict_line, verdict_markdown
from ..util.child_environ import child_environ
from ..util.cmd import CmdResult, run
from ..util.run_folder import make_run_folder
from ..validate.static import failed_summary, run_spec_validation, spec_version
from ..resource_types import has_weights
from ..weight_formats import WEIGHT_FORMATS
from .environments import DEFAULT_TIMEOUT, PreparedEnv

RUNNER = Path(__file__).with_name("runner.py")


@dataclass(frozen=True)
class DynamicTestOutcome:
    target: Target
    weight_format: str
    status: str
    report_name: str
    first_error: str | None
    markdown: str
    device: str | None
    verdict: Verdict | None = None
    """Both verdicts (runs, reproduces) of a dynamic test."""

    def verdict_text(self) -> str:
        """`runs: yes, reproduces: no` (or the status where there is no dynamic test)."""
        return verdict_line(self.verdict, self.status)


def core_version() -> str:
    return dist_version("bioimageio.core")


def classify_failure(result: CmdResult, timeout: float) -> str:
    """The reason a test run produced no summary, in words a person can act on."""
    out = result.output
    if result.timed_out:
        return f"timeout: the test did not finish within {timeout:.0f} s"
    if not result.started:
        return f"crash: the test environment's interpreter could not be started ({out.strip()})"
    for marker in ("ModuleNotFoundError", "ImportError"):
        if marker in out:
            line = next((ln for ln in reversed(out.splitlines()) if marker in ln), marker)
            return f"import error in the test environment: {line.strip()}"
    if result.returncode < 0:
        return f"crash: the test process was killed by signal {-result.returncode}"
    last = next((ln.strip() for ln in reversed(out.splitlines()) if ln.strip()), "no output")
    return f"crash: the test process exited with code {result.returncode}: {last}"


KNOWN_SILENT_FAILURES: tuple[tuple[str, str, str], ...] = (
    (
        "tensorflow_saved_model_bundle", "assert isinstance(result, dict)",
        "the SavedModel's serving endpoint returns a bare tensor, but bioimageio.core expects a dict of named"
        " outputs (keras 3 `model.export()` writes such an endpoint; export with `keras.export.ExportArchive` and"
        " an endpoint returning `{'<output tensor id>': output}`)",
    ),
)
"""(weight format, failing code, explanation) of library failures that carry no error message."""


def _traceback_text(err: dict[str, Any]) -> str:
    plain = cast(list[Any], err.get("traceback") or [])
    return str(err.get("traceback_md") or "\n".join(str(x) for x in plain))


def _traceback_hint(err: dict[str, Any], where: str) -> str:
    """What a message-less error's (rich) traceback says: exception, place, code line, known cause."""
    tb = _traceback_text(err)
    lines = [ln.strip().strip("\u2502").strip() for ln in tb.splitlines()]
    lines = [ln for ln in lines if ln and not ln.startswith(("\u256d", "\u2570"))]
    if not lines:
        return ""
    exception = lines[-1]
    code_at = max((i for i, ln in enumerate(lines) if "\u2771" in ln), default=-1)
    code = re.sub(r"^\u2771\s*\d*\s*", "", lines[code_at]).replace("\u2502", " ") if code_at >= 0 else ""
    code = " ".join(code.split())
    # the frame header above the failing line: `/path/file.py:168 in f` (rich may cut long paths)
    headers = [ln for ln in lines[: max(code_at, 0)] if ln.startswith("/") or re.match(r"^[A-Za-z]:\\", ln)]
    place = ""
    if headers:
        header = headers[-1].split("site-packages/")[-1].split(" in ")[0]
        place = f" at {header}" + ("" if re.search(r"\.py:\d+", header) else "\u2026")
    hint = f"{exception}{place}" + (f" (`{code}`)" if code else "")
    for weight_format, snippet, explanation in KNOWN_SILENT_FAILURES:
        if snippet in tb and weight_format in where:
            hint += f"; likely cause: {explanation}"
    return hint


_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Interrupt|Exit)\b.*$")


def _root_cause(err: dict[str, Any]) -> str | None:
    """The first exception of a chained traceback (e.g. the error an `ImportError` hides)."""
    tb = _traceback_text(err)
    found = [ln.strip() for ln in tb.splitlines() if _EXCEPTION_LINE.match(ln.strip())]
    return found[0] if len(found) > 1 else None


def first_error(summary: dict[str, Any]) -> str | None:
    for detail in summary.get("details", []):
        for err in detail.get("errors", []):
            msg = str(err.get("msg", "")).strip()
            loc = ".".join(str(x) for x in err.get("loc", []))
            where = f"{detail.get('name', '')}" + (f" ({loc})" if loc else "")
            if not msg:
                hint = _traceback_hint(err, where)
                msg = "failed without an error message" + (f": {hint}" if hint else "")
            else:
                cause = _root_cause(err)
                if cause and cause not in msg:
                    msg += f" (caused by {cause})"
            return f"{where}: {msg}"
    return None


def _runner_env(ctx: Context) -> dict[str, str]:
    """The test runs the uploaded model's code: it gets no credentials."""
    return child_environ(ctx.settings.secret_values(), PYTHONUNBUFFERED="1")


def _kept_files(folder: Path) -> dict[str, bytes]:
    """The outputs the test kept (`.npy`, each within the cap; a few at most)."""
    kept: dict[str, bytes] = {}
    if folder.is_dir():
        for f in sorted(folder.glob("*.npy"))[:MAX_KEPT_OUTPUTS]:
            if f.is_file() and f.stat().st_size <= MAX_KEPT_FILE_BYTES:
                kept[f.name] = f.read_bytes()
    return kept


@dataclass(frozen=True)
class EnvRun:
    """What a test in its environment gave: the summary (with the runner's device, hardware
    and reproduction figures), its markdown, and the produced outputs it kept."""

    summary: dict[str, Any]
    markdown: str
    device: str | None
    kept: dict[str, bytes]


def run_in_env(
    ctx: Context, env: PreparedEnv, rdf: Path | str, weight_format: str, kwargs: dict[str, Any], timeout: float
) -> EnvRun:
    """The runner's result, or a failed summary saying why."""
    name = f"bioimageio.core test of {weight_format}"
    if env.python is None:
        error = f"environment failed: {env.error or 'unknown reason'}"
        if env.output_tail:
            error += "\n--- last lines of the environment build ---\n" + env.output_tail
        return EnvRun(failed_summary(name, str(rdf), error), f"# ❌ {error}\n", None, {})
    with tempfile.TemporaryDirectory(prefix="backoffice-test-") as tmp:
        out = Path(tmp) / "summary.json"
        kept_dir = Path(tmp) / "kept"
        fresh = make_run_folder(Path(tmp) / "run")  # HOME, cache, tmp and working folder of this test only
        result = run(
            [env.python, RUNNER, "--rdf", rdf, "--weight-format", weight_format, "--kwargs", json.dumps(kwargs), "--out", out,
             "--keep-outputs", kept_dir],
            env=_runner_env(ctx) | fresh, timeout=timeout, cwd=Path(tmp) / "run" / "work",
        )
        if out.is_file():
            data = json.loads(out.read_text(encoding="utf-8"))
            summary = data["summary"]
            summary["device"] = data.get("device")
            summary["hardware"] = data.get("hardware")
            summary["reproduction"] = data.get("reproduction")
            summary["runner"] = {k: data.get(k) for k in ("bioimageio_core_version", "python", "seconds")}
            return EnvRun(summary, data.get("markdown", ""), data.get("device"), _kept_files(kept_dir))
    reason = classify_failure(result, timeout)
    error = f"{reason}\n--- last lines of output ---\n{result.tail(40)}"
    return EnvRun(failed_summary(name, str(rdf), error, env=env.description),
                  f"# ❌ {reason}\n\n```\n{result.tail(40)}\n```\n", None, {})


def merged_test_kwargs(ctx: Context, target: Target, weight_format: str, content: dict[str, Any]) -> dict[str, Any]:
    """test kwargs from the description's `config.bioimageio.test_kwargs` then `collection/`."""
    kwargs: dict[str, Any] = {}
    config: Any = content.get("config") or {}
    bio: Any = cast(dict[str, Any], config).get("bioimageio") if isinstance(config, dict) else None
    declared: Any = cast(dict[str, Any], bio).get("test_kwargs") if isinstance(bio, dict) else None
    if isinstance(declared, dict):
        kwargs.update(cast(dict[str, Any], declared).get(weight_format) or {})
    kwargs.update(ctx.curation_of(target.concept_id).kwargs_for(weight_format))
    allowed = {"absolute_tolerance", "relative_tolerance", "decimal", "determinism", "devices", "stop_early"}
    return {k: v for k, v in kwargs.items() if k in allowed}


def failed_validation(draft: DraftRecord) -> bool:
    """Whether bioimageio.spec's static validation of this upload failed (it never goes to review)."""
    return any(t.tool == "bioimageio.spec" and t.status == "failed" for t in draft.tests.values())


def enter_testing(ctx: Context, target: Target) -> None:
    """Move the draft to `testing` when a test result arrives (a retest after changes were
    requested starts a new round), unless it is testing already or was sent back because
    its static validation failed: no test can make that upload reviewable, only a new
    one. A result for a replaced upload leaves the new draft alone."""
    if target.subject != "draft":
        return

    def mutate(record: ConceptRecord) -> None:
        draft = record.require_draft()
        if draft.token != target.draft_token or draft.status == DraftStatus.TESTING:
            return
        if draft.status == DraftStatus.CHANGES_REQUESTED and failed_validation(draft):
            return
        record.set_draft_status(DraftStatus.TESTING)

    ctx.concepts.update(target.concept_id, mutate)


def run_weight_format_test(
    ctx: Context,
    concept_id: str,
    which: str,
    weight_format: str,
    env: PreparedEnv,
    *,
    timeout: float = DEFAULT_TIMEOUT,
    actor: str | None = None,
) -> DynamicTestOutcome:
    """Test one weight format of a draft or version and store the report."""
    target = resolve_target(ctx.concepts, concept_id, which)
    if not has_weights(target.record.type):
        raise NotFoundError(f"'{concept_id}' is a {target.record.type}: it has no weight formats; use `backoffice test {concept_id} {which}` without one")
    if weight_format not in target.summary.weight_formats:
        have = ", ".join(target.summary.weight_formats) or "none"
        raise NotFoundError(f"'{concept_id}' {which} has no '{weight_format}' weights (it has: {have})")
    enter_testing(ctx, target)
    wf_info = WEIGHT_FORMATS.get(weight_format)
    with local_files(ctx.storage, target) as folder:
        rdf = folder / target.rdf_name
        content = parse_description(rdf.read_bytes(), target.rdf_name)
        both: Verdict | None = None
        kept: dict[str, bytes] = {}
        if wf_info is None or not wf_info.dynamic:
            status, summary, markdown = run_spec_validation(rdf)
            summary["note"] = f"{weight_format}: static validation only (bioimageio.core cannot run it)"
            markdown = f"**{weight_format}: static validation only**\n\n" + markdown
            verdict, device = ("failed" if status == "failed" else "valid-format"), None
        else:
            kwargs = merged_test_kwargs(ctx, target, weight_format, content)
            ran = run_in_env(ctx, env, rdf, weight_format, kwargs, timeout)
            summary, markdown, device, kept = ran.summary, ran.markdown, ran.device, ran.kept
            both = derive_verdict(summary, weight_format)
            verdict = both.outcome
            markdown = verdict_markdown(weight_format, both) + markdown
    summary["environment"] = env.description
    name = core_report(core_version(), weight_format)
    error = first_error(summary) if verdict == "failed" else None
    store_report(
        ctx.storage, ctx.concepts, ctx.record_step, target, name, verdict, summary,
        step="test", message=result_message(weight_format, verdict, error, device, both),
        actor=actor, tool="bioimageio.core", weight_format=weight_format, verdict=both, kept=kept,
    )
    maybe_finish_testing(ctx, target)
    return DynamicTestOutcome(target, weight_format, verdict, name, error, markdown, device, both)


def result_message(what: str, status: str, error: str | None, device: str | None, verdict: Verdict | None) -> str:
    """The log line of a test result: status, both verdicts, why, where."""
    text = f"{what}: {status}"
    if verdict is not None:
        text += f" ({verdict_line(verdict, status)})"
    if error:
        text += f" — {error.splitlines()[0]}"
    elif verdict is not None and verdict.reason:
        text += f" — {verdict.reason.splitlines()[0]}"
    where = (verdict.hardware if verdict is not None else None) or device
    return text + (f" on {where}" if where else "")


def run_static_only_test(ctx: Context, concept_id: str, which: str, actor: str | None = None) -> DynamicTestOutcome:
    """`backoffice test` on a resource without weights (dataset, notebook, application): the static checks only."""
    target = resolve_target(ctx.concepts, concept_id, which)
    enter_testing(ctx, target)
    with local_files(ctx.storage, target) as folder:
        status, summary, markdown = run_spec_validation(folder / target.rdf_name)
    name = spec_report(spec_version())
    verdict = "failed" if status == "failed" else "valid-format"
    summary["note"] = f"a {target.record.type} has no dynamic test: static checks only"
    store_report(ctx.storage, ctx.concepts, ctx.record_step, target, name, verdict, summary, step="test",
                 message=f"{target.record.type}: static checks only: {verdict}", actor=actor, tool="bioimageio.spec")
    maybe_finish_testing(ctx, target)
    return DynamicTestOutcome(target, "", verdict, name, first_error(summary), markdown, None)


def _missing_formats(record: ConceptRecord, target: Target) -> list[str] | None:
    """Expected weight formats without a result, or None if the draft is not being tested."""
    draft = record.require_draft()
    if draft.token != target.draft_token or draft.status != DraftStatus.TESTING:
        return None
    done = {t.weight_format for t in draft.tests.values() if t.tool == "bioimageio.core"}
    return [wf for wf in draft.expected_tests if wf not in done]


def maybe_finish_testing(ctx: Context, target: Target, *, force: bool = False) -> bool:
    """Move the draft to `awaiting review` once every expected weight format has a result.

    With `force` (the test workflow's last job) a format without a result gets a failed
    report saying so, and the draft moves on: never a silent gap.
    """
    if target.subject != "draft":
        return False
    if force:
        for wf in _missing_formats(ctx.concepts.get(target.concept_id), target) or []:
            error = f"no result was reported for {wf}: its test job did not run or did not finish (see the workflow run)"
            store_report(
                ctx.storage, ctx.concepts, ctx.record_step, target, core_report(core_version(), wf), "failed",
                failed_summary(f"bioimageio.core test of {wf}", target.rdf_key, error),
                step="test", message=f"{wf}: failed — {error}", tool="bioimageio.core", weight_format=wf,
            )

    def mutate(record: ConceptRecord) -> DraftRecord | None:
        missing = _missing_formats(record, target)
        if missing is None or (missing and not force):
            return None
        if failed_validation(record.require_draft()):
            return None  # failed static validation: never to the reviewers
        return record.set_draft_status(DraftStatus.AWAITING_REVIEW).model_copy()

    draft = ctx.concepts.update(target.concept_id, mutate)
    if draft is None:
        return False
    ctx.record_step(target.concept_id, "finish-testing", "all tests have results: awaiting review")

    notify_uploader(ctx, target.concept_id, "awaiting_review", version=draft.summary.version,
                    uploader=draft.uploader, uploader_email=draft.summary.uploader_email,
                    version_assigned=draft.version_assigned, tests=draft.tests)
    return True

"""The retest planner: every published version planned into matrices under GitHub's
limits (jobs per matrix, bytes of step output), only-missing rounds, deferral, and the
`plan-retest` command."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from backoffice.config.curation import BlockedVersion, CurationDecl
from backoffice.context import Context
from backoffice.records.concept import ConceptRecord, ResourceSummary, ReportBrief, VersionRecord
from backoffice.retest.plan import (
    MAX_MATRIX_JOBS,
    PublishedVersion,
    RetestJob,
    plan_retest,
    published_versions,
)
from test_workflows import _expression, check_matrix, matrix_keys, parse_outputs, workflow  # pyright: ignore[reportPrivateUsage]

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yaml"))
CORE, SPEC = "0.11.0", "0.5.12.0"


def model(cid: str, version: str, *formats: str, reports: tuple[str, ...] = (), blocked: bool = False) -> PublishedVersion:
    return PublishedVersion(cid, "model", version, formats, frozenset(reports), blocked)


def test_plan_covers_every_published_version() -> None:
    versions = [
        model("b-model", "1.0", "pytorch_state_dict", "onnx"),
        model("a-model", "2.0", "tensorflow_js"),  # no dynamic test possible: static checks
        model("a-model", "1.0", "torchscript", blocked=True),
        PublishedVersion("c-dataset", "dataset", "1.0"),
        PublishedVersion("d-notebook", "notebook", "0.1"),
    ]
    plan = plan_retest(versions, core_version=CORE, spec_version=SPEC)
    assert plan.jobs == (
        RetestJob("a-model", "2.0", ""),
        RetestJob("b-model", "1.0", "pytorch_state_dict"),
        RetestJob("b-model", "1.0", "onnx"),
        RetestJob("c-dataset", "1.0", ""),
        RetestJob("d-notebook", "0.1", ""),
    )
    assert plan.blocked == 1 and plan.deferred == () and len(plan.chunks) == 1
    assert plan.matrices()[0]["include"][1] == {"concept_id": "b-model", "version": "1.0", "weight_format": "pytorch_state_dict", "index": "1"}


def test_plan_only_missing_skips_what_the_current_core_reported() -> None:
    versions = [
        model("a-model", "1.0", "onnx", "torchscript", reports=(f"bioimageio.core_{CORE}_onnx", "bioimageio.core_0.10.0_torchscript")),
        PublishedVersion("c-dataset", "dataset", "1.0", reports=frozenset({f"bioimageio.spec_{SPEC}"})),
        PublishedVersion("d-dataset", "dataset", "1.0", reports=frozenset({"bioimageio.spec_0.5.0"})),
    ]
    plan = plan_retest(versions, core_version=CORE, spec_version=SPEC, only_missing=True)
    assert plan.jobs == (RetestJob("a-model", "1.0", "torchscript"), RetestJob("d-dataset", "1.0", ""))
    assert plan.up_to_date == 2
    assert len(plan_retest(versions, core_version=CORE, spec_version=SPEC).jobs) == 4


@pytest.mark.parametrize(("jobs", "chunk_size", "sizes"), [
    (0, 256, []),
    (1, 256, [1]),
    (256, 256, [256]),
    (257, 256, [129, 128]),
    (513, 256, [171, 171, 171]),
    (10, 3, [3, 3, 2, 2]),
])
def test_plan_chunks_stay_under_the_matrix_limit(jobs: int, chunk_size: int, sizes: list[int]) -> None:
    versions = [model(f"m{i:05d}", "1.0", "onnx") for i in range(jobs)]
    plan = plan_retest(versions, core_version=CORE, spec_version=SPEC, chunk_size=chunk_size)
    assert [len(c) for c in plan.chunks] == sizes
    assert list(plan.jobs) == [RetestJob(f"m{i:05d}", "1.0", "onnx") for i in range(jobs)]  # none lost, order kept


def test_plan_defers_what_one_run_cannot_hold() -> None:
    versions = [model(f"m{i:05d}", "1.0", "onnx") for i in range(MAX_MATRIX_JOBS * MAX_MATRIX_JOBS + 5)]
    plan = plan_retest(versions, core_version=CORE, spec_version=SPEC, max_output_bytes=10**9)  # the job limit alone
    assert len(plan.chunks) == MAX_MATRIX_JOBS and all(len(c) == MAX_MATRIX_JOBS for c in plan.chunks)
    assert [j.concept_id for j in plan.deferred] == [f"m{i:05d}" for i in range(65536, 65541)]
    small = plan_retest(versions[:20], core_version=CORE, spec_version=SPEC, chunk_size=4, max_chunks=3)
    assert len(small.jobs) == 12 and len(small.deferred) == 8
    with pytest.raises(ValueError, match="chunk size must be 1 to 256"):
        plan_retest([], core_version=CORE, spec_version=SPEC, chunk_size=257)
    with pytest.raises(ValueError, match="chunk size must be 1 to 256"):
        plan_retest([], core_version=CORE, spec_version=SPEC, chunk_size=0)


def test_fan_out_is_what_the_retest_workflow_expects() -> None:
    versions = [model(f"m{i:03d}", "1.0", "onnx", "torchscript") for i in range(300)]
    plan = plan_retest(versions, core_version=CORE, spec_version=SPEC)
    fan_out = json.loads(json.dumps(plan.fan_out()))
    retest_wf, matrix_wf = workflow("retest_all.yaml"), workflow("test_matrix.yaml")
    retest = retest_wf["jobs"]["retest"]
    assert _expression(retest["strategy"]["matrix"]) == "fromJSON(needs.plan.outputs.chunks)"
    assert retest["uses"] == "./.github/workflows/test_matrix.yaml"
    required, _ = matrix_keys(retest_wf, "retest")
    outer = fan_out["include"]
    assert len(outer) == 3 <= MAX_MATRIX_JOBS
    assert all(required <= set(chunk) for chunk in outer)
    key = re.fullmatch(r"matrix\.(\w+)", _expression(retest["with"]["matrix"]))
    assert key
    total = 0
    for chunk in outer:
        inner = json.loads(chunk[key.group(1)])
        check_matrix(inner, matrix_wf, "run")
        total += len(inner["include"])
    assert total == 600


def test_published_versions_from_records() -> None:
    brief = ReportBrief(status="passed", report=f"bioimageio.core_{CORE}_onnx", tool="bioimageio.core", weight_format="onnx")
    record = ConceptRecord(id="affable-shark", type="model", versions={
        "0.1": VersionRecord(version="0.1", summary=ResourceSummary(weight_formats=["onnx"])),
        "1.0": VersionRecord(version="1.0", summary=ResourceSummary(weight_formats=["onnx", "torchscript"]),
                             tests={brief.report: brief}),
    })
    draft_only = ConceptRecord(id="humble-hat", type="notebook")
    decl = CurationDecl(blocked_versions=[BlockedVersion(version="0.1", reason="wrong normalization")])
    versions = published_versions([record, draft_only], {"affable-shark": decl})
    assert versions == [
        PublishedVersion("affable-shark", "model", "0.1", ("onnx",), frozenset(), True),
        PublishedVersion("affable-shark", "model", "1.0", ("onnx", "torchscript"), frozenset({brief.report}), False),
    ]
    plan = plan_retest(versions, core_version=CORE, spec_version=SPEC, only_missing=True)
    assert plan.jobs == (RetestJob("affable-shark", "1.0", "torchscript"),) and plan.blocked == 1


def test_cli_plan_retest(local_ctx: Context, tmp_path: Path) -> None:
    from backoffice.dynamic.run import core_version

    for i in range(3):
        local_ctx.concepts.save(ConceptRecord(id=f"model-{'abc'[i]}", type="model", versions={
            "1.0": VersionRecord(version="1.0", summary=ResourceSummary(weight_formats=["onnx", "pytorch_state_dict"]),
                                 tests={f"bioimageio.core_{core_version()}_onnx": ReportBrief(
                                     status="passed", report=f"bioimageio.core_{core_version()}_onnx",
                                     tool="bioimageio.core", weight_format="onnx")}),
        }))
    s = local_ctx.settings
    out, summary = tmp_path / "out", tmp_path / "summary"
    env = {**os.environ, "PYTHONPATH": str(REPO), "GITHUB_OUTPUT": str(out), "GITHUB_STEP_SUMMARY": str(summary),
           "BACKOFFICE_LOCAL_ROOT": str(local_ctx.storage.root),  # type: ignore[attr-defined]
           "BACKOFFICE_CONFIG_PATH": str(s.config_path), "BACKOFFICE_COLLECTION_DIR": str(s.collection_dir)}
    r = subprocess.run([sys.executable, "-m", "backoffice", "plan-retest", "--only-missing", "--chunk-size", "2"],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    outputs = parse_outputs(out.read_text())
    assert outputs["has_jobs"] == "yes" and outputs["jobs"] == "3"
    chunks = json.loads(outputs["chunks"])["include"]
    assert [c["jobs"] for c in chunks] == [2, 1]
    inner = [e for c in chunks for e in json.loads(c["entries"])["include"]]
    assert {(e["concept_id"], e["weight_format"]) for e in inner} == {
        ("model-a", "pytorch_state_dict"), ("model-b", "pytorch_state_dict"), ("model-c", "pytorch_state_dict")}
    assert "test jobs: 3 in 2 matrices" in summary.read_text()
    bad = subprocess.run([sys.executable, "-m", "backoffice", "plan-retest", "--chunk-size", "300"],
                         env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 14 and bad.stderr.strip() == "error: --chunk-size must be 1 to 256, not 300"

"""The retest plan fits GitHub's output limits at 50,000 published versions: at most 256
matrices of at most 256 jobs, and at most 1 MB of step output (the plan travels from the
planning job to the matrix as a job output); what does not fit is deferred, none lost."""

from __future__ import annotations

import json

from backoffice.retest.plan import MAX_MATRIX_JOBS, MAX_OUTPUT_BYTES, PublishedVersion, RetestJob, plan_retest

CORE, SPEC = "0.11.0", "0.5.12.0"
GITHUB_OUTPUT_LIMIT = 1024 * 1024


def _versions(n: int) -> list[PublishedVersion]:
    out: list[PublishedVersion] = []
    for i in range(n):
        if i % 5 == 4:
            out.append(PublishedVersion(f"dataset-{i:06d}", "dataset", "1.0"))
        else:
            out.append(PublishedVersion(f"affable-model-{i:06d}", "model", f"1.{i % 3}", ("pytorch_state_dict", "onnx")))
    return out


def test_plan_of_50000_versions_fits_the_output_limit() -> None:
    versions = _versions(50_000)
    plan = plan_retest(versions, core_version=CORE, spec_version=SPEC)
    text = plan.fan_out_json()
    assert len(text.encode()) <= MAX_OUTPUT_BYTES < GITHUB_OUTPUT_LIMIT
    assert 1 <= len(plan.chunks) <= MAX_MATRIX_JOBS and all(1 <= len(c) <= MAX_MATRIX_JOBS for c in plan.chunks)
    every = plan_retest(versions, core_version=CORE, spec_version=SPEC, max_output_bytes=10**9)
    assert len(every.jobs + every.deferred) == 90_000  # 40,000 models x 2 formats + 10,000 datasets
    assert plan.jobs + plan.deferred == every.jobs + every.deferred  # nothing lost, order kept
    assert len(plan.deferred) > 0 and len(plan.jobs) > 5_000
    outer = json.loads(text)["include"]
    assert sum(len(json.loads(c["entries"])["include"]) for c in outer) == len(plan.jobs)


def test_output_cap_is_exact() -> None:
    versions = _versions(3_000)
    full = plan_retest(versions, core_version=CORE, spec_version=SPEC, chunk_size=100)
    size = len(full.fan_out_json())
    same = plan_retest(versions, core_version=CORE, spec_version=SPEC, chunk_size=100, max_output_bytes=size)
    assert same.deferred == () and same.fan_out_json() == full.fan_out_json()
    less = plan_retest(versions, core_version=CORE, spec_version=SPEC, chunk_size=100, max_output_bytes=size - 1)
    assert len(less.chunks) == len(full.chunks) - 1 and len(less.fan_out_json()) <= size - 1
    assert less.deferred[0] == full.chunks[-1][0] and isinstance(less.deferred[0], RetestJob)
    assert plan_retest(versions, core_version=CORE, spec_version=SPEC, max_output_bytes=10).chunks == ()

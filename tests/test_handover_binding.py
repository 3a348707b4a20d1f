"""A hand-over is bound to the job that made it (issue 17): its artifact id and the sha256
of its file leave that job as job outputs; the store job downloads by that id and
`store-test-result --expect-sha256` refuses a file with another digest, e.g. an artifact
of the same name replaced or forged by another test job of the run."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from backoffice.context import Context
from backoffice.stage.stage import stage
from test_trust_handover import _bo, _env, _good, _one_line_error, _snapshot  # pyright: ignore[reportPrivateUsage]
from test_workflows import workflow


def test_a_replaced_hand_over_of_the_same_name_is_refused(local_ctx: Context, packages: dict[str, Path], tmp_path: Path) -> None:
    cid = stage(local_ctx, str(packages["dataset"]), uploader="jane@example.org", progress=False).concept_id
    token = local_ctx.concepts.get(cid).require_draft().token
    made = json.dumps(_good(cid, token))
    reported = hashlib.sha256(made.encode()).hexdigest()  # what the test job put into its outputs
    forged = _good(cid, token) | {"markdown": "all passed, trust me"}
    path = tmp_path / "run--x--draft--static" / "summary.json"
    path.parent.mkdir()
    path.write_text(json.dumps(forged))
    before = _snapshot(local_ctx)
    r = _bo(["store-test-result", cid, "draft", str(path), "--expect-step", "test", "--expect-sha256", reported],
            _env(local_ctx), tmp_path)
    _one_line_error(r, 14, "is not the hand-over its job made")
    assert _snapshot(local_ctx) == before
    path.write_text(made)
    r = _bo(["store-test-result", cid, "draft", str(path), "--expect-step", "test", "--expect-sha256", reported],
            _env(local_ctx), tmp_path)
    assert r.returncode == 0, r.stderr
    assert _snapshot(local_ctx) != before


def test_the_matrix_binds_each_hand_over_through_job_outputs() -> None:
    jobs = workflow("test_matrix.yaml")["jobs"]
    run, store = jobs["run"], jobs["store"]
    steps = {s.get("id"): s for s in run["steps"] if s.get("id")}
    upload, bind = steps["handover"], steps["bind"]
    assert upload["uses"].startswith("actions/upload-artifact@v4")
    assert bind["env"]["ARTIFACT_ID"] == "${{ steps.handover.outputs.artifact-id }}"
    # the entry's own index (the plan puts it into every entry; strategy.job-index is GitHub's only)
    assert run["env"]["LEG"] == "${{ matrix.index }}" and "job-index" not in json.dumps(jobs)
    assert f"sha256sum {upload['with']['path']}" in bind["run"] and '"h$LEG=$ARTIFACT_ID ' in bind["run"]
    # one output per matrix entry (GitHub merges a matrix's outputs by name): 256 entries at most
    assert run["outputs"] == {f"h{i}": f"${{{{ steps.bind.outputs.h{i} }}}}" for i in range(256)}
    assert store["env"]["HANDOVERS"] == "${{ toJSON(needs.run.outputs) }}"
    download = next(s for s in store["steps"] if str(s.get("uses", "")).startswith("actions/download-artifact@"))
    assert set(download["with"]) == {"artifact-ids", "path"} and download["if"] == "steps.ids.outputs.ids != ''"
    script = next(s["run"] for s in store["steps"] if "store-test-result" in s.get("run", ""))
    assert '--expect-sha256 "${bound#* }"' in script and "'.[$k] // \"\"'" in script
    assert "read -r index concept version weight_format" in script and "'.include[] | [.index, " in script


def test_the_validation_hand_over_is_bound_too() -> None:
    jobs = workflow("test.yaml")["jobs"]
    validate, record = jobs["validate"], jobs["record"]
    assert validate["outputs"]["handover_id"] == "${{ steps.bind.outputs.id }}"
    assert validate["outputs"]["handover_sha256"] == "${{ steps.bind.outputs.sha256 }}"
    download = next(s for s in record["steps"] if str(s.get("uses", "")).startswith("actions/download-artifact@"))
    assert download["with"]["artifact-ids"] == "${{ needs.validate.outputs.handover_id }}" and "name" not in download["with"]
    assert record["env"]["HANDOVER_SHA256"] == "${{ needs.validate.outputs.handover_sha256 }}"
    script = next(s["run"] for s in record["steps"] if "store-test-result" in s.get("run", ""))
    assert '--expect-sha256 "$HANDOVER_SHA256"' in script

"""The workflows keep secrets away from uploaded code and from whatever an upload names,
pass the dispatching account to the backoffice, grant `issues: write` only where a job
comments, queue every writer of a draft in one group, and lock test environments with
conda-lock, cached by the lock's hash."""

from __future__ import annotations

import json

import fnmatch
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from backoffice.context import Context
from test_workflows import REPO, WORKFLOW_FILES, load, parse_outputs, workflow

RUNS_UPLOADED_CODE = re.compile(
    r"backoffice (test|run-test|make-env|validate-format)\b|micromamba (create|install)|setup-micromamba|conda-lock")
"""Steps that install or run an upload's code, or fetch URLs it names."""


def _jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [(p.name, job_id, job) for p in WORKFLOW_FILES for job_id, job in load(p)["jobs"].items()]


def _step_text(step: dict[str, Any]) -> str:
    return str(step.get("run", "")) + " " + str(step.get("uses", ""))


def _holds_secret(job: dict[str, Any]) -> list[str]:
    texts = [str(job.get("env", {})), str(job.get("secrets", "")), str(job.get("with", ""))]
    texts += [str(step.get("env", {})) + str(step.get("with", {})) for step in job.get("steps") or []]
    return [t for t in texts if "secrets." in t or "github.token" in t or "GITHUB_TOKEN" in t]


def test_jobs_that_run_uploaded_code_hold_no_secret() -> None:
    seen = 0
    for file, job_id, job in _jobs():
        steps = job.get("steps") or []
        if not any(RUNS_UPLOADED_CODE.search(_step_text(s)) for s in steps):
            continue
        seen += 1
        where = f"{file} job {job_id}"
        assert not _holds_secret(job), f"{where} runs uploaded code and holds a secret: {_holds_secret(job)}"
        assert job.get("permissions") == {"contents": "read"}, f"{where}: token beyond contents: read"
        assert job["env"]["BACKOFFICE_STORAGE"] == "public", f"{where} must read the package from its public URLs"
        for step in steps:
            if str(step.get("uses", "")).startswith("actions/checkout@"):
                assert step.get("with", {}).get("persist-credentials") is False, f"{where}: checkout keeps the token"
            assert "backoffice test " not in str(step.get("run", "")), f"{where}: `backoffice test` stores with secrets"
            if "validate-format" in str(step.get("run", "")):
                assert "--handover-out" in step["run"], where
    assert seen >= 2  # the validation job and the test job


def test_jobs_with_secrets_run_no_uploaded_code() -> None:
    stores = 0
    for file, job_id, job in _jobs():
        if not _holds_secret(job):
            continue
        for step in job.get("steps") or []:
            assert not RUNS_UPLOADED_CODE.search(_step_text(step)), f"{file} job {job_id} step {step.get('name')}"
        stores += any("store-test-result" in str(s.get("run", "")) for s in job.get("steps") or [])
    assert stores == 2  # the validation and the test results


def test_hand_overs_go_from_the_jobs_without_secrets_to_the_store_jobs() -> None:
    matrix = workflow("test_matrix.yaml")["jobs"]
    upload = next(s for s in matrix["run"]["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    download = next(s for s in matrix["store"]["steps"] if str(s.get("uses", "")).startswith("actions/download-artifact@"))
    assert upload["if"] == "${{ !cancelled() }}" and matrix["store"]["needs"] == "run"
    name = upload["with"]["name"]
    # downloaded by the artifact ids the test jobs reported, found under their names
    assert download["with"]["artifact-ids"] == "${{ steps.ids.outputs.ids }}" and "pattern" not in download["with"]
    store_script = next(s["run"] for s in matrix["store"]["steps"] if "store-test-result" in s.get("run", ""))
    assert fnmatch.fnmatch(name, "${{ inputs.run_key }}--*") and '"handovers/$RUN_KEY--$index--' in store_script
    run_script = next(s["run"] for s in matrix["run"]["steps"] if "run-test" in s.get("run", ""))
    assert upload["with"]["path"] in run_script and "summary.json" in store_script
    test = workflow("test.yaml")["jobs"]
    assert test["record"]["needs"] == "validate"
    assert any("store-test-result" in s.get("run", "") for s in test["record"]["steps"])


def test_the_dispatching_account_reaches_the_backoffice_through_the_runner() -> None:
    """The CLI reads the runner's GITHUB_ACTOR_ID (`--acting-github-id`'s default); a workflow that
    passed `${{ github.actor_id }}` explicitly would override it with an empty value where the
    expression is empty (act), and every acting check would refuse."""
    from backoffice.cli.acting import acting_option

    assert acting_option().envvar == "GITHUB_ACTOR_ID"
    for name, command in (("publish.yaml", "publish"), ("request_changes.yaml", "request-changes"), ("stage.yaml", "stage"),
                          ("report_compatibility.yaml", "verify-reporter")):
        seen = False
        for job in workflow(name)["jobs"].values():
            assert "github.actor_id" not in json.dumps(job), name
            for step in job.get("steps") or []:
                calls = [ln for ln in step.get("run", "").splitlines() if f"backoffice {command} " in ln]
                seen = seen or bool(calls)
                assert not any("--acting-github-id" in ln or "--actor-id" in ln for ln in calls), name
        assert seen, name


def test_issue_write_only_in_the_comment_jobs() -> None:
    wf = workflow("upload_via_issue.yaml")
    assert "issues" not in wf["permissions"]
    writers = []
    for job_id, job in wf["jobs"].items():
        if (job.get("permissions") or {}).get("issues") == "write":
            writers.append(job_id)
            assert "BACKOFFICE_S3_SECRET_ACCESS_KEY" not in job.get("env", {}), job_id
            assert all("comment-issue" in s["run"] for s in job["steps"] if "backoffice" in s.get("run", "")), job_id
    assert sorted(writers) == ["comment-staged", "refuse", "report"]
    stage = wf["jobs"]["stage"]
    assert "BACKOFFICE_GITHUB_TOKEN" not in stage["env"] and "--comment-output" in stage["steps"][-1]["run"]


DRAFT_GROUP = "draft-${{ inputs.environment }}-${{ inputs.concept_id }}"
STAGING_GROUP = "draft-${{ inputs.environment }}-${{ needs.concept.outputs.concept_id || github.run_id }}"
"""Staging: the concept given or named in the description (resolved by the job `concept`), else a new one's run."""


def test_every_writer_of_a_draft_queues_in_one_group() -> None:
    groups: dict[str, Any] = {}
    for name in ("publish.yaml", "request_changes.yaml"):
        groups[name] = workflow(name)["concurrency"]
    groups["stage.yaml stage"] = workflow("stage.yaml")["jobs"]["stage"]["concurrency"]
    issue_stage = workflow("upload_via_issue.yaml")["jobs"]["stage"]["concurrency"]
    assert issue_stage["group"] == STAGING_GROUP.replace("inputs.environment", "vars.ISSUE_UPLOAD_ENVIRONMENT || 'production'")
    test = workflow("test.yaml")
    for job_id in ("record", "finish"):
        groups[f"test.yaml {job_id}"] = test["jobs"][job_id]["concurrency"]
    assert test["jobs"]["test"]["with"]["run_key"] == DRAFT_GROUP
    assert workflow("test_matrix.yaml")["jobs"]["store"]["concurrency"]["group"] == "${{ inputs.run_key }}"
    for where, group in groups.items():
        assert group["cancel-in-progress"] is False, where
        assert group["group"] in (DRAFT_GROUP, STAGING_GROUP), where
    # a called workflow taking its caller's group deadlocks: stage and test set theirs per job
    for name in ("stage.yaml", "test.yaml", "test_matrix.yaml"):
        assert "concurrency" not in workflow(name), name
    assert "retest-${{ github.run_id }}-${{ matrix.chunk }}" == workflow("retest_all.yaml")["jobs"]["retest"]["with"]["run_key"]


def test_conda_lock_and_the_cache_follow_the_rendered_file(local_ctx: Context, packages: dict[str, Path], tmp_path: Path) -> None:
    """make-env's outputs name the lock file the workflow locks into, caches by and creates from."""
    from backoffice.stage.stage import stage

    cid = stage(local_ctx, str(packages["model"]), uploader="github|4242", progress=False).concept_id
    s = local_ctx.settings
    out = tmp_path / "github_output"
    env = {**os.environ, "PYTHONPATH": str(REPO), "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out),
           "BACKOFFICE_LOCAL_ROOT": str(local_ctx.storage.root),  # type: ignore[attr-defined]
           "BACKOFFICE_CONFIG_PATH": str(s.config_path), "BACKOFFICE_COLLECTION_DIR": str(s.collection_dir),
           "BACKOFFICE_ENV_TEMPLATES_DIR": str(s.env_templates_dir)}
    job = workflow("test_matrix.yaml")["jobs"]["run"]
    steps = {s.get("id") or s.get("name"): s for s in job["steps"]}
    make_env = steps["env"]["run"]
    args = make_env.replace('"$CONCEPT_ID"', cid).replace('"$VERSION"', "draft").replace('"$WEIGHT_FORMAT"', "onnx")
    args = args.replace('"envs/$WEIGHT_FORMAT.yaml"', "envs/onnx.yaml").split()[1:]
    hashes = []
    for _ in range(2):
        out.write_text("")
        r = subprocess.run([sys.executable, "-m", "backoffice", *args], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
        assert r.returncode == 0, r.stderr
        outputs = parse_outputs(out.read_text())
        hashes.append(outputs["env_hash"])
    assert hashes[0] == hashes[1]  # the same description renders the same file: one lock, one cached environment
    assert (tmp_path / outputs["env_file"]).is_file() and outputs["lockfile"] == "envs/onnx.conda-lock.yml"
    lock = steps["lock"]
    assert lock["env"]["LOCKFILE"] == "${{ steps.env.outputs.lockfile }}" and lock["env"]["ENV_FILE"] == "${{ steps.env.outputs.env_file }}"
    assert 'conda-lock lock --micromamba --file "$ENV_FILE" --platform linux-64 --lockfile "$LOCKFILE"' in lock["run"]
    cache = steps["cache"]
    pattern = re.search(r"hashFiles\('([^']+)'\)", cache["with"]["key"])
    assert pattern and fnmatch.fnmatch(outputs["lockfile"], pattern.group(1))
    assert cache["with"]["path"] == "${{ env.ENV_PREFIX }}"
    create = next(s for s in job["steps"] if "micromamba create" in s.get("run", ""))
    assert "steps.cache.outputs.cache-hit != 'true'" in create["if"] and '--file "$LOCKFILE"' in create["run"]
    assert '--prefix "$ENV_PREFIX"' in create["run"]
    assert '--env-prefix "$ENV_PREFIX"' in next(s["run"] for s in job["steps"] if "run-test" in s.get("run", ""))


def test_the_nightly_download_count_queues_with_the_index() -> None:
    """count downloads writes the index files too: it waits in the index's group, never beside a generation."""
    downloads = workflow("count_downloads.yaml")["concurrency"]
    index = workflow("generate_collection_json.yaml")["concurrency"]
    assert downloads["group"] == index["group"] == "generate-collection-json-${{ inputs.environment || 'production' }}"
    assert downloads["cancel-in-progress"] is False

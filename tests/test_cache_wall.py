"""The Actions cache is no door between uploaded code and the jobs with secrets (issue 17).

Caches are shared by every job of every run on a ref. So, for every job of every workflow:
1. a job that holds a secret or a write token restores no cache at all;
2. a job that saves a cache runs no uploaded code: shared test environments are built
   (wheels only, as throwaway users) and saved by jobs that run no upload's code, and the
   jobs that run it only restore them.
The checker names the job that breaks a rule; it is tried on broken workflows too."""

from __future__ import annotations

import re
from typing import Any

import pytest

from test_workflows import WORKFLOW_FILES, load

RUNS_UPLOADED_CODE = re.compile(
    r"backoffice (test|run-test|run-partner-check)\b|micromamba (create|install)|conda-lock lock|"
    r"python3? -m venv|virtualenv|pip install -r|--env-manager")
"""Commands that run a resource's code or build its environment (sdists run code)."""

SANDBOXED = "scripts/sandbox.sh run "
SETUP_ACTIONS_WITH_CACHE = ("actions/setup-python@", "actions/setup-node@", "actions/setup-java@", "actions/setup-go@")


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    return list(job.get("steps") or [])


def _uses(step: dict[str, Any]) -> str:
    return str(step.get("uses", ""))


def _commands(step: dict[str, Any]) -> list[str]:
    """The step's script as one command a line (continuation lines joined)."""
    return [ln.strip() for ln in str(step.get("run", "")).replace("\\\n", " ").splitlines()]


def holds_secret_or_write_token(workflow: dict[str, Any], job: dict[str, Any]) -> str | None:
    """Why the job holds a secret or a token that can write, or None."""
    texts = [str(job.get("env", {})), str(job.get("with", {})), str(job.get("secrets", ""))]
    texts += [str(s.get("env", {})) + str(s.get("with", {})) + str(s.get("run", "")) for s in _steps(job)]
    for text in texts:
        for marker in ("secrets.", "github.token", "GITHUB_TOKEN"):
            if marker in text:
                return f"uses {marker}"
    if job.get("secrets") == "inherit":
        return "inherits secrets"
    permissions = job.get("permissions", workflow.get("permissions"))
    if permissions in ("write-all",) or permissions is None:
        return "has the default (write) token"
    if isinstance(permissions, dict) and any(v == "write" for v in permissions.values()):  # type: ignore[union-attr]
        return f"has write permissions {permissions}"
    return None


def _setup_cache(step: dict[str, Any]) -> bool:
    uses, with_ = _uses(step), step.get("with") or {}
    if uses.startswith("actions/setup-go@"):
        return with_.get("cache") is not False  # setup-go caches unless told not to
    if uses.startswith(SETUP_ACTIONS_WITH_CACHE):
        return bool(with_.get("cache"))
    if uses.startswith("mamba-org/setup-micromamba@"):
        return bool(with_.get("cache-environment") or with_.get("cache-downloads"))
    return False


def restores_cache(step: dict[str, Any]) -> bool:
    uses = _uses(step)
    return uses.startswith(("actions/cache@", "actions/cache/restore@")) or _setup_cache(step)


def saves_cache(step: dict[str, Any]) -> bool:
    uses = _uses(step)
    return uses.startswith(("actions/cache@", "actions/cache/save@")) or _setup_cache(step)


def runs_uploaded_code(step: dict[str, Any]) -> bool:
    """A step that runs an upload's code. Not: building an environment without running any of
    it, i.e. as a throwaway user (sandbox.sh) and, when it installs, from wheels only."""
    text = str(step.get("run", "")) + " " + _uses(step)
    if not RUNS_UPLOADED_CODE.search(text):
        return False
    lines = [ln for ln in _commands(step) if RUNS_UPLOADED_CODE.search(ln)]
    if "run-test" in text or "run-partner-check" in text or not all(ln.startswith(SANDBOXED) for ln in lines):
        return True
    installs = any(re.search(r"micromamba (create|install)", ln) for ln in lines)
    return installs and (step.get("env") or {}).get("PIP_ONLY_BINARY") != ":all:"


def cache_wall_violations(workflows: dict[str, dict[str, Any]]) -> list[str]:
    """Every break of the two rules, naming workflow file, job and step."""
    found: list[str] = []
    for file, wf in workflows.items():
        for job_id, job in (wf.get("jobs") or {}).items():
            where = f"{file} job {job_id}"
            secret = holds_secret_or_write_token(wf, job)
            code = [s.get("name") or s.get("run") for s in _steps(job) if runs_uploaded_code(s)]
            for step in _steps(job):
                name = step.get("name") or _uses(step)
                if secret and restores_cache(step):
                    found.append(f"{where} {secret} and restores a cache (step {name})")
                if code and saves_cache(step):
                    found.append(f"{where} runs uploaded code ({code[0]}) and saves a cache (step {name})")
    return found


ALL = {p.name: load(p) for p in WORKFLOW_FILES}


def test_no_job_breaks_the_cache_rules() -> None:
    assert cache_wall_violations(ALL) == []


def test_the_rules_see_every_kind_of_job() -> None:
    kinds = {"secret": 0, "code": 0, "saves": 0, "restores only": 0}
    for wf in ALL.values():
        for job in (wf.get("jobs") or {}).values():
            steps = _steps(job)
            kinds["secret"] += bool(holds_secret_or_write_token(wf, job)) and "steps" in job
            kinds["code"] += any(runs_uploaded_code(s) for s in steps)
            kinds["saves"] += any(saves_cache(s) for s in steps)
            kinds["restores only"] += any(restores_cache(s) for s in steps) and not any(saves_cache(s) for s in steps)
    # 16+ jobs with storage or mail secrets; the test and partner-check jobs run uploaded code;
    # the environment job saves; the test job only restores
    assert kinds["secret"] >= 16 and kinds["code"] >= 2 and kinds["saves"] == 1 and kinds["restores only"] == 1, kinds


def _with_step(file: str, job_id: str, step: dict[str, Any], index: int = 1) -> dict[str, dict[str, Any]]:
    import copy

    broken = copy.deepcopy(ALL)
    broken[file]["jobs"][job_id]["steps"].insert(index, step)
    return broken


@pytest.mark.parametrize(("file", "job_id", "step", "expected"), [
    ("publish.yaml", "publish", {"uses": "actions/setup-python@v5", "with": {"python-version": "3.11", "cache": "pip"}},
     "publish.yaml job publish uses secrets. and restores a cache"),
    ("test_matrix.yaml", "store", {"uses": "actions/cache/restore@v4", "with": {"path": "x", "key": "k"}},
     "test_matrix.yaml job store uses secrets. and restores a cache"),
    ("upload_via_issue.yaml", "refuse", {"uses": "actions/cache@v4", "with": {"path": "x", "key": "k"}},
     "upload_via_issue.yaml job refuse"),  # no storage secret, but an issues: write token
    ("test_matrix.yaml", "run", {"uses": "actions/cache/save@v4", "with": {"path": "x", "key": "k"}},
     "test_matrix.yaml job run runs uploaded code"),
    ("partner_checks.yaml", "check", {"uses": "actions/setup-python@v5", "with": {"cache": "pip"}},
     "partner_checks.yaml job check runs uploaded code"),
])
def test_the_checker_names_the_job_that_breaks_a_rule(file: str, job_id: str, step: dict[str, Any], expected: str) -> None:
    found = cache_wall_violations(_with_step(file, job_id, step))
    assert len(found) == 1 and found[0].startswith(expected), found


def test_an_environment_built_with_sdists_or_outside_the_sandbox_is_uploaded_code() -> None:
    import copy

    broken = copy.deepcopy(ALL)
    env_job = broken["test_matrix.yaml"]["jobs"]["env"]
    create = next(s for s in env_job["steps"] if "micromamba create" in str(s.get("run", "")))
    assert cache_wall_violations(broken) == []
    del create["env"]["PIP_ONLY_BINARY"]  # sdists would be built: their setup.py runs
    assert [v.split(" (")[0] for v in cache_wall_violations(broken)] == ["test_matrix.yaml job env runs uploaded code"]
    create["env"]["PIP_ONLY_BINARY"] = ":all:"
    create["run"] = create["run"].replace('scripts/sandbox.sh run "$BUILD_USER" ', "")
    assert len(cache_wall_violations(broken)) == 1


def test_the_test_job_restores_what_the_environment_job_saved() -> None:
    jobs = ALL["test_matrix.yaml"]["jobs"]
    save = next(s for s in jobs["env"]["steps"] if _uses(s).startswith("actions/cache/save@"))
    lookup = next(s for s in jobs["env"]["steps"] if _uses(s).startswith("actions/cache/restore@"))
    restore = next(s for s in jobs["run"]["steps"] if _uses(s).startswith("actions/cache/restore@"))
    assert lookup["with"]["lookup-only"] is True and save["with"]["key"] == "${{ steps.cache.outputs.cache-primary-key }}"
    assert lookup["with"]["key"] == restore["with"]["key"] and lookup["with"]["path"] == restore["with"]["path"]
    assert jobs["run"]["needs"] == "env" and jobs["env"]["strategy"] == jobs["run"]["strategy"]
    # everything of the upload's in the test job runs as the throwaway user, killed at the end of its step
    for step in jobs["run"]["steps"]:
        for line in _commands(step):
            if RUNS_UPLOADED_CODE.search(line):
                assert line.startswith(SANDBOXED), line

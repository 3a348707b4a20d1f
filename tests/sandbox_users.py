"""Throwaway Unix users for the sandbox tests (root only; else the test is skipped), and an
interpreter such a user may run that imports our packages."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from collections.abc import Generator
from contextlib import contextmanager
from pathlib import Path

import pytest

from backoffice.util.sandbox_user import run_as

REPO = Path(__file__).resolve().parents[1]


@contextmanager
def throwaway_user(name: str, home: bool = False) -> Generator[str]:
    """A user made for the test and removed after it (with `home`: a home folder of its own,
    as `scripts/sandbox.sh setup` makes them)."""
    if os.geteuid() != 0:
        pytest.skip("making a throwaway user needs root")
    if shutil.which("useradd") is None or shutil.which("pkill") is None:
        pytest.skip("needs useradd and pkill")
    where = ["--create-home"] if home else ["--no-create-home", "--home-dir", "/nonexistent"]
    subprocess.run(["useradd", *where, "--shell", "/usr/sbin/nologin", name], check=True)
    try:
        yield name
    finally:
        subprocess.run(["pkill", "-KILL", "-u", name], check=False)
        subprocess.run(["userdel", *(["--remove"] if home else []), name], check=False, capture_output=True)


@contextmanager
def python_for(user: str, imports: str) -> Generator[str]:
    """An interpreter `user` may run that imports `imports` (and the backoffice from REPO): ours,
    else (ours sits in a folder only root may enter) a venv of the system's python of the same
    version whose .pth names our site-packages."""
    probe = ["-I", "-c", f"import sys; sys.path.insert(0, sys.argv[1]); import {imports}", str(REPO)]
    if run_as(user, [sys.executable, *probe], timeout=60).ok:
        yield sys.executable
        return
    system = Path(f"/usr/bin/python{sys.version_info.major}.{sys.version_info.minor}")
    if not system.exists():
        pytest.skip(f"the sandbox user cannot run {sys.executable}, and there is no {system}")
    folder = Path(tempfile.mkdtemp(prefix="backoffice-sandbox-python-"))
    try:
        folder.chmod(0o755)
        subprocess.run([str(system), "-m", "venv", "--without-pip", str(folder / "venv")], check=True)
        python = folder / "venv" / "bin" / "python"
        site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
        (Path(site) / "ours.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
        if not run_as(user, [python, *probe], timeout=60).ok:
            pytest.skip(f"the sandbox user cannot import {imports} from {REPO}")
        yield str(python)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

"""The package type-checks in pyright's strict mode (basedpyright, from the test extra)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_backoffice_is_strictly_typed() -> None:
    exe = shutil.which("basedpyright", path=str(Path(sys.executable).parent)) or shutil.which("basedpyright")
    assert exe, "basedpyright is part of the test extra"
    r = subprocess.run([exe, "--pythonpath", sys.executable, "backoffice"], cwd=REPO, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-4000:]

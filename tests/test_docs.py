"""Generated reference docs (schemas, settings table) match the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_generated_docs_are_current() -> None:
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "generate_docs.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_readme_quick_start_has_the_two_commands_ci_runs() -> None:
    readme = (REPO / "README.md").read_text()
    assert "## Quick start" in readme
    ci = (REPO / ".ci" / "run").read_text()
    test_command = next(line for line in ci.splitlines() if "pytest" in line)
    assert test_command.strip() in readme
    assert "backoffice demo" in readme

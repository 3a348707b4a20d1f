"""Generated reference docs (schemas, settings table) match the code."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_generated_docs_are_current() -> None:
    r = subprocess.run([sys.executable, str(REPO / "scripts" / "generate_docs.py"), "--check"], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr  # the message names the command that regenerates them


def test_readme_quick_start_has_the_two_commands_ci_runs() -> None:
    readme = (REPO / "README.md").read_text()
    assert "## Quick start" in readme
    ci = (REPO / ".ci" / "run").read_text()
    test_command = next(line for line in ci.splitlines() if "pytest" in line)
    assert test_command.strip() in readme
    assert "backoffice demo" in readme


def test_the_readme_command_table_names_every_command_and_option() -> None:
    """The table is generated from the typer app (scripts/generate_docs.py): a row per command, with every option."""
    import typer.main

    from backoffice.cli import app

    readme = (REPO / "README.md").read_text()
    rows = {line.split("`")[1].split()[1]: line for line in readme.splitlines() if line.startswith("| `backoffice ")}
    group = typer.main.get_command(app)
    commands = getattr(group, "commands")
    assert len(commands) > 25
    for name, command in commands.items():
        assert name in rows, f"README.md has no row for `backoffice {name}`: run python scripts/generate_docs.py"
        for param in command.params:
            for opt in param.opts if param.param_type_name == "option" else ():
                assert opt in rows[name], f"the README row of `{name}` lacks {opt}: run python scripts/generate_docs.py"
        assert " ".join((command.help or "").split()).split(". ")[0] in rows[name]  # the command's help is its text

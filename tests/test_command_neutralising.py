"""Text from outside cannot issue workflow commands in the old form either: the runner
(ActionCommandManager) tries `::cmd::` at a line's start, then `##[cmd]` ANYWHERE in a line
(ActionCommand.TryParse: IndexOf("##[")), e.g. `##[add-mask]`, `##[set-output name=x]`,
`##[stop-commands]`."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path
from typing import Any

import pytest

from backoffice.log import CommandFreeStream, neutralise_commands
from cli_runner import cli_environ, run_backoffice

FORGED = "id x ##[set-output name=concept_id;]victim ###[add-mask]y"
V1 = re.compile(r"##\[")


def test_neutralise_breaks_the_old_form_anywhere_in_a_line() -> None:
    out = neutralise_commands(FORGED)
    assert not V1.search(out) and "set-output name=concept_id" in out


def test_console_stream_breaks_it_across_writes() -> None:
    sink = io.StringIO()
    stream = CommandFreeStream(lambda: sink)
    for part in ("title: #", "#", "[warning]forged\n", "##", "[add-mask]z\n"):
        stream.write(part)
    stream.flush()
    assert not V1.search(sink.getvalue()) and sink.getvalue().count("\n") == 2, sink.getvalue()


def test_logged_text_has_no_old_form(monkeypatch: pytest.MonkeyPatch) -> None:
    from backoffice.log import logger, setup_logging

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    setup_logging(logging.INFO)
    logger.info("mail %s", FORGED)
    logger.warning("mail %s", FORGED)
    assert not V1.search(stream.getvalue()) and "::warning::" in stream.getvalue()


def test_the_error_line_has_no_old_form(tmp_path: Path) -> None:
    r = run_backoffice(["status", "##[add-mask]abc"], cwd=tmp_path, env=cli_environ(BACKOFFICE_LOCAL_ROOT=str(tmp_path)))
    assert r.returncode != 0 and r.stderr.startswith("error:") and len(r.stderr.splitlines()) == 1, r.stderr
    assert not V1.search(r.stderr), r.stderr


def test_status_prints_logged_text_as_text(local_ctx: Any, run_cli: Any, tmp_path: Path) -> None:
    """A log message holds text from outside (the URL or path staged from): rich markup in it
    (`[/x]`) made `status` end in a MarkupError traceback, and `[link=...]` could restyle it."""
    import zipfile

    from backoffice.stage.stage import stage

    folder = tmp_path / "up[" / "x][bold]"  # the path reads `up[/x][bold]`
    folder.mkdir(parents=True)
    with zipfile.ZipFile(folder / "p.zip", "w") as zf:
        zf.writestr("rdf.yaml", 'type: model\nname: m\nversion: "1.0"\n')
    cid = stage(local_ctx, str(folder / "p.zip"), uploader="jane@example.org", progress=False).concept_id
    r = run_cli(["status", cid], settings=local_ctx.settings)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "up[/x][bold]" in r.stdout

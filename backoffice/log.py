"""Logging: GitHub annotations and log groups inside Actions, plain logging outside.
A filter masks every secret value set in the settings."""

from __future__ import annotations

import io
import logging
import os
import sys
from collections.abc import Callable, Generator
from contextlib import contextmanager
from typing import TextIO

logger = logging.getLogger("backoffice")


def in_github_actions() -> bool:
    return os.environ.get("GITHUB_ACTIONS") == "true"


class SecretFilter(logging.Filter):
    """Replaces secret values in every log record by `***`."""

    def __init__(self, secrets: list[str]) -> None:
        super().__init__()
        self.secrets = [s for s in secrets if s]

    def filter(self, record: logging.LogRecord) -> bool:
        if self.secrets:
            text = record.getMessage()
            for s in self.secrets:
                text = text.replace(s, "***")
            record.msg, record.args = text, None
        return True


def neutralise_commands(text: str) -> str:
    """`text` with no line starting a GitHub workflow command: a line whose first non-blank
    characters are `::` (text from e-mails or uploads, a folded Subject) gets `: :` instead.
    Every line break Python knows counts (`\r` alone, U+2028, ...)."""
    if "::" not in text:
        return text
    out: list[str] = []
    for line in text.splitlines(keepends=True):
        body = line.lstrip()
        if body.startswith("::"):
            line = line[: len(line) - len(body)] + ": :" + body[2:]
        out.append(line)
    return "".join(out)


class CommandFreeStream(io.TextIOBase):
    """A text stream (the current `sys.stdout` by default) that neutralises workflow commands
    in what is written to it (see `neutralise_commands`); the CLI's console prints through it.
    Our own commands (`::group::`, outputs) go to the real streams or files, never through it."""

    def __init__(self, target: Callable[[], TextIO] = lambda: sys.stdout) -> None:
        super().__init__()
        self._target = target
        self._at_line_start = True
        self._pending = ""

    def writable(self) -> bool:
        return True

    def write(self, s: str) -> int:
        text = self._pending + s
        self._pending = ""
        if self._at_line_start and text.strip(" \t") == ":":  # one ':' so far: wait for the next character
            self._pending = text
            return len(s)
        if not self._at_line_start:  # the line began in an earlier write: only later lines can start a command
            head, sep, rest = text.partition("\n")
            text = head + sep + neutralise_commands(rest) if sep else text
        else:
            text = neutralise_commands(text)
        if text:
            self._target().write(text)
            self._at_line_start = text.endswith(("\n", "\r"))
        return len(s)

    def flush(self) -> None:
        if self._pending:
            self._target().write(self._pending)
            self._pending = ""
        self._target().flush()


class _ActionsFormatter(logging.Formatter):
    """Warnings and errors become `::warning::` / `::error::` annotations; no logged line
    starts a workflow command of its own (the one place logging goes out)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.ERROR:
            return f"::error::{neutralise_commands(escape_annotation(text))}"
        if record.levelno >= logging.WARNING:
            return f"::warning::{neutralise_commands(escape_annotation(text))}"
        return neutralise_commands(text)


def escape_annotation(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def setup_logging(level: int = logging.INFO, secrets: list[str] | None = None) -> None:
    """Configure the `backoffice` logger once per process."""
    handler = logging.StreamHandler(sys.stderr)
    if in_github_actions():
        handler.setFormatter(_ActionsFormatter("%(message)s"))
    else:
        handler.setFormatter(logging.Formatter("%(levelname)s %(name)s: %(message)s"))
    handler.addFilter(SecretFilter(secrets or []))
    logger.handlers[:] = [handler]
    logger.setLevel(level)
    logger.propagate = False


@contextmanager
def log_group(title: str) -> Generator[None, None, None]:
    """A collapsible group in the Actions log; a plain heading elsewhere."""
    if in_github_actions():
        print(f"::group::{title}", file=sys.stderr, flush=True)
        try:
            yield
        finally:
            print("::endgroup::", file=sys.stderr, flush=True)
    else:
        logger.info("== %s ==", title)
        yield

"""Logging: GitHub annotations and log groups inside Actions, plain logging outside.
A filter masks every secret value set in the settings."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Generator
from contextlib import contextmanager

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


class _ActionsFormatter(logging.Formatter):
    """Warnings and errors become `::warning::` / `::error::` annotations."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        if record.levelno >= logging.ERROR:
            return f"::error::{escape_annotation(text)}"
        if record.levelno >= logging.WARNING:
            return f"::warning::{escape_annotation(text)}"
        return text


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

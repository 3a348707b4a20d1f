"""Helpers shared by the command modules."""

from __future__ import annotations

import logging

from pydantic import ValidationError
from rich.console import Console

from ..config.errors import config_error

from ..context import Context
from ..log import in_github_actions, log_group, logger, setup_logging
from ..settings import Settings

console = Console(highlight=False, soft_wrap=True)
VERBOSE = False
"""Set by the global `--verbose` option."""


def make_context() -> Context:
    """Read settings, set up logging (secrets masked) and log the settings at start:
    in a collapsed group on GitHub Actions, at debug level (`--verbose`) elsewhere."""
    try:
        settings = Settings()
    except ValidationError as e:
        raise config_error("settings (BACKOFFICE_* environment variables / .env)", e) from None
    setup_logging(logging.DEBUG if VERBOSE else logging.INFO, settings.secret_values())
    described = settings.describe()
    if in_github_actions():
        with log_group("backoffice settings"):
            for name, value in described.items():
                logger.info("%s = %s", name, value)
    else:
        for name, value in described.items():
            logger.debug("setting %s = %s", name, value)
    return Context(settings)

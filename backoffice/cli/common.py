"""Helpers shared by the command modules."""

from __future__ import annotations

import logging

from rich.console import Console

from ..context import Context
from ..log import logger, setup_logging
from ..settings import Settings

console = Console(highlight=False, soft_wrap=True)


def make_context(verbose: bool = False) -> Context:
    """Read settings, set up logging (secrets masked), describe the settings in the log."""
    settings = Settings()
    setup_logging(logging.DEBUG if verbose else logging.INFO, settings.secret_values())
    for name, value in settings.describe().items():
        logger.debug("setting %s = %s", name, value)
    return Context(settings)

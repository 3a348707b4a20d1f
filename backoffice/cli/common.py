"""Helpers shared by the command modules.

The command modules import the pipeline inside each command, not at their top, so that
`backoffice --help` (and a mistyped command) answers without loading pydantic models,
bioimageio or boto3 (see `tests/test_layers.py` and `docs/benchmarks.md`).
"""

from __future__ import annotations

import logging
from typing import IO, TYPE_CHECKING, cast

from rich.console import Console

from ..log import CommandFreeStream, in_github_actions, log_group, logger, setup_logging

if TYPE_CHECKING:
    from ..context import Context

console = Console(file=cast(IO[str], CommandFreeStream()), highlight=False, soft_wrap=True, markup=False, emoji=False)
"""What commands print: text from e-mails or uploads never starts a workflow command line, and
is printed as it is: no rich markup (`[red]`) and no emoji codes (`fiji:Fiji:` is no flag).
Styles are given as `rich.text.Text` spans, never written into the text."""
VERBOSE = False
"""Set by the global `--verbose` option."""


def make_context() -> Context:
    """Read settings, set up logging (secrets masked) and log the settings at start:
    in a collapsed group on GitHub Actions, at debug level (`--verbose`) elsewhere."""
    from pydantic import ValidationError

    from ..config.errors import config_error
    from ..context import Context
    from ..settings import Settings

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

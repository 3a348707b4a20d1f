"""The arguments and options shared by the commands that run a test (`test`, `run-test`),
declared once, and the check of their combination."""

from __future__ import annotations

from pathlib import Path

import typer

from ..dynamic.environments import DEFAULT_TIMEOUT, EnvManagerName
from ..errors import InvalidArgumentError
from .choices import WHICH_HELP, choice_of, draft_or_version, positive_seconds

CONCEPT_ID = typer.Argument(..., help="Concept id.")
WHICH = typer.Argument("draft", help=WHICH_HELP, parser=draft_or_version)
WEIGHT_FORMAT = typer.Argument(None, help="Weight format to test (models); omit for static checks only (datasets, notebooks, applications).")
ENV_MANAGER = typer.Option(
    "current", "--env-manager", parser=choice_of(EnvManagerName, "--env-manager"),
    help="Where the test runs: current (this interpreter), venv (a virtualenv built with pip from the"
    " weight format's env template) or micromamba (a conda env made from it).",
)
ENV_PREFIX = typer.Option(
    None, "--env-prefix",
    help="Use the environment already created at this prefix (e.g. by the workflow's micromamba step)"
    " instead of building one; a missing one yields a failed summary saying so.",
)
TIMEOUT = typer.Option(DEFAULT_TIMEOUT, "--timeout", parser=positive_seconds, help="Seconds before the test is stopped (above 0).")


def check_env_prefix(env_manager: EnvManagerName, env_prefix: Path | None) -> None:
    """`--env-prefix` names an environment made by a manager: not with `current`."""
    if env_prefix is not None and env_manager == "current":
        raise InvalidArgumentError("--env-prefix needs --env-manager venv or micromamba (the manager that made it)")

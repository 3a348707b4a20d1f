"""The `backoffice` command line. Errors are caught once, in `main`."""

from __future__ import annotations

import sys

import typer

from ..errors import BackofficeError
from . import (
    backup_cmds,
    common,
    dynamic_cmds,
    env_cmds,
    gh_cmds,
    handover_cmds,
    import_cmds,
    info_cmds,
    mail_cmds,
    partner_cmds,
    pipeline_cmds,
    review_cmds,
    stage_cmds,
)

app = typer.Typer(
    name="backoffice",
    help="Backoffice of the bioimage.io collection: stage, validate, test, review, publish, back up and index resources.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.callback()
def _options(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Log debug details, including every setting (secrets masked)."),
) -> None:
    """Backoffice of the bioimage.io collection."""
    common.VERBOSE = verbose


info_cmds.register(app)
stage_cmds.register(app)
pipeline_cmds.register(app)
dynamic_cmds.register(app)
env_cmds.register(app)
review_cmds.register(app)
gh_cmds.register(app)
backup_cmds.register(app)
partner_cmds.register(app)
mail_cmds.register(app)
handover_cmds.register(app)
import_cmds.register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a BackofficeError becomes one line on stderr and its exit code.

    Usage errors are click's (usage line, exit code 2); anything else is a bug and
    shows its traceback.
    """
    try:
        app(args=argv, standalone_mode=True)
    except BackofficeError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)

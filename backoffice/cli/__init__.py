"""The `backoffice` command line. Errors are caught once, in `main`."""

from __future__ import annotations

import sys

import click
import typer

from ..errors import BackofficeError
from . import info_cmds, pipeline_cmds, review_cmds, stage_cmds, test_cmds
from . import env_cmds

app = typer.Typer(
    name="backoffice",
    help="Backoffice of the bioimage.io collection: stage, validate, test, review, publish, back up and index resources.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
info_cmds.register(app)
stage_cmds.register(app)
pipeline_cmds.register(app)
test_cmds.register(app)
env_cmds.register(app)
review_cmds.register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a BackofficeError becomes one line on stderr and its exit code."""
    try:
        app(args=argv, standalone_mode=False)
    except BackofficeError as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        print("aborted", file=sys.stderr)
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(e.exit_code)
    except click.exceptions.Exit as e:
        sys.exit(e.exit_code)
    sys.exit(0)

"""The `backoffice` command line. Errors are caught once, in `main`."""

from __future__ import annotations

import sys

import typer

from ..errors import BackofficeError
from ..log import break_old_commands
from . import (
    backup_cmds,
    common,
    compare_cmds,
    downloads_cmds,
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
compare_cmds.register(app)
downloads_cmds.register(app)


def main(argv: list[str] | None = None) -> None:
    """Run the CLI; a BackofficeError becomes one line on stderr and its exit code.

    A usage error (unknown option, a value of the wrong type, a missing argument) is one
    `error:` line too, with click's exit code 2 (no usage box); anything else is a bug and
    shows its traceback.
    """
    from typer._click.exceptions import NoArgsIsHelpError, UsageError  # pyright: ignore[reportPrivateUsage]

    try:
        result = app(args=argv, standalone_mode=False)
    except BackofficeError as e:
        print(f"error: {break_old_commands(str(e))}", file=sys.stderr)
        sys.exit(e.exit_code)
    except NoArgsIsHelpError as e:
        e.show()  # `backoffice` alone, or a command group without its arguments: the help
        sys.exit(e.exit_code)
    except typer.TyperException as e:  # click's usage errors, as typer vendors them
        command = e.ctx.command_path if isinstance(e, UsageError) and e.ctx is not None else "backoffice"
        message = " ".join(e.format_message().split())
        print(f"error: {break_old_commands(message)} (see `{command} --help`)", file=sys.stderr)
        sys.exit(e.exit_code)
    except typer.Abort:
        print("error: aborted", file=sys.stderr)
        sys.exit(1)
    sys.exit(result if isinstance(result, int) else 0)

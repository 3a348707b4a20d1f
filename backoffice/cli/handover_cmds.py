"""`backoffice run-test` (no secrets, runs uploaded code, writes a hand-over) and
`backoffice store-test-result` (with secrets, runs no uploaded code, stores it)."""

from __future__ import annotations

from pathlib import Path

import typer

from ..dynamic.environments import EnvManagerName, current_env
from ..errors import InvalidArgumentError
from ..gh_actions import append_summary, set_outputs
from ..log import in_github_actions
from ..util.take_over import MAX_TAKE_OVER_BYTES
from .choices import WHICH_HELP, draft_or_version
from . import testing_options
from .common import console, make_context


def register(app: typer.Typer) -> None:
    app.command("run-test")(run_test)
    app.command("store-test-result")(store_test_result)
    app.command("take-over")(take_over)


def run_test(
    concept_id: str = testing_options.CONCEPT_ID,
    out: Path = typer.Option(..., "--out", help="Write the hand-over (JSON) here, for `backoffice store-test-result`."),
    which: str = testing_options.WHICH,
    weight_format: str | None = testing_options.WEIGHT_FORMAT,
    env_manager: EnvManagerName = testing_options.ENV_MANAGER,
    env_prefix: Path | None = testing_options.ENV_PREFIX,
    timeout: float = testing_options.TIMEOUT,
) -> None:
    """Test without storing (no secrets allowed): read the package from its public URL, write a hand-over."""
    from ..dynamic.env_builders import environment_for_test
    from ..dynamic.handover_run import refuse_secrets, run_test_for_handover
    from ..records.handover import write_handover

    testing_options.check_env_prefix(env_manager, env_prefix)
    ctx = make_context()
    refuse_secrets(ctx)
    env = (environment_for_test(ctx, concept_id, which, weight_format, env_manager, env_prefix)
           if weight_format else current_env())
    handover = run_test_for_handover(ctx, concept_id, which, weight_format, env, timeout=timeout)
    write_handover(handover, out)
    set_outputs({"status": handover.status})
    append_summary(handover.markdown)
    console.print(f"{concept_id} {which} {weight_format or '(static)'}: {handover.status}; hand-over in {out}")


def store_test_result(
    concept_id: str = typer.Argument(..., help="Concept id."),
    which: str = typer.Argument(..., help=WHICH_HELP, parser=draft_or_version),
    file: Path = typer.Argument(..., help="The hand-over written by `run-test` or `validate-format --handover-out`."),
    actor: str | None = typer.Option(None, "--actor", help="Who asked for it (for the log)."),
    expect_step: str | None = typer.Option(
        None, "--expect-step", help="The step the job that made the hand-over ran (`test` or `validate-format`); another is refused."),
    expect_weight_format: str | None = typer.Option(
        None, "--expect-weight-format",
        help="The weight format the job that made the hand-over tested (empty: static checks only); another is refused."),
    expect_sha256: str | None = typer.Option(
        None, "--expect-sha256",
        help="The sha256 of the hand-over its job reported (job outputs); a replaced or forged file is refused."),
) -> None:
    """Check a hand-over (size, shape, that it is this draft or version) and store its report."""
    from ..dynamic.handover_store import store_handover
    from ..records.handover import parse_handover

    handover = parse_handover(file, expect_sha256=expect_sha256)
    if expect_step is not None and handover.step != expect_step:
        raise InvalidArgumentError(f"{file}: the hand-over is of step '{handover.step}', this job expects '{expect_step}'")
    if expect_weight_format is not None and (handover.weight_format or "") != expect_weight_format:
        raise InvalidArgumentError(f"{file}: the hand-over tested '{handover.weight_format or 'static checks'}',"
                                   f" this job expects '{expect_weight_format or 'static checks'}'")
    ctx = make_context()
    stored = store_handover(ctx, concept_id, which, handover, actor=actor)
    set_outputs({"status": stored.status, "report": stored.report_name})
    if not in_github_actions() and stored.first_error:
        console.print(stored.first_error, markup=False)
    what = handover.weight_format or ("static validation" if handover.step == "validate-format" else "(static)")
    console.print(f"{concept_id} {which} {what}: stored {stored.report_name} ({stored.status})")
    if handover.step == "validate-format" and stored.status == "failed":
        from ..errors import ValidationFailedError
        from ..index.generate import generate_index
        from ..records.weight_scan import scan_reason

        if which == "draft":  # the draft left testing: the reviewers' list must say so
            generate_index(ctx, "draft")
        raise ValidationFailedError(f"{concept_id} {which}: static validation failed" + scan_reason(handover.weight_scan)
                                    + ("; changes requested from the uploader" if which == "draft" else ""))


def take_over(
    into: Path = typer.Option(..., "--into", help="Existing folder to unpack into."),
    source: Path | None = typer.Option(None, "--from", help="The tar file (default: standard input)."),
    max_bytes: int = typer.Option(
        MAX_TAKE_OVER_BYTES, "--max-bytes", min=0, help="Most bytes taken over, all files together."),
) -> None:
    """Take a sandboxed run's output over (`scripts/sandbox.sh run --out`): unpack a tar made as
    the sandbox user, regular files and folders only; a link, device, name outside the folder or
    too many bytes is refused."""
    import sys

    from ..util.take_over import take_over as unpack

    if source is not None and not source.is_file():
        raise InvalidArgumentError(f"--from {source}: no such file")
    with source.open("rb") if source is not None else sys.stdin.buffer as stream:
        done = unpack(stream, into, max_bytes)
    for name in done.files:
        console.print(f"took over {name}", markup=False)
    for line in done.refused:
        console.print(f"refused: {line}", markup=False)
    if done.refused:
        raise InvalidArgumentError(f"{len(done.refused)} entries of the run's output refused, first: {done.refused[0]}")

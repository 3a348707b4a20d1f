"""`backoffice test`, `backoffice finish-testing` and `backoffice serve`."""

from __future__ import annotations

from pathlib import Path

import typer

from ..dynamic.environments import EnvManagerName
from ..errors import InvalidArgumentError
from ..gh_actions import append_summary, set_outputs
from ..log import in_github_actions
from . import testing_options
from .choices import port_number
from .common import console, make_context


def register(app: typer.Typer) -> None:
    app.command("test")(test)
    app.command("finish-testing")(finish_testing)
    app.command("serve")(serve)


def test(
    concept_id: str = testing_options.CONCEPT_ID,
    which: str = testing_options.WHICH,
    weight_format: str | None = testing_options.WEIGHT_FORMAT,
    env_manager: EnvManagerName = testing_options.ENV_MANAGER,
    env_prefix: Path | None = testing_options.ENV_PREFIX,
    timeout: float = testing_options.TIMEOUT,
    actor: str | None = typer.Option(None, "--actor", help="Who asked for it (for the log)."),
) -> None:
    """Run bioimageio.core's test of one weight format and store the report."""
    from ..dynamic.env_builders import environment_for_test
    from ..dynamic.run import run_static_only_test, run_weight_format_test

    ctx = make_context()
    if weight_format is None:
        outcome = run_static_only_test(ctx, concept_id, which, actor=actor)
    else:
        testing_options.check_env_prefix(env_manager, env_prefix)
        env = environment_for_test(ctx, concept_id, which, weight_format, env_manager, env_prefix)
        outcome = run_weight_format_test(ctx, concept_id, which, weight_format, env, timeout=timeout, actor=actor)
    verdict = outcome.verdict
    set_outputs({"status": outcome.status, "report": outcome.report_name,
                 "runs": "" if verdict is None else str(verdict.runs).lower(),
                 "reproduces": "" if verdict is None else str(verdict.reproduces).lower()})
    append_summary(outcome.markdown)
    if not in_github_actions() and outcome.first_error:
        console.print(outcome.first_error, markup=False)
    elif verdict is not None and verdict.reason:
        console.print(verdict.reason, markup=False)
    where = (verdict.hardware if verdict is not None else None) or outcome.device
    console.print(f"{concept_id} {which} {weight_format or '(static)'}: {outcome.status}"
                  + (f" ({outcome.verdict_text()})" if verdict is not None else "") + (f" on {where}" if where else ""),
                  markup=False)


def finish_testing(
    concept_id: str = typer.Argument(..., help="Concept id."),
) -> None:
    """Move a draft whose tests are done to `awaiting review` (the test workflow's last job)."""
    from ..dynamic.run import maybe_finish_testing
    from ..records.target import resolve_target

    ctx = make_context()
    target = resolve_target(ctx.concepts, concept_id, "draft")
    finished = maybe_finish_testing(ctx, target, force=True)
    status = ctx.concepts.get(concept_id).require_draft().status.value
    console.print(f"{concept_id}: draft is {status}" + ("" if finished else " (unchanged)"))


def serve(
    port: int | None = typer.Option(None, "--port", parser=port_number, help="Port on 127.0.0.1, 1 to 65535 (default: the serve_port setting)."),
) -> None:
    """Serve the store over HTTP on 127.0.0.1 (index URLs resolve; bioimageio.spec loads by id)."""
    from ..serve.server import index_url_root, make_server, rebase_for

    ctx = make_context()
    port = port or ctx.settings.serve_port
    served = f"http://127.0.0.1:{port}"
    # the index's links name the port it was generated for: served on another one, they are rewritten to it
    rebase = None if ctx.settings.public_base_url else rebase_for(index_url_root(ctx.storage), served)
    try:
        server = make_server(ctx.storage, port=port, rebase=rebase)
    except OSError as e:  # the port is taken, or not ours to use
        raise InvalidArgumentError(f"cannot serve on 127.0.0.1:{port}: {e.strerror or e}") from None
    console.print(f"serving {ctx.storage.describe()} at {served} (Ctrl+C stops)", markup=False)
    if rebase is not None:
        console.print(f"the index's links name {rebase.old}: its JSON files are served with {served} instead", markup=False)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()

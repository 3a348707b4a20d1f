"""The `--acting-github-id` option of steps that act for a person, and its check."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from ..log import in_github_actions, logger

if TYPE_CHECKING:
    from ..context import Context
    from ..review.identity import VerifiedActor


def acting_option() -> str | None:
    return typer.Option(
        None, "--acting-github-id", envvar="GITHUB_ACTOR_ID",
        help="Numeric id of the GitHub account that dispatched this step (default: the runner's GITHUB_ACTOR_ID);"
        " it must be the person named, or the configured website bot. Required on GitHub Actions.",
    )


def verified(ctx: Context, step: str, claimed: str, acting_github_id: str | None) -> VerifiedActor:
    """Check who acts and return the verdict; writes nothing (a refusal leaves the store as it
    was: the `error:` line and the run's log say who was refused). A step that then succeeds
    logs the verdict on its concept with `log_verified`."""
    from ..review.identity import verify_actor

    result = verify_actor(ctx.config, claimed, acting_github_id, on_github_actions=in_github_actions())
    if acting_github_id or in_github_actions():
        logger.info("%s for %s: %s", step, result.actor, result.how)
    else:
        logger.debug("%s for %s: %s", step, result.actor, result.how)
    return result


def log_verified(ctx: Context, concept_id: str, step: str, result: VerifiedActor) -> None:
    """Log on the concept how the actor of a step that succeeded was verified."""
    ctx.record_step(concept_id, "verify-actor", f"{step} for {result.actor}: {result.how}", actor=result.actor)

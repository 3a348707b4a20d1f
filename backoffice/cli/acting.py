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


def verified(ctx: Context, concept_id: str | None, step: str, claimed: str, acting_github_id: str | None) -> VerifiedActor:
    """Check who acts; log the verdict on the concept (refusals too), then return it."""
    from ..review.identity import verify_actor

    on_actions = in_github_actions()
    exists = concept_id is not None and ctx.concepts.find(concept_id) is not None
    try:
        result = verify_actor(ctx.config, claimed, acting_github_id, on_github_actions=on_actions)
    except Exception as e:
        if exists and concept_id is not None:
            ctx.record_step(concept_id, step, f"refused: {e}", actor=claimed)
        raise
    if acting_github_id or on_actions:
        logger.info("%s for %s: %s", step, result.actor, result.how)
    else:
        logger.debug("%s for %s: %s", step, result.actor, result.how)
    if exists and concept_id is not None:
        ctx.record_step(concept_id, "verify-actor", f"{step} for {result.actor}: {result.how}", actor=result.actor)
    return result

"""Who acts: the person a step names (reviewer, chat author, uploader) must be the one
who dispatched it on GitHub (`github.actor_id`), unless the website bot dispatched it
on behalf of a person the website authenticated.

Pure: the config, the claimed id and the dispatching account in, a verdict out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..config.collection_config import CollectionConfig
from ..errors import InvalidArgumentError, PermissionDeniedError

_NUMERIC = re.compile(r"^[0-9]{1,20}$")


@dataclass(frozen=True)
class VerifiedActor:
    """The person a step acts for, and how that was established (for the log)."""

    actor: str
    how: str


def verify_actor(
    config: CollectionConfig, claimed: str, acting_github_id: str | None, *, on_github_actions: bool
) -> VerifiedActor:
    """Accept `claimed` only if the dispatching account is `claimed` itself or the website bot.

    `acting_github_id` is the numeric id GitHub gives the account that dispatched the
    workflow (`github.actor_id`). Without one the step runs locally (whoever runs it holds
    the storage credentials already); on GitHub Actions it is required.
    """
    if acting_github_id is None or not acting_github_id.strip():
        if on_github_actions:
            raise PermissionDeniedError(
                f"cannot act as '{claimed}': the dispatching GitHub account is unknown (pass github.actor_id as GITHUB_ACTOR_ID)"
            )
        return VerifiedActor(claimed, "local run: identity not verified (no dispatching GitHub account)")
    acting_github_id = acting_github_id.strip()
    if not _NUMERIC.fullmatch(acting_github_id):
        raise InvalidArgumentError(f"the acting GitHub id must be a number, not '{acting_github_id}'")
    acting = f"github|{acting_github_id}"
    if acting == claimed:
        return VerifiedActor(claimed, f"verified: dispatched by {acting} itself")
    bot = config.website_bot
    if bot is not None and acting == bot.id:
        return VerifiedActor(claimed, f"dispatched by the website bot {bot.id} ({bot.name}) for {claimed}, whom the website authenticated")
    raise PermissionDeniedError(f"{acting} dispatched this step and may not act as '{claimed}'")

"""Who may hand in a partner's reports (the report_compatibility workflow asks before it
downloads anything). The identity comes from GitHub's event (`github.actor_id`) and the
config, never from a workflow input.

- reports by URL: the dispatching GitHub user must be one of the partner's `reporters.github_ids`;
- reports as an artifact: the artifact is downloaded from a run in the partner's declared
  repository (`dispatch.repository` or `reporters.repositories`), chosen from the config:
  the reports are the partner's by construction. The dispatching user must be declared too,
  unless the partner declares no user at all (then any user allowed to dispatch our workflow may relay them).
"""

from __future__ import annotations

from typing import Literal

from ..config.collection_config import Partner
from ..errors import PermissionDeniedError

Mode = Literal["url", "artifact"]


def reporter_repository(partner: Partner) -> str | None:
    """The repository whose runs' artifacts are accepted as the partner's reports."""
    if partner.reporters.repositories:
        return partner.reporters.repositories[0]
    return partner.dispatch.repository if partner.dispatch else None


def verify_reporter(partner: Partner, actor_id: int, mode: Mode) -> str | None:
    """The repository to download from (artifact mode), or PermissionDeniedError."""
    declared = actor_id in partner.reporters.github_ids
    if mode == "url":
        if not declared:
            raise PermissionDeniedError(
                f"GitHub user {actor_id} may not hand in reports of '{partner.id}' by URL"
                f" (declared: {', '.join(map(str, partner.reporters.github_ids)) or 'nobody'})")
        return None
    repo = reporter_repository(partner)
    if repo is None:
        raise PermissionDeniedError(f"partner '{partner.id}' declares no repository to take report artifacts from")
    if partner.reporters.github_ids and not declared:
        raise PermissionDeniedError(f"GitHub user {actor_id} may not hand in reports of '{partner.id}'")
    return repo

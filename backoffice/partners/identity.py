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

from collections.abc import Mapping
from typing import Any, Literal, cast

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


REPORT_EVENTS = frozenset({"workflow_dispatch", "schedule", "push", "repository_dispatch"})
"""Events whose runs may hand in reports: not `pull_request*` (a fork's code runs there)."""


def check_report_run(partner: Partner, repository: str, run: Mapping[str, Any]) -> None:
    """The run whose artifact holds the reports (GitHub's `GET /repos/{repository}/actions/runs/{id}`)
    must be of the partner's repository, its declared workflow file, on its declared branch, and
    started by an event that runs the repository's own code; else PermissionDeniedError."""
    workflow = partner.reporters.workflow or (partner.dispatch.workflow if partner.dispatch else None)
    branch = partner.reporters.branch or (partner.dispatch.ref if partner.dispatch else "main")
    run_id = run.get("id", "?")
    if workflow is None:
        raise PermissionDeniedError(f"partner '{partner.id}' declares no workflow whose runs may hand in reports")
    repo_of_run = _full_name(run.get("repository"))
    head_repo = _full_name(run.get("head_repository")) or repo_of_run
    if repo_of_run.lower() != repository.lower() or head_repo.lower() != repository.lower():
        raise PermissionDeniedError(f"run {run_id} is not a run of {repository}'s own code (run of {repo_of_run}, code of {head_repo})")
    path = str(run.get("path", "")).split("@", 1)[0]
    if path != f".github/workflows/{workflow}":
        raise PermissionDeniedError(f"run {run_id} is of {path or 'an unknown workflow'}, not {workflow}, the workflow of '{partner.id}'")
    event = str(run.get("event", ""))
    if event not in REPORT_EVENTS:
        raise PermissionDeniedError(f"run {run_id} was started by a {event or 'unknown'} event; reports come only from "
                                    + ", ".join(sorted(REPORT_EVENTS)) + " runs")
    if str(run.get("head_branch", "")) != branch:
        raise PermissionDeniedError(f"run {run_id} ran on branch '{run.get('head_branch')}', not '{branch}'")


def _full_name(repository: Any) -> str:
    """`owner/name` of a repository object of the GitHub API ('' if there is none)."""
    if isinstance(repository, Mapping):
        return str(cast(Mapping[str, Any], repository).get("full_name", ""))
    return ""

"""Dispatching partner checks against the stored collection (the plan is `dispatch.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..context import Context
from ..log import logger
from ..records.journal import utcnow
from .dispatch import Candidate, Dispatch, DispatchPlan, Sent, candidates, execute, plan_dispatches
from .ledger import Ledger, LedgerState


@dataclass(frozen=True)
class DispatchRun:
    plan: DispatchPlan
    sent: list[Sent]


def published_candidates(ctx: Context) -> list[Candidate]:
    records = [ctx.concepts.get(cid) for cid in ctx.concepts.list_ids()]
    return candidates(records, ctx.curation, ctx.storage.public_url)


def ledgers(ctx: Context) -> dict[str, LedgerState]:
    return {p.id: Ledger(ctx.storage, p.id).state() for p in ctx.config.partners}


def plan_now(ctx: Context) -> DispatchPlan:
    return plan_dispatches(ctx.config, published_candidates(ctx), ledgers(ctx), utcnow(), ctx.settings.github_repository)


def dispatch_partners(ctx: Context, *, dry_run: bool = False) -> DispatchRun:
    """Plan and send the partners' dispatches; each outcome goes into the partner's ledger."""
    from ..github.api import GitHubClient

    plan = plan_now(ctx)
    if dry_run:
        return DispatchRun(plan, [])
    clients: dict[str, GitHubClient] = {}

    def send(d: Dispatch) -> None:
        if d.repository not in clients:
            clients[d.repository] = GitHubClient(ctx.settings, d.repository, partner=True)
        clients[d.repository].dispatch_workflow(d.workflow, d.ref, d.inputs())

    def record(d: Dispatch, error: str | None) -> None:
        Ledger(ctx.storage, d.partner).append("dispatch-failed" if error else "dispatched", [c.ref for c in d.versions],
                                              run_url=ctx.settings.ci_run_url(), note=error or "")

    sent = execute(plan, send, record)
    logger.info("partner dispatches: %d sent, %d failed", sum(1 for s in sent if s.error is None), sum(1 for s in sent if s.error))
    return DispatchRun(plan, sent)

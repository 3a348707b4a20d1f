"""Which resource versions each partner should check, as workflow_dispatch payloads.

After a publish and after a retest round, every partner gets the published, unblocked
versions of the types it checks that it has not answered yet and that were not sent to
it recently (a partner that was down gets what it missed next time; see `ledger.py`).

GitHub limits a workflow_dispatch to 10 inputs (25 since late 2025) and its inputs'
payload to 65,535 characters; we send 3 inputs and keep the `resources` JSON under
`MAX_RESOURCES_CHARS` and `MAX_RESOURCES` entries per dispatch, splitting into more
dispatches when needed. Planning is pure; `execute` sends.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from ..config.collection_config import CollectionConfig, Partner
from ..config.curation import CurationDecl
from ..log import logger
from ..records import keys
from ..records.concept import ConceptRecord
from .ledger import LedgerState, VersionRef

MAX_RESOURCES_CHARS = 60_000
"""Characters of the `resources` input per dispatch (GitHub allows 65,535 for all inputs)."""
MAX_RESOURCES = 256
"""Resource versions per dispatch (one partner matrix job each fits GitHub's 256-job matrix)."""
RETRY_AFTER = timedelta(days=2)
"""A version dispatched but not answered is sent again after this long."""


@dataclass(frozen=True)
class Candidate:
    """A published version a partner may check."""

    concept_id: str
    version: str
    type: str
    rdf_url: str
    sha256: str

    def entry(self) -> dict[str, str]:
        return {"id": self.concept_id, "version": self.version, "type": self.type,
                "rdf_url": self.rdf_url, "sha256": self.sha256}

    @property
    def ref(self) -> VersionRef:
        return VersionRef(self.concept_id, self.version, self.sha256)


@dataclass(frozen=True)
class Dispatch:
    """One workflow_dispatch of one partner's workflow."""

    partner: str
    repository: str
    workflow: str
    ref: str
    versions: tuple[Candidate, ...]
    reply_to: str
    """Our repository, whose report_compatibility workflow takes the reports."""

    def inputs(self) -> dict[str, str]:
        return {
            "resources": json.dumps([c.entry() for c in self.versions], separators=(",", ":")),
            "reply_to": self.reply_to,
            "dispatch_id": f"{self.partner}-{self.versions[0].concept_id}-{self.versions[0].version}-{len(self.versions)}",
        }


@dataclass(frozen=True)
class DispatchPlan:
    dispatches: tuple[Dispatch, ...]
    script_pending: Mapping[str, tuple[Candidate, ...]] = field(default_factory=dict[str, tuple[Candidate, ...]])
    """Partners with a `script` check: what our own workflow should check."""
    answered: int = 0
    """Versions left out because the partner reported on them already."""
    waiting: int = 0
    """Versions left out because they were sent recently and may still be answered."""


def candidates(records: Iterable[ConceptRecord], curation: Mapping[str, CurationDecl],
               url_of: Callable[[str], str]) -> list[Candidate]:
    """Every published, unblocked version, sorted."""
    out: list[Candidate] = []
    empty = CurationDecl()
    for r in records:
        decl = curation.get(r.id, empty)
        for v in r.versions.values():
            if not decl.is_blocked(v.version):
                out.append(Candidate(r.id, v.version, r.type, url_of(keys.version_files(r.id, v.version, v.content) + v.rdf_name), v.rdf_sha256))
    return sorted(out, key=lambda c: (c.concept_id, c.version))


def chunk(entries: Sequence[Candidate], max_chars: int = MAX_RESOURCES_CHARS, max_items: int = MAX_RESOURCES) -> list[tuple[Candidate, ...]]:
    """`entries` in order, in chunks whose JSON list stays within `max_chars` and `max_items`."""
    chunks: list[tuple[Candidate, ...]] = []
    current: list[Candidate] = []
    size = 2  # "[]"
    for c in entries:
        item = len(json.dumps(c.entry(), separators=(",", ":")))
        if item + 2 > max_chars:
            raise ValueError(f"{c.concept_id} {c.version}: one entry is longer than {max_chars} characters")
        if current and (size + 1 + item > max_chars or len(current) >= max_items):
            chunks.append(tuple(current))
            current, size = [], 2
        size += item + (1 if current else 0)
        current.append(c)
    if current:
        chunks.append(tuple(current))
    return chunks


def pending_for(partner: Partner, versions: Sequence[Candidate], state: LedgerState, now: datetime,
                retry_after: timedelta = RETRY_AFTER) -> tuple[list[Candidate], int, int]:
    """(to send, answered already, sent recently) for one partner."""
    todo: list[Candidate] = []
    answered = waiting = 0
    for c in versions:
        if c.type not in partner.resource_types:
            continue
        key = (c.concept_id, c.version)
        if key in state.answered:
            answered += 1
        elif key in state.last_sent and now - state.last_sent[key] < retry_after:
            waiting += 1
        else:
            todo.append(c)
    return todo, answered, waiting


def plan_dispatches(config: CollectionConfig, versions: Sequence[Candidate], ledgers: Mapping[str, LedgerState],
                    now: datetime, reply_to: str, *, retry_after: timedelta = RETRY_AFTER,
                    max_chars: int = MAX_RESOURCES_CHARS, max_items: int = MAX_RESOURCES) -> DispatchPlan:
    """The dispatches to send now, per partner (pure)."""
    dispatches: list[Dispatch] = []
    scripts: dict[str, tuple[Candidate, ...]] = {}
    answered = waiting = 0
    for p in config.partners:
        todo, a, w = pending_for(p, versions, ledgers.get(p.id, LedgerState()), now, retry_after)
        answered += a
        waiting += w
        if p.script is not None:
            if todo:
                scripts[p.id] = tuple(todo)
            continue
        if p.dispatch is None:
            continue  # reports on its own (reporters, imports): nothing to send
        for part in chunk(todo, max_chars, max_items):
            dispatches.append(Dispatch(p.id, p.dispatch.repository, p.dispatch.workflow, p.dispatch.ref, part, reply_to))
    return DispatchPlan(tuple(dispatches), scripts, answered, waiting)


@dataclass(frozen=True)
class Sent:
    dispatch: Dispatch
    error: str | None = None


def execute(plan: DispatchPlan, send: Callable[[Dispatch], None], record: Callable[[Dispatch, str | None], None]) -> list[Sent]:
    """Send every dispatch; one partner failing does not stop the others. `record` notes
    each outcome in the partner's ledger (a failed dispatch is retried next time)."""
    out: list[Sent] = []
    for d in plan.dispatches:
        try:
            send(d)
        except Exception as e:  # the partner's repository being down must not stop the others
            error = str(e)
            logger.warning("dispatch to %s (%s) failed: %s", d.partner, d.repository, error)
            record(d, error)
            out.append(Sent(d, error))
            continue
        record(d, None)
        out.append(Sent(d))
    return out

"""Per partner, what it was sent and what it answered: an append-only journal
(`partners/<id>/ledger/<time>-<uid>.json`), so concurrent runs never overwrite each other.

The dispatch plan reads it back as a `LedgerState`: a version counts as answered once a
report of the partner for it came in; as pending while a dispatch of it is younger than
the retry interval; otherwise (never sent, or sent and never answered — the partner was
down) it is sent again.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, cast

from ..records import keys
from ..records.journal import Journal, utcnow
from ..storage.base import Storage

Kind = Literal["dispatched", "reported", "dispatch-failed"]


@dataclass(frozen=True, order=True)
class VersionRef:
    concept_id: str
    version: str
    sha256: str = ""


@dataclass
class LedgerState:
    """What the ledger says about each (concept id, version)."""

    answered: set[tuple[str, str]] = field(default_factory=set[tuple[str, str]])
    last_sent: dict[tuple[str, str], datetime] = field(default_factory=dict[tuple[str, str], datetime])


class Ledger:
    def __init__(self, storage: Storage, partner_id: str) -> None:
        self.journal = Journal(storage, keys.partner_ledger(partner_id))

    def append(self, kind: Kind, versions: Iterable[VersionRef], *, run_url: str | None = None,
               note: str = "", when: datetime | None = None) -> None:
        stamp = when or utcnow()
        entry = {"kind": kind, "time": stamp.isoformat(), "run_url": run_url, "note": note,
                 "versions": [[v.concept_id, v.version, v.sha256] for v in versions]}
        self.journal.append_raw(entry, stamp)

    def entries(self) -> list[dict[str, Any]]:
        return self.journal.read_raw()

    def state(self) -> LedgerState:
        return state_of(self.entries())


def state_of(entries: Iterable[dict[str, Any]]) -> LedgerState:
    """The ledger folded into answered/last-sent (pure)."""
    state = LedgerState()
    for e in entries:
        refs = [(str(v[0]), str(v[1])) for v in cast(list[list[Any]], e.get("versions") or [])]
        if e.get("kind") == "reported":
            state.answered.update(refs)
        elif e.get("kind") == "dispatched":
            when = datetime.fromisoformat(str(e["time"]))
            for ref in refs:
                if ref not in state.last_sent or state.last_sent[ref] < when:
                    state.last_sent[ref] = when
    return state

"""The counting state: counts per concept, version, tool and day; the requesters seen
per version and day (keyed hashes, for the last `window` days); the ledger of processed
log objects. Stored as one JSON object (`downloads/state.json`) written in one piece, so
the ledger and the counts it accounts for always change together.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

FORMAT = 1
WINDOW_DAYS = 90
"""Days of daily series and of remembered requesters; older lines are skipped as late."""
LEDGER_DAYS = 30
"""Ledger entries of log objects named with a date (`...YYYY-MM-DD-HH-MM-SS-<id>`, AWS's
naming) are dropped this many days after the newest; older such objects count as read."""
STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})-\d{2}-\d{2}-\d{2}-[0-9A-Za-z]+$")
OUTCOMES = ("lines", "malformed", "other_bucket", "other_request", "not_download", "failed", "bot", "late", "duplicate", "download")
"""What became of each line (in the order the checks run)."""


def days_before(day: str, n: int) -> str:
    return (date.fromisoformat(day) - timedelta(days=n)).isoformat()


def stamp_of(name: str) -> str | None:
    """The date in an AWS-style log object name, if any."""
    m = STAMP.search(name)
    return m.group(1) if m else None


@dataclass
class ConceptTally:
    """Downloads of one concept counted from the logs."""

    total: int = 0
    versions: dict[str, int] = field(default_factory=dict[str, int])
    tools: dict[str, int] = field(default_factory=dict[str, int])
    days: dict[str, int] = field(default_factory=dict[str, int])
    """Per UTC day, the last `WINDOW_DAYS` days."""

    def dump(self) -> dict[str, Any]:
        return {"total": self.total, "versions": self.versions, "tools": self.tools, "days": self.days}


@dataclass
class Tally:
    ledger: dict[str, str] = field(default_factory=dict[str, str])
    """Processed log object -> the newest day it held (or '')."""
    watermark: str = ""
    """Dated log objects before this day count as processed (their entries were dropped)."""
    concepts: dict[str, ConceptTally] = field(default_factory=dict[str, ConceptTally])
    seen: dict[str, dict[str, set[str]]] = field(default_factory=dict[str, dict[str, set[str]]])
    """Day -> `<concept>/<version>` -> requester hashes."""
    newest_day: str = ""
    stats: dict[str, int] = field(default_factory=lambda: dict[str, int].fromkeys(OUTCOMES, 0))
    """Every line ever read, by outcome."""
    pending: set[str] = field(default_factory=set[str])
    """Concepts whose counts changed and are not yet written to their documents."""
    _cutoff: str = ""

    # --- counting --------------------------------------------------------
    def add(self, day: str, concept: str, version: str, requester: str, tool: str) -> str:
        """Count one successful download read; returns the outcome (`download`, `duplicate`, `late`)."""
        if day > self.newest_day:
            self.newest_day = day
            self._cutoff = days_before(day, WINDOW_DAYS - 1)
        if day < self._cutoff:
            return "late"
        by_version = self.seen.setdefault(day, {}).setdefault(f"{concept}/{version}", set())
        if requester in by_version:
            return "duplicate"
        by_version.add(requester)
        c = self.concepts.get(concept)
        if c is None:
            c = self.concepts[concept] = ConceptTally()
        c.total += 1
        c.versions[version] = c.versions.get(version, 0) + 1
        c.tools[tool] = c.tools.get(tool, 0) + 1
        c.days[day] = c.days.get(day, 0) + 1
        self.pending.add(concept)
        return "download"

    def is_processed(self, name: str) -> bool:
        if name in self.ledger:
            return True
        stamp = stamp_of(name)
        return bool(stamp and self.watermark and stamp < self.watermark)

    def mark_processed(self, name: str) -> None:
        self.ledger[name] = stamp_of(name) or ""

    # --- storing ---------------------------------------------------------
    def prune(self) -> None:
        """Drop days before the window and ledger entries older than `LEDGER_DAYS`."""
        if self.newest_day:
            cutoff = days_before(self.newest_day, WINDOW_DAYS - 1)
            self.seen = {d: v for d, v in self.seen.items() if d >= cutoff}
            for c in self.concepts.values():
                c.days = {d: n for d, n in c.days.items() if d >= cutoff}
        stamps = [s for s in self.ledger.values() if s]
        if stamps:
            mark = days_before(max(stamps), LEDGER_DAYS)
            if mark > self.watermark:
                self.watermark = mark
                self.ledger = {n: s for n, s in self.ledger.items() if not s or s >= mark}

    def dump(self) -> dict[str, Any]:
        self.prune()
        return {
            "format": FORMAT,
            "newest_day": self.newest_day,
            "watermark": self.watermark,
            "ledger": dict(sorted(self.ledger.items())),
            "stats": self.stats,
            "pending": sorted(self.pending),
            "concepts": {cid: c.dump() for cid, c in sorted(self.concepts.items())},
            "seen": {d: {cv: sorted(hs) for cv, hs in v.items()} for d, v in sorted(self.seen.items())},
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Tally:
        t = cls(
            ledger=dict(data.get("ledger", {})),
            watermark=str(data.get("watermark", "")),
            newest_day=str(data.get("newest_day", "")),
            pending=set(data.get("pending", [])),
        )
        t.stats.update(cast(dict[str, int], data.get("stats", {})))
        for cid, c in cast(dict[str, dict[str, Any]], data.get("concepts", {})).items():
            t.concepts[cid] = ConceptTally(total=int(c["total"]), versions=dict(c["versions"]), tools=dict(c["tools"]), days=dict(c["days"]))
        t.seen = {d: {cv: set(hs) for cv, hs in v.items()} for d, v in cast(dict[str, dict[str, list[str]]], data.get("seen", {})).items()}
        if t.newest_day:
            t._cutoff = days_before(t.newest_day, WINDOW_DAYS - 1)
        return t

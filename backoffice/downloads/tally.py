"""The counting state: counts per concept, version, tool and day; for the open days only,
the clients counted per version and the bytes each other client has read of each object
so far (keyed hashes); the ledger of processed log objects. Stored as one JSON object,
written in one piece, so the ledger and the counts it accounts for always change together.

Bounded: what grows with the requests (clients, byte sums) is kept for the `OPEN_DAYS`
newest days only; a closed day leaves nothing but its aggregate counts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, cast

FORMAT = 2
FORMATS_READ = (1, 2)
"""Format 1 (before byte shares) is read: its counts and ledger carry over, its requester hashes do not."""
WINDOW_DAYS = 90
"""Days of the daily series."""
OPEN_DAYS = 3
"""Days still counted: the newest day of the logs and the two before. Lines of older days are
skipped as late (S3 delivers most log records within hours of the request)."""
MIN_SHARE_PERCENT = 50
"""A client downloads a version on a day once it has been sent at least this share of one of its
download objects (a weights file, the package zip), summed over its reads of that object that day."""
LEDGER_DAYS = 30
"""Ledger entries of log objects named with a date (`...YYYY-MM-DD-HH-MM-SS-<id>`, AWS's
naming) are dropped this many days after the newest; older such objects count as read."""
STAMP = re.compile(r"(\d{4}-\d{2}-\d{2})-\d{2}-\d{2}-\d{2}-[0-9A-Za-z]+$")
OUTCOMES = ("lines", "malformed", "other_bucket", "other_request", "not_download", "failed", "bot", "late", "duplicate",
            "partial", "download")
"""What became of each line (in the order the checks run)."""


def days_before(day: str, n: int) -> str:
    return (date.fromisoformat(day) - timedelta(days=n)).isoformat()


def stamp_of(name: str) -> str | None:
    """The date in an AWS-style log object name, if any."""
    m = STAMP.search(name)
    return m.group(1) if m else None


def reaches_share(sent: int, size: int | None) -> bool:
    """Whether `sent` bytes are at least `MIN_SHARE_PERCENT` of an object of `size` bytes
    (an object whose size the log does not give never reaches it)."""
    return size is not None and sent * 100 >= size * MIN_SHARE_PERCENT


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
class OpenDay:
    """One open day's clients, each a keyed hash of (day, version, client address)."""

    counted: set[str] = field(default_factory=set[str])
    """Clients whose download of the version this day is counted."""
    partial: dict[str, dict[str, int]] = field(default_factory=dict[str, dict[str, int]])
    """Clients not counted yet -> object (its key below the version) -> bytes sent so far."""

    def dump(self) -> dict[str, Any]:
        return {"counted": sorted(self.counted), "partial": {h: self.partial[h] for h in sorted(self.partial)}}

    @classmethod
    def load(cls, data: dict[str, Any]) -> OpenDay:
        partial = cast(dict[str, dict[str, int]], data["partial"])
        return cls(counted=set(cast(list[str], data["counted"])),
                   partial={h: {k: int(n) for k, n in objs.items()} for h, objs in partial.items()})


@dataclass
class Tally:
    ledger: dict[str, str] = field(default_factory=dict[str, str])
    """Processed log object -> the newest day it held (or '')."""
    watermark: str = ""
    """Dated log objects before this day count as processed (their entries were dropped)."""
    concepts: dict[str, ConceptTally] = field(default_factory=dict[str, ConceptTally])
    open: dict[str, OpenDay] = field(default_factory=dict[str, OpenDay])
    """The open days (at most `OPEN_DAYS`)."""
    newest_day: str = ""
    stats: dict[str, int] = field(default_factory=lambda: dict[str, int].fromkeys(OUTCOMES, 0))
    """Every line ever read, by outcome."""
    pending: set[str] = field(default_factory=set[str])
    """Concepts whose counts changed and are not yet written to their documents."""
    _cutoff: str = ""

    # --- counting --------------------------------------------------------
    def _advance(self, day: str) -> None:
        """`day` is the newest: days before the open ones close (their clients are dropped)."""
        self.newest_day = day
        self._cutoff = days_before(day, OPEN_DAYS - 1)
        self.open = {d: v for d, v in self.open.items() if d >= self._cutoff}

    def add(self, day: str, concept: str, version: str, client: str, obj: str, sent: int, size: int | None, tool: str) -> str:
        """One successful read of a download object `obj` of a version by `client` (hashed);
        returns the outcome (`late`, `duplicate`, `partial`, `download`)."""
        if day > self.newest_day:
            self._advance(day)
        if day < self._cutoff:
            return "late"
        today = self.open.get(day)
        if today is None:
            today = self.open[day] = OpenDay()
        if client in today.counted:
            return "duplicate"
        reads = today.partial.get(client)
        got = (reads.get(obj, 0) if reads else 0) + sent
        if not reaches_share(got, size):
            if reads is None:
                reads = today.partial[client] = {}
            reads[obj] = got
            return "partial"
        today.partial.pop(client, None)
        today.counted.add(client)
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
        """Drop closed days' clients, daily counts before the window, and ledger entries older than `LEDGER_DAYS`."""
        if self.newest_day:
            self._advance(self.newest_day)
            cutoff = days_before(self.newest_day, WINDOW_DAYS - 1)
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
            "open": {d: v.dump() for d, v in sorted(self.open.items())},
        }

    @classmethod
    def load(cls, data: dict[str, Any]) -> Tally:
        """A stored state (format 1: its requester hashes, which named user agents, are dropped)."""
        t = cls(
            ledger=dict(data.get("ledger", {})),
            watermark=str(data.get("watermark", "")),
            pending=set(data.get("pending", [])),
        )
        t.stats.update(cast(dict[str, int], data.get("stats", {})))
        for cid, c in cast(dict[str, dict[str, Any]], data.get("concepts", {})).items():
            t.concepts[cid] = ConceptTally(total=int(c["total"]), versions=dict(c["versions"]), tools=dict(c["tools"]), days=dict(c["days"]))
        if data.get("format") == FORMAT:
            t.open = {d: OpenDay.load(v) for d, v in cast(dict[str, dict[str, Any]], data.get("open", {})).items()}
        newest = str(data.get("newest_day", ""))
        if newest:
            t._advance(newest)
        return t

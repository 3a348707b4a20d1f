"""Write counted downloads where they are read: the concept document (for the index) and
`<id>/downloads.json` (the daily series, for the dashboard and anyone else). Both are
derived from the counting state and set, never incremented: writing them again is safe."""

from __future__ import annotations

import json
from collections.abc import Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any

from ..context import Context
from ..errors import NotFoundError
from ..log import logger
from ..records import keys
from ..records.concept import ConceptRecord, DownloadCounts
from .agents import TOOL_NAMES
from .tally import WINDOW_DAYS, ConceptTally, Tally


def daily_series(days: Mapping[str, int], until: str | None, n: int = WINDOW_DAYS) -> list[dict[str, Any]]:
    """The last `n` days up to `until`, every day listed (0 where none)."""
    if not until:
        return []
    end = date.fromisoformat(until)
    return [{"day": (d := (end - timedelta(days=n - 1 - i)).isoformat()), "downloads": days.get(d, 0)} for i in range(n)]


def downloads_file(concept_id: str, counts: DownloadCounts) -> dict[str, Any]:
    """`<id>/downloads.json` of one concept."""
    return {
        "concept": concept_id,
        "download_count": counts.total,
        "legacy": counts.legacy,
        "counted": counts.counted,
        "versions": counts.versions,
        "tools": {t: counts.tools.get(t, 0) for t in TOOL_NAMES},
        "until": counts.until,
        "daily": daily_series(counts.daily, counts.until),
    }


def apply_counts(record: ConceptRecord, tally: ConceptTally, until: str) -> DownloadCounts:
    """Set a concept's counted downloads (its legacy count stays as it is)."""
    legacy = record.downloads.legacy if record.downloads else 0
    record.downloads = DownloadCounts(legacy=legacy, counted=tally.total, versions=dict(tally.versions),
                                      tools=dict(tally.tools), daily=dict(sorted(tally.days.items())), until=until)
    return record.downloads


def publish_counts(ctx: Context, tally: Tally, records: Mapping[str, ConceptRecord]) -> int:
    """Write the pending concepts' counts; returns how many were written."""
    tally.prune()

    def one(cid: str) -> bool:
        counts = tally.concepts[cid]
        try:
            stored = ctx.concepts.update(cid, lambda r: apply_counts(r, counts, tally.newest_day))
        except NotFoundError:
            logger.warning("downloads of %s not written: the concept is gone", cid)
            return False
        data = json.dumps(downloads_file(cid, stored), separators=(",", ":")).encode()
        ctx.storage.put_bytes(keys.downloads_json(cid), data, content_type="application/json")
        return True

    ids = sorted(c for c in tally.pending if c in tally.concepts and c in records)
    _ = ctx.concepts
    with ThreadPoolExecutor(max_workers=8) as pool:
        return sum(pool.map(one, ids)) if ids else 0

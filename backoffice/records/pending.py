"""Pending objects: how an interrupted ingest is repaired without listing every version.

An ingest merges the reports it stores into each version's `compatibility.json`
(`conflation.merge_reports`) instead of listing the version's reports. A report stored
and not yet merged when the process dies would then be missed by every later merge. So
before storing anything the ingest writes one small object,
`pending/conflation/<time>-<uid>.json`, naming the versions it will touch and the report
keys; it deletes it once every version is conflated, the concept documents updated and
the ledger written. Whoever runs next (`ingest-reports`, `generate-collection-json`)
lists that prefix (one small listing) and, for each object older than
`pending_repair_after`, conflates in full (listing their reports) the versions where one
of its reports was stored, notes the briefs on the concept documents, appends the
partner's `reported` ledger entry for those versions again (harmless twice: the ledger is
a set of answers) and removes the object. The log entries of a died ingest are not
written again (the ledger and the reports say what came in).

Younger objects belong to an ingest that may still be running; repairing one early would
do no harm to the data (conflations are conditional writes), but would remove the object
its owner still relies on.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any

from ..errors import NotFoundError
from ..log import logger
from ..storage.base import ObjectNotFound, Storage
from . import keys
from .concept import ConceptStore
from .conflation import conflate_target, report_files


@dataclass(frozen=True)
class Pending:
    """What one ingest under way will store and conflate."""

    key: str
    """Where the pending object is stored."""
    partner: str
    versions: list[tuple[str, str]]
    """(concept id, version) it conflates."""
    reports: list[str]
    """Report keys it stores."""


def begin(storage: Storage, partner: str, versions: Iterable[tuple[str, str]], reports: Iterable[str]) -> Pending:
    """Write the pending object of an ingest (before it stores any report)."""
    pending = Pending(keys.pending_conflation(keys.unique_stamp()), partner, sorted(set(versions)), sorted(reports))
    body = {"partner": partner, "versions": [list(v) for v in pending.versions], "reports": pending.reports}
    storage.put_bytes(pending.key, json.dumps(body).encode(), if_none_match=True, content_type="application/json")
    return pending


def done(storage: Storage, pending: Pending) -> None:
    """Remove the pending object: everything it announced is conflated and recorded."""
    storage.delete(pending.key)


def _read(storage: Storage, key: str) -> Pending | None:
    try:
        body: Any = json.loads(storage.get_bytes(key))
        return Pending(key, str(body["partner"]), [(str(c), str(v)) for c, v in body["versions"]],
                       [str(r) for r in body["reports"]])
    except ObjectNotFound:
        return None  # repaired or finished meanwhile
    except (ValueError, TypeError, KeyError) as e:
        logger.warning("%s: unreadable pending object (%s); removed", key, e)
        storage.delete(key)
        return None


def left_over(storage: Storage, older_than: float) -> list[Pending]:
    """Pending objects older than `older_than` seconds (their ingest died, or is very slow)."""
    limit = datetime.now(timezone.utc) - timedelta(seconds=older_than)
    out: list[Pending] = []
    for info in storage.list(keys.PENDING_CONFLATION_PREFIX):
        if info.last_modified <= limit and (p := _read(storage, info.key)) is not None:
            out.append(p)
    return out


def repair(storage: Storage, concepts: ConceptStore, pending: Pending) -> list[tuple[str, str]]:
    """Conflate in full the versions of a left-over pending object where one of its reports
    was stored, and note the briefs on the concept documents; returns those versions. The
    caller then appends the ledger entry (partners are a higher layer) and removes the
    object (`done`)."""
    announced = set(pending.reports)
    repaired: list[tuple[str, str]] = []
    for cid, version in pending.versions:
        record = concepts.find(cid)
        held = record.versions.get(version) if record is not None else None
        if held is None:
            logger.info("%s %s: gone; nothing to repair", cid, version)
            continue
        prefix = keys.version_reports(cid, version, held.content)
        if not announced.intersection(report_files(storage, prefix)):
            continue  # it died before storing its report there: nothing of it to conflate
        try:
            conflate_target(storage, concepts, cid, version, prefix)
        except NotFoundError:
            logger.info("%s %s: gone; nothing to repair", cid, version)
            continue
        repaired.append((cid, version))
    logger.warning("repaired an interrupted ingest of partner %s (%s): %d versions conflated in full",
                   pending.partner, pending.key, len(repaired))
    return repaired

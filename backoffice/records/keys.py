"""Where each record and file lives in storage. The only module that spells keys.

`LAYOUT` (in `backoffice/layout.py`, with the id and label rules derived from it) lists every
key with what it holds and who writes it; the key table of `docs/storage.md` is generated from
it (`scripts/generate_docs.py`).
"""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from ..layout import LAYOUT as LAYOUT  # re-exported: `keys.LAYOUT`, `keys.checked`, ... as before the rules moved
from ..layout import RESERVED_IDS as RESERVED_IDS
from ..layout import RESERVED_LABELS as RESERVED_LABELS
from ..layout import checked as checked
from ..layout import checked_label as checked_label

CONCEPTS_PREFIX = "concepts/"


def concept_doc(concept_id: str) -> str:
    return f"{CONCEPTS_PREFIX}{checked(concept_id)}.json"


def concept_id_from_doc(key: str) -> str | None:
    if key.startswith(CONCEPTS_PREFIX) and key.endswith(".json"):
        name = key[len(CONCEPTS_PREFIX) : -len(".json")]
        return name if "/" not in name else None
    return None


def draft_root(concept_id: str, token: str) -> str:
    return f"{checked(concept_id)}/drafts/{token}/"


def draft_files(concept_id: str, token: str) -> str:
    return f"{draft_root(concept_id, token)}files/"


def draft_reports(concept_id: str, token: str) -> str:
    return f"{draft_root(concept_id, token)}reports/"


def files_manifest(files_prefix: str) -> str:
    """`files.json` next to a draft's or version's `files/` folder: every file with its size and sha256."""
    return files_prefix[: -len("files/")] + "files.json"


def version_root(concept_id: str, version: str, content: str = "") -> str:
    """`<id>/<version>/`; `<id>/<version>/<content>/` for a version whose files and reports an
    `import-collection --update` replaced: the version record names `content`, so the switch to
    the new files is its one concept-document commit (docs/import.md)."""
    return f"{checked(concept_id)}/{checked_label(version)}/" + (f"{content}/" if content else "")


def version_files(concept_id: str, version: str, content: str = "") -> str:
    return f"{version_root(concept_id, version, content)}files/"


def version_package(concept_id: str, version: str) -> str:
    """The package zip of a published version (reading it counts as a download)."""
    return f"{version_root(concept_id, version)}package.zip"


def version_reports(concept_id: str, version: str, content: str = "") -> str:
    return f"{version_root(concept_id, version, content)}reports/"


def log_prefix(concept_id: str) -> str:
    return f"{checked(concept_id)}/log/"


def chat_prefix(concept_id: str) -> str:
    return f"{checked(concept_id)}/chat/"


INDEX_PREFIX = "index/"
COLLECTION_JSON = "collection.json"
COLLECTION_DRAFT_JSON = "collection_draft.json"
ID_MAP_JSON = "id_map.json"
ID_MAP_DRAFT_JSON = "id_map_draft.json"
ALL_VERSIONS_JSON = "all_versions.json"


def versions_json(concept_id: str) -> str:
    """`<id>/versions.json`: the listed versions of one concept with their DOIs."""
    return f"{concept_id}/versions.json"

INDEX_CACHE = f"{INDEX_PREFIX}cache.json"
INDEX_DERIVED = f"{INDEX_PREFIX}derived.json"
"""md5 of each concept's `versions.json` and dashboard detail as written (see `index/derived.py`)."""
DIRTY_PREFIX = f"{INDEX_PREFIX}dirty/"
"""Markers `index/dirty/<id>/<time>-<uid>` written after every change of a concept document."""


def dirty_prefix(concept_id: str) -> str:
    return f"{DIRTY_PREFIX}{checked(concept_id)}/"


STAMP_FORMAT = "%Y%m%dT%H%M%S.%fZ"
"""The time part of a key: UTC to the microsecond, sorting as the times do (`20250101T120000.000000Z`)."""


def time_stamp(when: datetime | None = None) -> str:
    """`when` (default: now; a naive time is taken as UTC) as the time part of a key (`STAMP_FORMAT`)."""
    when = datetime.now(timezone.utc) if when is None else when
    return (when if when.tzinfo is None else when.astimezone(timezone.utc)).strftime(STAMP_FORMAT)


def unique_stamp(when: datetime | None = None) -> str:
    """A key part that sorts by when it was made and is unique: `time_stamp(when)` and 12
    random hex digits (change markers, pending objects, journal entries)."""
    return time_stamp(when) + "-" + uuid.uuid4().hex[:12]


def new_draft_token() -> str:
    """A new draft's token: a `unique_stamp` in the characters a token may hold (no `.`,
    see `records/handover.py`), so that a concept's drafts sort by when they were staged."""
    return unique_stamp().replace(".", "")


def dirty_marker(concept_id: str, stamp: str) -> str:
    return f"{DIRTY_PREFIX}{concept_id}/{stamp}"


def concept_id_from_marker(key: str) -> str | None:
    if key.startswith(DIRTY_PREFIX):
        rest = key[len(DIRTY_PREFIX):]
        return rest.split("/", 1)[0] if "/" in rest else None
    return None


DASHBOARD_PREFIX = "dashboard/"
"""The reviewer dashboard: static pages (`dashboard/index.html`, ...) written with the index."""
DASHBOARD_DETAILS_PREFIX = f"{DASHBOARD_PREFIX}details/"


def dashboard_detail(concept_id: str) -> str:
    """Compact details of one concept for the dashboard (draft checks, log, chat)."""
    return f"{DASHBOARD_DETAILS_PREFIX}{concept_id}.json"


def concept_id_from_dashboard_detail(key: str) -> str | None:
    if key.startswith(DASHBOARD_DETAILS_PREFIX) and key.endswith(".json"):
        name = key[len(DASHBOARD_DETAILS_PREFIX) : -len(".json")]
        return name if "/" not in name else None
    return None
def report_part(reports_prefix: str, report_stem: str, part: str) -> str:
    """One part of an assembled report (a weight format's test, the static checks)."""
    return f"{reports_prefix}parts/{report_stem}/{part}.json"


def report_part_file(reports_prefix: str, report_stem: str, part: str, hardware: str, name: str) -> str:
    """A file kept with a part, per hardware that produced it (a produced output, `.npy`)."""
    return f"{reports_prefix}parts/{report_stem}/{part}/{hardware}/{name}"


def report_parts(reports_prefix: str, report_stem: str) -> str:
    return f"{reports_prefix}parts/{report_stem}/"


def conflated_summary(reports_prefix: str) -> str:
    """`compatibility.json` next to a draft's or version's `reports/` folder."""
    return reports_prefix[: -len("reports/")] + "compatibility.json"


PARTNERS_PREFIX = "partners/"
COMPATIBILITY_JSON = "compatibility.json"


def partner_ledger(partner_id: str) -> str:
    """Append-only entries: dispatched resource versions, received reports."""
    return f"{PARTNERS_PREFIX}{partner_id}/ledger/"


PENDING_CONFLATION_PREFIX = "pending/conflation/"


def pending_conflation(stamp: str) -> str:
    """`pending/conflation/<time>-<uid>.json`: an ingest under way (see `records/pending.py`)."""
    return f"{PENDING_CONFLATION_PREFIX}{stamp}.json"


IMPORTS_PREFIX = "imports/"


def import_run(digest: str) -> str:
    """`imports/<digest>.json`: an import under way (its start time; a re-run resumes with it)."""
    return f"{IMPORTS_PREFIX}{digest}.json"
DOWNLOADS_STATE_NAME = "state.json"
"""Download counting's state (processed log objects, counts, the open days' pseudonymised clients):
its key inside the private place `BACKOFFICE_DOWNLOADS_STATE`, never in this store."""
OLD_PUBLIC_DOWNLOADS_STATE = "downloads/state.json"
"""Where earlier versions kept that state, in the public store: moved to the private place and removed."""


def downloads_json(concept_id: str) -> str:
    """`<id>/downloads.json`: a concept's daily downloads (last 90 days) and totals."""
    return f"{concept_id}/downloads.json"

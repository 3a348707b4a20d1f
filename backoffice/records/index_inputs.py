"""The index inputs, declared in one place: every record an index entry, a dashboard
detail file or a `versions.json` depends on, and how the index learns that it changed.

The index run reads concept documents and nothing else per concept, except for the
concepts it learns have changed. It learns that in one of two ways:

- `fingerprint`: the input is part of the index cache's fingerprint (the collection
  config and the public URL for every concept; each concept's curation declaration);
  a change replans the concepts concerned, even without a marker.
- `marker`: the input's writer leaves a change marker (`index/dirty/<id>/...`,
  `mark_changed`) after it wrote. Concept documents also carry an etag, so a lost
  marker of a concept document is found by `--full`; the journals and reports are
  found by the next change of the concept (any marker re-derives its details whole).

`tests/test_index_inputs.py` checks that every per-concept key of `keys.py` is declared
here, either as an input or as not one (with the reason), and that the journal writers
mark their concept.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..log import logger
from ..storage.base import Storage
from . import keys


@dataclass(frozen=True)
class IndexInput:
    """One kind of record the index depends on."""

    keys: str
    """Where it lives (as in `keys.py`)."""
    used_by: str
    """What of the index is derived from it."""
    noticed_by: Literal["fingerprint", "marker"]
    """How the index learns of a change (see the module docstring)."""
    writer: str
    """Who writes it (and leaves the marker)."""


INDEX_INPUTS: dict[str, IndexInput] = {
    "concept_doc": IndexInput("concepts/<id>.json", "collection entries, drafts, id maps, versions.json, dashboard details",
                              "marker", "records.concept.ConceptStore (create, save, update)"),
    "log_prefix": IndexInput("<id>/log/", "dashboard details (the newest entries)", "marker",
                             "records.journal.ConceptLog.append (or, with mark=False, the concept-document update "
                             "its writer makes right after it: ingest-reports)"),
    "chat_prefix": IndexInput("<id>/chat/", "dashboard details (the conversation)", "marker",
                              "records.journal.ConceptChat.append, append_once"),
    "draft_reports": IndexInput("<id>/drafts/<token>/reports/", "dashboard details (validation by field, reasons)",
                                "marker", "whoever stores a report also records its brief on the concept document"),
    "version_reports": IndexInput("<id>/<version>/[<content>/]reports/", "dashboard details of the latest version",
                                  "marker", "whoever stores a report also records its brief on the concept document"),
    "curation": IndexInput("collection/<id>.yaml (the repository, not storage)", "collection entries, id maps",
                           "fingerprint", "reviewers, by pull request"),
    "config": IndexInput("bioimageio_collection_config.json, the public URL", "every file of the index",
                         "fingerprint", "maintainers"),
}
"""Every input of the index, by the name of its key function in `keys.py` where it has one."""

NOT_INPUTS: dict[str, str] = {
    "draft_root": "folder of draft_files and draft_reports",
    "draft_files": "files of a draft: the index links them, the concept document names them",
    "version_root": "folder of version_files and version_reports",
    "version_files": "published files: the index links them, the concept document names them",
    "report_part": "parts of our own report, read with the reports",
    "report_parts": "folder of the parts",
    "report_part_file": "an output kept from a test that did not reproduce: named by its report part, not read by the index",
    "conflated_summary": "written by conflation together with the concept document it summarises",
    "versions_json": "an output of the index",
    "dashboard_detail": "an output of the index",
    "dirty_marker": "the change markers themselves",
    "partner_ledger": "what was dispatched to a partner; not shown by the index",
    "version_package": "a published version as one zip: read by downloaders (counted from the access logs), not by the index",
    "dirty_prefix": "the change markers of one concept",
    "downloads_json": "daily figures for the website; `count-downloads` puts the totals the index shows on the concept document",
    "time_stamp": "the one time-stamp format of keys; spells no key",
    "new_draft_token": "a new draft's token (a time stamp and a random part); spells no key",
    "unique_stamp": "a time-ordered unique part of a key (markers, pending objects); spells no key",
    "files_manifest": "the files of a draft or version with their sha256: the concept document carries what the index shows",
    "pending_conflation": "an ingest under way; the concepts it conflates are marked when their documents are updated",
    "import_run": "an import-collection run under way; its concepts are marked when written",
}
"""Per-concept (or per-partner) keys of `keys.py` the index does not depend on, and why."""


def mark_changed(storage: Storage, concept_id: str, marker: str | None = None) -> None:
    """Tell the next index run that an input of this concept changed (call it after the
    change: a marker before it could be consumed by a run that read the old state).
    `marker`: the marker's name, where a writer needs a known one (a resumable import)."""
    stamp = marker or keys.unique_stamp()
    try:
        storage.put_bytes(keys.dirty_marker(concept_id, stamp), b"")
    except Exception as e:  # the change stands; the next change of the concept or `--full` repairs
        logger.warning("could not mark %s as changed for the index: %s", concept_id, e)

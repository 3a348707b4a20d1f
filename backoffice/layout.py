"""The store's layout and the one id rule and label rule derived from it.

`LAYOUT` lists every key with what it holds and who writes it (the key table of
`docs/storage.md` is generated from it); `checked` and `checked_label` are THE rules for a
concept id and a version label, whatever way a concept or version enters (stage, import,
curation). Below `config/` and `records/` so that both can apply them; `records/keys.py`
spells the keys.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import NamedTuple

from .errors import InvalidIdError


class KeyDoc(NamedTuple):
    key: str
    what: str
    written_by: str


LAYOUT: tuple[KeyDoc, ...] = (
    KeyDoc("concepts/<id>.json", "the concept document: type, owners, upload in progress, current draft, published versions, DOIs, report briefs",
           "every step, by conditional write"),
    KeyDoc("<id>/drafts/<token>/files/...", "files of one upload (the draft points at its token)", "`stage`"),
    KeyDoc("<id>/drafts/<token>/files.json", "the draft's files with size and sha256", "`stage`"),
    KeyDoc("<id>/drafts/<token>/reports/<name>.json", "full validation / test / partner reports of the draft", "`validate-format`, `test`"),
    KeyDoc("<id>/<version>/files/...", "published files; never change", "`publish`"),
    KeyDoc("<id>/<version>/files.json", "the published files with size and sha256 (copied with the draft)", "`publish`"),
    KeyDoc("<id>/<version>/package.zip", "the version as one zip, where the collection serves one (reading it counts as a download)", "`publish`"),
    KeyDoc("<id>/<version>/reports/<tool>_<tool_version>.json", "reports of a published version", "`publish`, retests, `ingest-reports`"),
    KeyDoc("<id>/<version>/u<sha256 16>/files/..., .../reports/..., .../compatibility.json",
           "an imported version's files and reports after `import-collection --update` replaced them (its record's `legacy.content` names the folder; docs/import.md)",
           "`import-collection --update`"),
    KeyDoc("<reports>/parts/<tool>_<version>/<part>.json", "one part of our own report (static checks, one weight format)", "`test`, `store-test-result`"),
    KeyDoc("<reports>/parts/<tool>_<version>/<part>/<hardware>/<output>.npy", "a produced output that did not reproduce", "`test`, `store-test-result`"),
    KeyDoc("<id>/<version>/compatibility.json", "all reports of a version conflated (scores, tags, every report, the etag of each report file)",
           "conflation (`test`, `ingest-reports`: a merge)"),
    KeyDoc("pending/conflation/<time>-<uid>.json", "an ingest under way: the reports it stores and the versions it will conflate "
           "(removed when done; a leftover is repaired by a full conflation)", "`ingest-reports`"),
    KeyDoc("partners/<partner>/ledger/<time>-<uid>.json", "what was dispatched to a partner and what it answered", "`dispatch-partners`, `ingest-reports`"),
    KeyDoc("<id>/log/<time>-<uid>.json", "append-only log entries", "every step"),
    KeyDoc("<id>/chat/<time>-<uid>.json", "append-only review chat", "`request-changes`, `chat`, mail replies"),
    KeyDoc("collection.json, collection_draft.json, id_map.json, id_map_draft.json, all_versions.json",
           "the index", "`generate-collection-json`, each step"),
    KeyDoc("compatibility.json", "per partner: which resource versions work in it, which do not and why", "index generation"),
    KeyDoc("<id>/versions.json", "the listed versions of one concept and their DOIs", "index generation (where it differs)"),
    KeyDoc("index/cache.json", "per concept: etag of the document and fingerprint of its declaration the index was made from", "index generation"),
    KeyDoc("index/derived.json", "per concept: md5 of its versions.json and dashboard detail, and the document etag the detail was made from",
           "index generation"),
    KeyDoc("index/dirty/<id>/<time>-<uid>", "\"this concept changed\" markers, written after every change of an index input "
           "(`records/index_inputs.py`)", "concept store, log, chat"),
    KeyDoc("dashboard/index.html, app.js, style.css", "the reviewer dashboard (static)", "index generation"),
    KeyDoc("dashboard/details/<id>.json", "compact per-concept details the dashboard loads on demand", "index generation (where due)"),
    KeyDoc("imports/<digest>.json", "an import-collection run under way (removed when it completes)", "`import-collection`"),
    KeyDoc("downloads/state.json", "(no more: download counting's state is kept in a private place, `BACKOFFICE_DOWNLOADS_STATE`; "
           "a state left here by an earlier version is moved there and removed, `docs/downloads.md`)", "`count-downloads` (removes it)"),
    KeyDoc("<id>/downloads.json", "a concept's downloads per day (last 90 days), per version and per tool", "`count-downloads`"),
)
"""Every key of the store: the one list of the layout."""

MAX_CONCEPT_ID_LENGTH = 100
MAX_LABEL_LENGTH = 64
_PLAIN = r"[A-Za-z0-9][A-Za-z0-9._:-]"
_CONCEPT_ID = re.compile(rf"{_PLAIN}{{0,{MAX_CONCEPT_ID_LENGTH - 1}}}")
_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,%d}" % (MAX_LABEL_LENGTH - 1))


def _top_names(layout: tuple[KeyDoc, ...]) -> frozenset[str]:
    """The fixed first segments of the layout's keys (`concepts`, `partners`, `collection.json`, ...)."""
    out: set[str] = set()
    for doc in layout:
        for key in doc.key.split(", ") if "/" not in doc.key else [doc.key]:
            head = key.split("/", 1)[0]
            if not head.startswith("<"):
                out.add(head.casefold())
    return frozenset(out)


def _folder_names(layout: tuple[KeyDoc, ...]) -> frozenset[str]:
    """The fixed names directly in a concept's folder (`log`, `chat`, `drafts`, `versions.json`, ...)."""
    out: set[str] = set()
    for doc in layout:
        parts = doc.key.split("/")
        if parts[0] == "<id>" and len(parts) > 1 and not parts[1].startswith("<"):
            out.add(parts[1].casefold())
    return frozenset(out)


RESERVED_IDS = _top_names(LAYOUT)
"""Ids that are store prefixes or index files: derived from `LAYOUT`, never listed twice."""
RESERVED_LABELS = _folder_names(LAYOUT)
"""Version labels that are keys of a concept's folder: derived from `LAYOUT`."""


def _shown(value: str) -> str:
    return ascii(value if len(value) <= 40 else value[:40] + "...")


def checked(concept_id: str, held: Iterable[str] = ()) -> str:
    """THE id rule, for every way a concept enters (stage, import, curation): `concept_id` if it
    can name a concept, else an InvalidIdError, before any storage call.

    One key segment of letters, digits, `.`, `_`, `-` and `:` (partner applications such as
    `imjoy:vizarr`), starting with a letter or digit, at most 100 characters, case as given;
    not `..`-like, not a store prefix or index file of `LAYOUT` (`partners`, `pending`,
    `concepts`, ..., in any case), and not a case variant of one of `held` (the ids the
    store holds; `Affable-Shark` beside `affable-shark` would collide on case-insensitive
    file systems). New uploads get memorable ids on top of this (`ids.check_id`)."""
    if not isinstance(concept_id, str) or not _CONCEPT_ID.fullmatch(concept_id) or ".." in concept_id:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidIdError(
            f"invalid concept id {_shown(str(concept_id))}: letters, digits, '.', '_', '-' and ':', starting with a letter or "
            f"digit, at most {MAX_CONCEPT_ID_LENGTH} characters (e.g. affable-shark, imjoy:vizarr)")
    if concept_id.casefold() in RESERVED_IDS:
        raise InvalidIdError(f"invalid concept id {_shown(concept_id)}: a name the store keeps for itself "
                             f"({', '.join(sorted(RESERVED_IDS))})")
    folded = concept_id.casefold()
    clash = next((h for h in held if h != concept_id and h.casefold() == folded), None)
    if clash is not None:
        raise InvalidIdError(f"invalid concept id {_shown(concept_id)}: only its case differs from the held concept {_shown(clash)}")
    return concept_id


def checked_label(label: str) -> str:
    """THE version label rule, for every way a version enters (stage, import, curation): one key
    segment of letters, digits, `.`, `_`, `+`, `-` (at most 64 characters, starting with a letter or
    digit), not `..`-like and not a fixed key of a concept's folder (`log`, `chat`, `drafts`,
    `versions.json`, ...). Else an InvalidIdError."""
    if not isinstance(label, str) or not _LABEL.fullmatch(label) or ".." in label:  # pyright: ignore[reportUnnecessaryIsInstance]
        raise InvalidIdError(f"invalid version label {_shown(str(label))}: letters, digits, '.', '_', '+' and '-', starting with a "
                             f"letter or digit, at most {MAX_LABEL_LENGTH} characters (e.g. v0)")
    if label.casefold() in RESERVED_LABELS:
        raise InvalidIdError(f"invalid version label {_shown(label)}: a name of the concept's own folder "
                             f"({', '.join(sorted(RESERVED_LABELS))})")
    return label

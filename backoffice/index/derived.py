"""The files the index derives per concept besides its part of the index files:
`<id>/versions.json` and the dashboard's `dashboard/details/<id>.json`.

`index/derived.json` remembers, per concept, the md5 of each file as written and the
etag of the concept document its detail was made from. So a run writes only the files
whose content differs, and reads nothing per concept but its concept document, except
for a concept whose detail is due: one marked changed (its log, chat or reports may have
grown, see `records/index_inputs.py`), one whose document is not the one its detail was
made from, and, with `--full`, one whose detail file is missing or not the one
remembered (the dashboard folder is listed then). The manifest is written
after the files: a crash in between only makes the next run compare again.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypedDict, cast

from ..context import Context
from ..records import keys
from ..records.concept import ConceptRecord
from ..storage.base import ObjectInfo, ObjectNotFound, etag_of
from ..util.json_bytes import dump_bytes as _dump
from .dashboard import write_detail, write_pages
from .website import versions_file

MANIFEST_FORMAT = 1


class DerivedEntry(TypedDict):
    """What is stored for one concept."""

    etag: str | None
    """Etag of the concept document the detail file was made from."""
    detail: str | None
    """md5 of `dashboard/details/<id>.json`."""
    versions: str | None
    """md5 of `<id>/versions.json`."""


def versions_bytes(entry: dict[str, Any] | None) -> bytes:
    return _dump(versions_file(entry))


def load_manifest(ctx: Context) -> dict[str, DerivedEntry]:
    try:
        data: Any = json.loads(ctx.storage.get_bytes(keys.INDEX_DERIVED))
    except (ObjectNotFound, ValueError):
        return {}
    if not isinstance(data, dict) or cast(dict[str, Any], data).get("format") != MANIFEST_FORMAT:
        return {}
    return cast(dict[str, DerivedEntry], data["concepts"])


class DerivedFiles:
    """Writes the derived files of one index run in a pool of threads while the run
    reads concept documents; `finish` waits and stores the manifest."""

    def __init__(self, ctx: Context, dirty: set[str], listing: Iterable[ObjectInfo] | None, workers: int = 8) -> None:
        """`listing`: the objects under `dashboard/` (a full run), or None (trust the manifest)."""
        self.ctx = ctx
        self.dirty = dirty
        self.before = load_manifest(ctx)
        self.state: dict[str, DerivedEntry] = {cid: cast(DerivedEntry, dict(e)) for cid, e in self.before.items()}
        self.listed_details: dict[str, str] | None = None
        self.pages: dict[str, str] | None = None
        if listing is not None:
            self.listed_details, self.pages = {}, {}
            for info in listing:
                if (cid := keys.concept_id_from_dashboard_detail(info.key)) is not None:
                    self.listed_details[cid] = info.etag
                else:
                    self.pages[info.key[len(keys.DASHBOARD_PREFIX):]] = info.etag
        self.pool = ThreadPoolExecutor(max_workers=workers)
        self.slots = threading.BoundedSemaphore(8 * workers)  # records waiting for their detail: bounded memory
        self.pending: list[tuple[str, str | None, Future[str | None]]] = []
        self.details_written = 0

    def _stored(self, cid: str, what: str) -> str | None:
        e = self.state.get(cid)
        return None if e is None else cast(str | None, cast(dict[str, Any], e).get(what))

    def _entry(self, cid: str) -> DerivedEntry:
        return self.state.setdefault(cid, {"etag": None, "detail": None, "versions": None})

    def detail_due(self, cid: str, etag: str) -> bool:
        e = self.state.get(cid)
        if cid in self.dirty or e is None or e["etag"] != etag or e["detail"] is None:
            return True
        return self.listed_details is not None and self.listed_details.get(cid) != e["detail"]

    def refresh_detail(self, record: ConceptRecord, etag: str) -> None:
        """Make the detail of `record` (read with `etag`) in the pool, if it is due."""
        if self.detail_due(record.id, etag):
            listed = self.listed_details
            stored = listed.get(record.id) if listed is not None else self._stored(record.id, "detail")
            self.slots.acquire()

            def make(record: ConceptRecord = record, stored: str | None = stored) -> str | None:
                try:
                    return write_detail(self.ctx, record, stored)
                finally:
                    self.slots.release()

            self.pending.append((record.id, etag, self.pool.submit(make)))

    def behind(self, etags: Mapping[str, str], ids: Iterable[str]) -> list[str]:
        """Of `ids` (concepts not read this run), those whose detail is due."""
        return [cid for cid in ids if cid in etags and self.detail_due(cid, etags[cid])]

    def write_versions(self, outputs: Mapping[str, dict[str, Any] | None]) -> None:
        """`<id>/versions.json` of each concept (by its collection entry) that differs."""

        def put(cid: str, data: bytes) -> str:
            self.ctx.storage.put_bytes(keys.versions_json(cid), data, content_type="application/json")
            return etag_of(data)

        for cid, entry in outputs.items():
            data = versions_bytes(entry)
            if self._stored(cid, "versions") != etag_of(data):
                self.pending.append((cid, None, self.pool.submit(put, cid, data)))

    def finish(self, known: Iterable[str]) -> int:
        """Wait for the writes; delete the details of concepts not in `known`; write the
        pages and the manifest. Returns how many detail files were made."""
        failed: BaseException | None = None
        for cid, etag, future in self.pending:
            try:
                md5 = future.result()
            except Exception as e:  # a versions.json not written: the manifest keeps the old md5
                failed = failed or e
                continue
            if etag is None:
                self._entry(cid)["versions"] = md5
            elif md5 is not None:
                self._entry(cid).update(etag=etag, detail=md5)
                self.details_written += 1
        self.pool.shutdown()
        keep = set(known)
        gone = (set(self.state) | set(self.listed_details or {})) - keep
        self.ctx.storage.delete_many([keys.dashboard_detail(cid) for cid in sorted(gone)])
        for cid in gone:
            self.state.pop(cid, None)
        write_pages(self.ctx.storage, self.pages)
        if self.state != self.before:
            self.ctx.storage.put_bytes(keys.INDEX_DERIVED, _dump({"format": MANIFEST_FORMAT, "concepts": self.state}),
                                       content_type="application/json")
        if failed is not None:
            raise failed
        return self.details_written

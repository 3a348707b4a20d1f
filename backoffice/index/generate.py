"""Write the index files, incrementally.

A small cache (`index/cache.json`) remembers, per concept, the etag of the concept
document and a fingerprint of its declaration the last index was made from. One
listing of `concepts/` gives every current etag; only concepts whose document or
declaration changed are read and planned again; every other concept's part is
taken from the previous index files. A change of the config or public URL (the
base fingerprint) replans everything. What each entry depends on, and how a run learns
that it changed, is declared in `records/index_inputs.py`.

Per concept a run reads its concept document and nothing else, except for the concepts
whose dashboard details are due (`derived.py`); `versions.json` and the details are
written only where their content differs from what is stored.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypedDict, TypeVar, cast

from ..config.curation import CurationDecl
from ..context import Context
from ..errors import NotFoundError
from ..log import logger
from ..records import keys
from ..records.concept import ConceptRecord
from ..storage.base import ObjectNotFound, Storage
from ..util.gc_pause import cyclic_gc_paused
from ..util.json_bytes import dump_bytes as _dump
from .compatibility import compatibility_overview
from .derived import DerivedFiles
from .modes import Mode
from .plan import ConceptOutputs, assemble, plan_concept

T = TypeVar("T")
CACHE_FORMAT = 3
_EMPTY = CurationDecl()


@dataclass(frozen=True)
class GenerateResult:
    concepts: int
    fetched: int
    """Concept documents read (the others came from the previous index)."""
    written: dict[str, str]
    """Index file -> public URL."""
    listed: int
    drafts: int


class _CacheEntry(TypedDict):
    """One concept in the index cache."""

    etag: str
    """Etag of the concept document the last index was made from."""
    fp: str
    """Fingerprint of the concept's declaration then."""


def _sha(data: Any) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _get_json(storage: Storage, key: str) -> Any:
    try:
        return json.loads(storage.get_bytes(key))
    except (ObjectNotFound, ValueError):
        return None


def _load_cache(storage: Storage, base: str) -> dict[str, _CacheEntry]:
    """The cached concepts, if the cache was made with the same base fingerprint."""
    cache = _get_json(storage, keys.INDEX_CACHE)
    if not isinstance(cache, dict):
        return {}
    fields = cast(dict[str, Any], cache)
    return fields["concepts"] if fields.get("base") == base else {}


def _previous_outputs(storage: Storage) -> dict[str, ConceptOutputs]:
    """Per-concept parts of the current index files."""
    files = {k: _get_json(storage, k) for k in (keys.COLLECTION_JSON, keys.COLLECTION_DRAFT_JSON, keys.ID_MAP_JSON, keys.ID_MAP_DRAFT_JSON)}
    if any(not isinstance(v, dict) for v in files.values()):
        return {}
    parts: dict[str, dict[str, Any]] = {}

    def part(cid: str) -> dict[str, Any]:
        return parts.setdefault(cid, {"entry": None, "ids": {}, "draft": None, "draft_ids": {}})

    owner_of_source: dict[str, str] = {}  # rdf URL -> concept (aliases such as DOIs name no concept)
    for e in files[keys.COLLECTION_JSON].get("collection", []):
        part(e["id"])["entry"] = e
        for v in e.get("versions", []):
            owner_of_source[v["rdf_source"]] = e["id"]
    for d in files[keys.COLLECTION_DRAFT_JSON].get("collection", []):
        part(d["id"])["draft"] = d
    for k, v in files[keys.ID_MAP_JSON].items():
        cid: str = k.split("/", 1)[0]
        if cid not in parts:
            cid = owner_of_source.get(str(v.get("source", "")), cid)
        part(cid)["ids"][k] = v
    for k, v in files[keys.ID_MAP_DRAFT_JSON].items():
        part(k.split("/", 1)[0])["draft_ids"][k] = v
    return {cid: ConceptOutputs(**p) for cid, p in parts.items()}


def load_records(
    storage: Storage, ids: list[str], *, then: Callable[[ConceptRecord, str], T], workers: int = 8
) -> list[tuple[str, str, T]]:
    """Read the given concept documents in parallel; parse each and apply `then(record,
    etag)` in this thread while the next ones are fetched (missing ones are skipped).
    Returns (id, etag, result): the records themselves are not kept."""

    def fetch(cid: str) -> tuple[bytes, str] | None:
        try:
            return storage.get(keys.concept_doc(cid))
        except ObjectNotFound:
            return None  # deleted meanwhile

    out: list[tuple[str, str, T]] = []
    if not ids:
        return out
    with ThreadPoolExecutor(max_workers=min(workers, len(ids))) as pool:
        for got in pool.map(fetch, ids):
            if got is not None:
                record = ConceptRecord.model_validate_json(got[0])
                out.append((record.id, got[1], then(record, got[1])))
    return out


def _changed_since_last_run(storage: Storage) -> tuple[set[str], list[str]]:
    """Concepts marked as changed, and the marker keys seen."""
    markers = storage.list_keys(keys.DIRTY_PREFIX)
    return {cid for k in markers if (cid := keys.concept_id_from_marker(k))}, markers


def generate_index(ctx: Context, mode: Mode = "all", *, full: bool = False) -> GenerateResult:
    """Regenerate the index files from storage and the declared curation.

    Incremental by default: only concepts marked as changed since the last run, or
    whose declaration changed, are read. `full=True` (or a missing/outdated cache)
    lists every concept document and compares etags instead. The cyclic garbage
    collector is paused meanwhile (`util/gc_pause.py`).
    """
    with cyclic_gc_paused():
        return _generate(ctx, mode, full=full)


def _generate(ctx: Context, mode: Mode = "all", *, full: bool = False) -> GenerateResult:
    """`generate_index` without the pause."""
    storage, config, curation = ctx.storage, ctx.config, ctx.curation
    base = _sha([CACHE_FORMAT, config.model_dump(mode="json"), storage.public_url("x")])
    cached = _load_cache(storage, base)
    incremental = bool(cached) and not full
    dirty, markers = _changed_since_last_run(storage)  # listed before anything is read
    previous = _previous_outputs(storage) if cached else {}

    if incremental:
        known = set(cached) | dirty
        etags = {cid: cached[cid]["etag"] for cid in cached}
    else:
        etags = {
            cid: info.etag
            for info in storage.list(keys.CONCEPTS_PREFIX)
            if (cid := keys.concept_id_from_doc(info.key)) is not None
        }
        known = set(etags)
    fps = {cid: _sha(curation.get(cid, _EMPTY).model_dump(mode="json")) for cid in known}
    stale = sorted(
        cid for cid in known
        if cid in dirty or cid not in previous or cached.get(cid) != {"etag": etags.get(cid), "fp": fps[cid]}
    )
    outputs: dict[str, ConceptOutputs] = {cid: previous[cid] for cid in known if cid not in stale}
    derived = DerivedFiles(ctx, dirty, storage.list(keys.DASHBOARD_PREFIX) if full else None)  # `--full` checks them

    def plan(record: ConceptRecord, etag: str) -> ConceptOutputs:
        derived.refresh_detail(record, etag)
        return plan_concept(record, curation.get(record.id, _EMPTY), config, storage.public_url)

    for cid, etag, planned in load_records(storage, stale, then=plan):
        outputs[cid] = planned
        etags[cid] = etag
    for cid in derived.behind(etags, sorted(set(outputs) - set(stale))):  # its detail is missing or failed before
        try:
            derived.refresh_detail(*ctx.concepts.get_with_etag(cid))
        except NotFoundError:
            continue

    files = assemble(config, outputs, storage.public_url(keys.COLLECTION_JSON).rsplit("/", 1)[0])
    files[keys.COMPATIBILITY_JSON] = compatibility_overview(config, files[keys.COLLECTION_JSON])
    wanted = {
        "all": list(files),
        "published": [keys.COLLECTION_JSON, keys.ID_MAP_JSON, keys.COMPATIBILITY_JSON, keys.ALL_VERSIONS_JSON],
        "draft": [keys.COLLECTION_DRAFT_JSON, keys.ID_MAP_DRAFT_JSON],
    }[mode]
    written: dict[str, str] = {}
    if mode != "draft":  # per-concept version lists that differ from the stored ones
        derived.write_versions({cid: o.entry for cid, o in outputs.items()})
    # the derived files first: their manifest is written once they are all stored
    details = derived.finish(outputs)
    for key in wanted:
        storage.put_bytes(key, _dump(files[key]), content_type="application/json")
        written[key] = storage.public_url(key)
    if mode == "all":
        # after the files: a crash in between only makes the next run replan more
        if stale or set(cached) != set(outputs):
            concepts: dict[str, _CacheEntry] = {cid: {"etag": etags[cid], "fp": fps[cid]} for cid in outputs}
            storage.put_bytes(keys.INDEX_CACHE, _dump({"base": base, "concepts": concepts}), content_type="application/json")
        storage.delete_many(markers)  # only those seen before reading: later changes keep theirs
    written[keys.DASHBOARD_PREFIX + "index.html"] = storage.public_url(keys.DASHBOARD_PREFIX + "index.html")
    listed = len(files[keys.COLLECTION_JSON]["collection"])
    drafts = len(files[keys.COLLECTION_DRAFT_JSON]["collection"])
    logger.info("index: %d concepts (%d read, %s), %d listed, %d drafts, %d dashboard details", len(outputs), len(stale),
                "incremental" if incremental else "full scan", listed, drafts, details)
    return GenerateResult(concepts=len(outputs), fetched=len(stale), written=written, listed=listed, drafts=drafts)

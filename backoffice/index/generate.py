"""Write the index files. Reads only the concept documents that changed since the
last run (their etags come from one listing), so a regeneration after one publish
touches O(1) concept documents."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Literal

from ..context import Context
from ..log import logger
from ..records import keys
from ..records.concept import ConceptRecord
from ..storage.base import ObjectNotFound, Storage
from .plan import IndexFiles, plan_index

Mode = Literal["all", "published", "draft"]
CACHE_FORMAT = 1


@dataclass(frozen=True)
class GenerateResult:
    concepts: int
    fetched: int
    written: dict[str, str]
    """Index file -> public URL."""
    listed: int
    drafts: int


def _load_cache(storage: Storage) -> dict[str, Any]:
    try:
        cache = json.loads(storage.get_bytes(keys.INDEX_CACHE))
    except (ObjectNotFound, ValueError):
        return {}
    if not isinstance(cache, dict) or cache.get("format") != CACHE_FORMAT:
        return {}
    return cache.get("concepts", {})


def load_records(storage: Storage, *, workers: int = 16) -> tuple[list[ConceptRecord], int]:
    """Every concept record, using and refreshing the cache; returns (records, fetched)."""
    listing = {
        cid: info.etag
        for info in storage.list(keys.CONCEPTS_PREFIX)
        if (cid := keys.concept_id_from_doc(info.key)) is not None
    }
    cache = _load_cache(storage)
    stale = [cid for cid, etag in listing.items() if cache.get(cid, {}).get("etag") != etag]

    def fetch(cid: str) -> tuple[str, str, str] | None:
        try:
            data, etag = storage.get(keys.concept_doc(cid))
        except ObjectNotFound:
            return None  # deleted since the listing
        return cid, etag, data.decode("utf-8")

    fresh: dict[str, dict[str, Any]] = {}
    if stale:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for got in pool.map(fetch, stale):
                if got is not None:
                    fresh[got[0]] = {"etag": got[1], "doc": got[2]}
    concepts = {cid: cache[cid] for cid in listing if cid in cache and cid not in stale}
    concepts.update(fresh)
    if fresh or set(cache) != set(concepts):
        storage.put_bytes(
            keys.INDEX_CACHE,
            json.dumps({"format": CACHE_FORMAT, "concepts": concepts}, separators=(",", ":")).encode(),
            content_type="application/json",
        )
    records = [ConceptRecord.model_validate_json(c["doc"]) for c in concepts.values()]
    return records, len(fresh)


def _json(obj: Any) -> bytes:
    return (json.dumps(obj, indent=1, ensure_ascii=False) + "\n").encode("utf-8")


def write_index(ctx: Context, files: IndexFiles, mode: Mode = "all") -> dict[str, str]:
    out: dict[str, bytes] = {}
    if mode in ("all", "published"):
        out[keys.COLLECTION_JSON] = _json(files.collection.model_dump(mode="json"))
        out[keys.ID_MAP_JSON] = _json({k: v.model_dump(mode="json") for k, v in files.id_map.items()})
    if mode in ("all", "draft"):
        out[keys.COLLECTION_DRAFT_JSON] = _json(files.collection_draft.model_dump(mode="json"))
        out[keys.ID_MAP_DRAFT_JSON] = _json({k: v.model_dump(mode="json") for k, v in files.id_map_draft.items()})
    written: dict[str, str] = {}
    for key, data in out.items():
        ctx.storage.put_bytes(key, data, content_type="application/json")
        written[key] = ctx.storage.public_url(key)
    return written


def generate_index(ctx: Context, mode: Mode = "all") -> GenerateResult:
    """Regenerate the index files from storage and the declared curation."""
    records, fetched = load_records(ctx.storage)
    files = plan_index(records, ctx.curation, ctx.config, ctx.storage.public_url)
    written = write_index(ctx, files, mode)
    logger.info("index: %d concepts (%d read), %d listed", len(records), fetched, len(files.collection.collection))
    return GenerateResult(
        concepts=len(records),
        fetched=fetched,
        written=written,
        listed=len(files.collection.collection),
        drafts=len(files.collection_draft.collection),
    )

"""Reading both sides of a comparison: the running collection (a folder, its `index.json`, a zip,
or an http(s) URL fetched through the guarded fetch) and our index in the store."""

from __future__ import annotations

import json
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, cast

from ..context import Context
from ..errors import DownloadError, ImportSourceError, InvalidIdError, PackageError
from ..importer.models import RunningItem
from ..records.concept import ConceptRecord
from ..importer.sources import MAX_JSON_BYTES, Reader, load_index, open_reader, version_dir
from ..stage.fetch import download
from ..storage.base import ObjectNotFound
from .compare import Ours, RunningResource, RunningVersion


@dataclass
class GuardedUrlReader:
    """The running collection's files under a base URL, each fetched through the guarded fetch
    (public addresses only, size-limited)."""

    base: str
    name: str
    timeout: float
    allowed_hosts: tuple[str, ...] = ()

    def read(self, rel: str) -> bytes | None:
        url = self.base.rstrip("/") + "/" + rel
        with tempfile.TemporaryDirectory(prefix="backoffice-compare-") as tmp:
            try:
                path = download(url, Path(tmp), max_bytes=MAX_JSON_BYTES, timeout=self.timeout, progress=False,
                                allowed_hosts=self.allowed_hosts)
            except DownloadError as e:
                if str(e).endswith("answered HTTP 404"):
                    return None
                raise ImportSourceError(str(e)) from None
            except PackageError as e:
                raise ImportSourceError(f"{url}: {e}") from None
            return path.read_bytes()

    def list(self, rel_dir: str) -> list[str] | None:
        return None


def running_reader(source: str, timeout: float, allowed_hosts: tuple[str, ...] = ()) -> Reader:
    if source.startswith(("http://", "https://")):
        return GuardedUrlReader(source.removesuffix("/index.json"), source, timeout, allowed_hosts)
    return open_reader(source, timeout)


def _summary(reader: Reader, item: RunningItem, label: str) -> dict[str, Any] | None:
    rel = version_dir(item, label) + "summary.json"
    data = reader.read(rel)
    if data is None:
        return None
    try:
        raw: object = json.loads(data)
    except ValueError as e:
        raise ImportSourceError(f"{reader.name}/{rel}: not JSON ({e})") from None
    return raw if isinstance(raw, dict) else None  # pyright: ignore[reportUnknownVariableType]


def read_running(reader: Reader, workers: int = 8) -> list[RunningResource]:
    """Every resource of the running collection with its versions and their summaries."""
    index = load_index(reader)
    pairs = [(item, v.version) for item in index.items for v in item.versions]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        summaries = list(pool.map(partial(_summary, reader), [i for i, _ in pairs], [label for _, label in pairs]))
    by_pair = {(id(item), label): s for (item, label), s in zip(pairs, summaries, strict=True)}
    return [RunningResource(item.id, item.type, [
        RunningVersion(v.version, v.sha256, v.created_at.isoformat() if v.created_at else None, v.comment,
                       by_pair[(id(item), v.version)]) for v in item.versions]) for item in index.items]


def _stored_json(ctx: Context, key: str) -> dict[str, Any]:
    try:
        raw: object = json.loads(ctx.storage.get_bytes(key))
    except ObjectNotFound:
        raise ImportSourceError(f"no {key} in {ctx.storage.describe()}: run `backoffice generate-collection-json` first") from None
    if not isinstance(raw, dict):
        raise ImportSourceError(f"{key}: not an object")
    return raw  # pyright: ignore[reportUnknownVariableType]


def read_ours(ctx: Context, workers: int = 8) -> Ours:
    """Our collection.json and id_map.json, and for each imported version whether its rdf is the published file."""
    collection = _stored_json(ctx, "collection.json")
    listed = collection.get("collection")
    entries = {str(e.get("id")): e for e in (cast(list[dict[str, Any]], [x for x in cast(list[object], listed) if isinstance(x, dict)])
                                             if isinstance(listed, list) else [])}
    id_map = _stored_json(ctx, "id_map.json")
    def find(cid: str) -> ConceptRecord | None:
        try:
            return ctx.concepts.find(cid)
        except InvalidIdError:  # an id our store cannot hold is not an imported concept of ours
            return None

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        records = list(pool.map(find, list(entries)))
    exact = {f"{r.id}/{label}": v.legacy.rdf_exact
             for r in records if r is not None for label, v in r.versions.items() if v.legacy is not None}
    return Ours(entries, id_map, exact)

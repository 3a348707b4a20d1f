"""Write the reviewer dashboard next to the index: static pages (package data under
`backoffice/templates/dashboard/`) and one compact detail file per concept.

The pages are plain HTML, JavaScript and CSS that read `collection.json`,
`collection_draft.json`, `compatibility.json` (when partner reports exist) and
`dashboard/details/<id>.json` by relative URLs, so they work wherever the store is
served: S3 static hosting, GitHub Pages or `backoffice serve`. No server of their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from importlib import resources
from typing import Any, cast

from ..context import Context
from ..ids import emoji_of
from ..log import logger
from ..records import keys
from ..records.concept import ConceptRecord
from ..storage.base import ObjectNotFound, Storage
from .dashboard_plan import plan_detail

STATIC_FILES = {"index.html": "text/html; charset=utf-8", "app.js": "text/javascript; charset=utf-8", "style.css": "text/css; charset=utf-8"}
MAX_REPORT_BYTES = 5 * 1024 * 1024
"""Reports larger than this are not read for the dashboard (their brief on the record still shows)."""


def static_files() -> dict[str, bytes]:
    """The dashboard's pages, as shipped in the package."""
    folder = resources.files("backoffice") / "templates" / "dashboard"
    return {name: (folder / name).read_bytes() for name in STATIC_FILES}


def _dump(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _reports(storage: Storage, prefix: str) -> dict[str, dict[str, Any]]:
    """The reports under `prefix`, skipping unreadable ones: each report file by its name,
    and each part of our own assembled report (`parts/<stem>/<part>`, a job's full
    summary, with a weight format's `verdict`) by its path."""
    out: dict[str, dict[str, Any]] = {}
    for info in storage.list(prefix):
        name = info.key[len(prefix):]
        is_part = name.startswith("parts/") and name.count("/") == 2
        if ("/" in name and not is_part) or not name.endswith(".json") or info.size > MAX_REPORT_BYTES:
            continue
        try:
            data = json.loads(storage.get_bytes(info.key))
        except (ObjectNotFound, ValueError):
            continue
        if is_part and isinstance(data, dict):
            part = cast(dict[str, Any], data)
            data = part.get("summary")
            if isinstance(data, dict) and "verdict" in part:  # a weight format's two verdicts, its figures, kept outputs
                data = {**cast(dict[str, Any], data), "verdict": part["verdict"]}
        if isinstance(data, dict):
            out[name[: -len(".json")]] = cast(dict[str, Any], data)
    return out


def write_detail(ctx: Context, record: ConceptRecord) -> None:
    """Write `dashboard/details/<id>.json` for one concept."""
    storage = ctx.storage
    d = record.draft
    latest = list(record.versions.values())[-1] if record.versions else None
    detail = plan_detail(
        record,
        emoji=emoji_of(ctx.config, record.id),
        log=ctx.log(record.id).read(limit=ctx.settings.dashboard_log_entries),
        chat=ctx.chat(record.id).read(),
        draft_reports=_reports(storage, keys.draft_reports(record.id, d.token)) if d is not None else {},
        version_reports=_reports(storage, keys.version_reports(record.id, latest.version)) if latest is not None else {},
        url_of=storage.public_url,
    )
    storage.put_bytes(keys.dashboard_detail(record.id), _dump(detail), content_type="application/json")


def write_dashboard(ctx: Context, refresh: Iterable[str], removed: Iterable[str] = ()) -> int:
    """Write the pages, the detail files of the `refresh` concepts, and delete those of
    `removed` concepts. Returns how many detail files were written. Best effort per
    concept: a failure is logged and leaves that concept's previous detail file."""
    storage = ctx.storage
    for name, content_type in STATIC_FILES.items():
        data = static_files()[name]
        info = storage.head(keys.DASHBOARD_PREFIX + name)
        if info is None or info.size != len(data) or storage.get_bytes(keys.DASHBOARD_PREFIX + name) != data:
            storage.put_bytes(keys.DASHBOARD_PREFIX + name, data, content_type=content_type)

    def one(cid: str) -> bool:
        try:
            record = ctx.concepts.find(cid)
            if record is None:
                storage.delete(keys.dashboard_detail(cid))
                return False
            write_detail(ctx, record)
            return True
        except Exception as e:  # the index files stand; the detail is refreshed next run
            logger.warning("dashboard details of %s not written: %s", cid, e)
            return False

    ids = sorted(set(refresh))
    _ = ctx.config, ctx.concepts  # loaded once, before the threads share them
    with ThreadPoolExecutor(max_workers=8) as pool:
        written = sum(pool.map(one, ids)) if ids else 0
    storage.delete_many([keys.dashboard_detail(cid) for cid in removed])
    return written

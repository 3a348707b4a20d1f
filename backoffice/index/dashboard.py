"""Write the reviewer dashboard next to the index: static pages (package data under
`backoffice/templates/dashboard/`) and one compact detail file per concept.

The pages are plain HTML, JavaScript and CSS that read `collection.json`,
`collection_draft.json`, `compatibility.json` (when partner reports exist) and
`dashboard/details/<id>.json` by relative URLs, so they work wherever the store is
served: S3 static hosting, GitHub Pages or `backoffice serve`. No server of their own.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from typing import Any, cast

from ..context import Context
from ..ids import concept_emoji
from ..log import logger
from ..records import keys
from ..records.concept import ConceptRecord
from ..storage.base import ObjectNotFound, Storage, etag_of
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


def detail_bytes(ctx: Context, record: ConceptRecord) -> bytes:
    """`dashboard/details/<id>.json` of one concept: from its record, the newest log
    entries, the chat and the reports of its draft and latest version."""
    storage = ctx.storage
    d = record.draft
    latest = list(record.versions.values())[-1] if record.versions else None
    detail = plan_detail(
        record,
        emoji=concept_emoji(ctx.config, record.id, record.legacy.id_emoji if record.legacy else None),
        log=ctx.log(record.id).read(limit=ctx.settings.dashboard_log_entries),
        chat=ctx.chat(record.id).read(),
        draft_reports=_reports(storage, keys.draft_reports(record.id, d.token)) if d is not None else {},
        version_reports=_reports(storage, keys.version_reports(record.id, latest.version, latest.content)) if latest is not None else {},
        url_of=storage.public_url,
    )
    return _dump(detail)


def write_detail(ctx: Context, record: ConceptRecord, stored: str | None = None) -> str | None:
    """Write the detail file of one concept unless its content has the md5 `stored`.
    Returns the md5 of the detail, or None if it could not be made (logged: the previous
    detail file stays, and the next change of the concept or `--full` tries again)."""
    try:
        data = detail_bytes(ctx, record)
        md5 = etag_of(data)
        if md5 != stored:
            ctx.storage.put_bytes(keys.dashboard_detail(record.id), data, content_type="application/json")
        return md5
    except Exception as e:  # the index files stand
        logger.warning("dashboard details of %s not written: %s", record.id, e)
        return None


def write_pages(storage: Storage, stored: Mapping[str, str] | None = None) -> None:
    """Write the static pages that differ from what is stored (`stored`: etag by page
    name, from a listing; None: ask the store for each page)."""
    for name, content_type in STATIC_FILES.items():
        data = static_files()[name]
        key = keys.DASHBOARD_PREFIX + name
        if stored is None:
            info = storage.head(key)
            etag = info.etag if info is not None else None
        else:
            etag = stored.get(name)
        if etag != etag_of(data):
            storage.put_bytes(key, data, content_type=content_type)

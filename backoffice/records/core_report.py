"""Our own checks as one report of the tool `bioimageio.core`: `bioimageio.core_<version>.json`
per draft/version, in the partners' format, with the static validation and every weight
format's test inside `details`.

Test jobs of several weight formats finish at the same time, so each job stores its
result as a part (`parts/bioimageio.core_<version>/<weight format | static>.json`, one
object per job: no two jobs write the same key) and then assembles the report from all
parts present. The assembled report is replaced only if unchanged since it was read
(else the parts are listed again), so the last assembly always holds every part.
"""

from __future__ import annotations

import json
from typing import Any, cast

from ..storage.base import ObjectNotFound, PreconditionFailed, Storage
from . import keys
from .tool_report import OWN_TOOL, report_file_name

STATIC_PART = "static"
"""The part holding bioimageio.spec's static validation."""
MAX_ATTEMPTS = 30


def report_stem(core_version: str) -> str:
    return f"{OWN_TOOL}_{core_version}"


def store_part(storage: Storage, reports_prefix: str, core_version: str, part: str, status: str,
               summary: dict[str, Any], error: str | None) -> str:
    """Store one job's result (full summary) as a part; returns its key."""
    key = keys.report_part(reports_prefix, report_stem(core_version), part)
    body = {"part": part, "status": status, "error": error, "summary": summary}
    storage.put_bytes(key, json.dumps(body, default=str).encode(), content_type="application/json")
    return key


def _completeness(summary: Any) -> float | None:
    value = cast(dict[str, Any], summary).get("metadata_completeness") if isinstance(summary, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def assemble(parts: dict[str, dict[str, Any]], core_version: str, part_file: dict[str, str]) -> dict[str, Any]:
    """The report from its parts (pure). Failed if any part failed; the score is the share of
    parts that passed (static checks and static-only formats count when valid)."""
    counted = {p: d for p, d in parts.items() if d.get("status") != "skipped"}
    failed = sorted(p for p, d in counted.items() if d.get("status") == "failed")
    dynamic_passed = [p for p, d in counted.items() if d.get("status") == "passed"]
    good = [p for p, d in counted.items() if d.get("status") in ("passed", "valid-format")]
    core_status = "failed" if failed else "passed" if dynamic_passed else "valid-format"
    errors = [f"{p}: {str(counted[p].get('error') or 'failed').splitlines()[0]}" for p in failed]
    static = parts.get(STATIC_PART)
    completeness = _completeness(static.get("summary")) if static else None
    if completeness is None:
        completeness = next((c for d in parts.values() if (c := _completeness(d.get("summary"))) is not None), None)
    return {
        "status": "failed" if failed else "passed",
        "score": round(len(good) / len(counted), 4) if counted else 0.0,
        "error": "\n".join(errors) or None,
        "details": {
            "status": core_status,
            "metadata_completeness": completeness,
            "static": None if static is None else {"status": static.get("status"), "error": static.get("error"),
                                                   "report": part_file.get(STATIC_PART)},
            "weight_formats": {
                p: {"status": d.get("status"), "error": d.get("error"), "device": cast(dict[str, Any], d.get("summary") or {}).get("device"),
                    "report": part_file.get(p)}
                for p, d in sorted(parts.items()) if p != STATIC_PART
            },
        },
        "badge": None,
        "links": [],
        "tool": OWN_TOOL,
        "tool_version": core_version,
    }


def assemble_report(storage: Storage, reports_prefix: str, core_version: str) -> str:
    """(Re)write `bioimageio.core_<version>.json` from every part stored; returns its key."""
    stem = report_stem(core_version)
    key = reports_prefix + report_file_name(OWN_TOOL, core_version)
    folder = keys.report_parts(reports_prefix, stem)
    for _ in range(MAX_ATTEMPTS):
        etag: str | None
        try:
            etag = storage.get(key)[1]
        except ObjectNotFound:
            etag = None
        parts: dict[str, dict[str, Any]] = {}
        for part_key in storage.list_keys(folder):
            name = part_key[len(folder):]
            if "/" in name or not name.endswith(".json"):
                continue
            try:
                parts[name[: -len(".json")]] = json.loads(storage.get_bytes(part_key))
            except (ObjectNotFound, ValueError):
                continue
        urls = {p: keys.report_part("", stem, p) for p in parts}  # relative to the reports folder: survives publishing
        data = json.dumps(assemble(parts, core_version, urls), indent=1, default=str).encode()
        try:
            if etag is None:
                storage.put_bytes(key, data, if_none_match=True, content_type="application/json")
            else:
                storage.put_bytes(key, data, if_match=etag, content_type="application/json")
        except PreconditionFailed:
            continue
        return key
    raise PreconditionFailed(f"{key} kept changing; gave up after {MAX_ATTEMPTS} attempts")

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
import re
from collections.abc import Mapping
from typing import Any, cast

from ..storage.base import ObjectNotFound, PreconditionFailed, Storage
from . import keys
from .journal import utcnow
from .tool_report import OWN_TOOL, report_file_name
from .verdicts import Verdict

STATIC_PART = "static"
"""The part holding bioimageio.spec's static validation."""
MAX_ATTEMPTS = 30
WARNING_CREDIT = 0.5
"""Share of a passed part's score a weight format that runs but does not reproduce earns."""


def report_stem(core_version: str) -> str:
    return f"{OWN_TOOL}_{core_version}"


def hardware_slug(label: str | None) -> str:
    """A storage-safe folder name for a hardware label."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", label or "unknown").strip("-").lower()[:60].strip("-")
    return slug or "unknown"


def _by_hardware(old: bytes | None) -> dict[str, Any]:
    try:
        value: Any = json.loads(old) if old else {}
    except ValueError:
        return {}
    found: Any = cast(dict[str, Any], value).get("by_hardware") if isinstance(value, dict) else None
    return dict(cast(dict[str, Any], found)) if isinstance(found, dict) else {}


def store_part(storage: Storage, reports_prefix: str, core_version: str, part: str, status: str,
               summary: dict[str, Any], error: str | None, *, verdict: Verdict | None = None,
               kept: Mapping[str, bytes] | None = None) -> dict[str, Any]:
    """Store one job's result (full summary) as a part, with the verdicts of a weight format's
    test (keeping those of other hardware) and the outputs it kept; returns the part's body."""
    stem = report_stem(core_version)
    key = keys.report_part(reports_prefix, stem, part)
    body: dict[str, Any] = {"part": part, "status": status, "error": error, "summary": summary}
    if verdict is not None:
        slug = hardware_slug(verdict.hardware)
        outputs = {}
        for name, figures in verdict.outputs.items():
            if figures.kept is not None and figures.kept.file in (kept or {}):
                rel = keys.report_part_file("", stem, part, slug, figures.kept.file)
                storage.put_bytes(reports_prefix + rel, (kept or {})[figures.kept.file], content_type="application/octet-stream")
                figures = figures.model_copy(update={"kept": figures.kept.model_copy(update={"key": rel})})
            elif figures.kept is not None:
                figures = figures.model_copy(update={"kept": None})
            outputs[name] = figures
        verdict = verdict.model_copy(update={"outputs": outputs})
        body["verdict"] = verdict.model_dump(mode="json")
    for _ in range(MAX_ATTEMPTS):
        try:
            old, etag = storage.get(key)
        except ObjectNotFound:
            old, etag = None, None
        if verdict is not None:
            history = _by_hardware(old)
            history[verdict.hardware or "unknown"] = {
                "outcome": verdict.outcome, "runs": verdict.runs, "reproduces": verdict.reproduces,
                "reason": verdict.reason, "time": utcnow().isoformat(), "summary_status": summary.get("status"),
            }
            body["by_hardware"] = dict(sorted(history.items()))
        data = json.dumps(body, default=str).encode()
        if storage.put_if_unchanged(key, data, etag, content_type="application/json") is None:
            continue
        body["key"] = key
        return body
    raise PreconditionFailed(f"{key} kept changing; gave up after {MAX_ATTEMPTS} attempts")


def _completeness(summary: Any) -> float | None:
    value = cast(dict[str, Any], summary).get("metadata_completeness") if isinstance(summary, dict) else None
    return float(value) if isinstance(value, (int, float)) else None


def assemble(parts: dict[str, dict[str, Any]], core_version: str, part_file: dict[str, str]) -> dict[str, Any]:
    """The report from its parts (pure). Failed if any part failed; the score is the share of
    parts that passed (static checks and static-only formats count when valid)."""
    counted = {p: d for p, d in parts.items() if d.get("status") != "skipped"}
    failed = sorted(p for p, d in counted.items() if d.get("status") == "failed")
    warned = sorted(p for p, d in counted.items() if d.get("status") == "warning")
    dynamic_passed = [p for p, d in counted.items() if d.get("status") == "passed"]
    good = [p for p, d in counted.items() if d.get("status") in ("passed", "valid-format")]
    core_status = "failed" if failed else "warning" if warned else "passed" if dynamic_passed else "valid-format"
    credit = len(good) + WARNING_CREDIT * len(warned)
    errors = [f"{p}: {str(counted[p].get('error') or 'failed').splitlines()[0]}" for p in failed]
    static = parts.get(STATIC_PART)
    completeness = _completeness(static.get("summary")) if static else None
    if completeness is None:
        completeness = next((c for d in parts.values() if (c := _completeness(d.get("summary"))) is not None), None)
    return {
        "status": "failed" if failed else "passed",
        "score": round(credit / len(counted), 4) if counted else 0.0,
        "error": "\n".join(errors) or None,
        "details": {
            "status": core_status,
            "metadata_completeness": completeness,
            "static": None if static is None else {"status": static.get("status"), "error": static.get("error"),
                                                   "report": part_file.get(STATIC_PART)},
            "weight_formats": {p: _format_entry(d, part_file.get(p)) for p, d in sorted(parts.items()) if p != STATIC_PART},
            "warnings": [f"{p}: runs but does not reproduce: {_verdict_of(counted[p]).get('reason') or ''}".strip() for p in warned],
        },
        "badge": None,
        "links": [],
        "tool": OWN_TOOL,
        "tool_version": core_version,
    }


def _verdict_of(part: Mapping[str, Any]) -> dict[str, Any]:
    value: Any = part.get("verdict")
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _format_entry(part: Mapping[str, Any], report: str | None) -> dict[str, Any]:
    """One weight format in the assembled report: status, both verdicts, the hardware of each."""
    verdict = _verdict_of(part)
    return {
        "status": part.get("status"), "error": part.get("error"),
        "device": cast(dict[str, Any], part.get("summary") or {}).get("device"), "report": report,
        "runs": verdict.get("runs"), "reproduces": verdict.get("reproduces"), "reason": verdict.get("reason"),
        "hardware": verdict.get("hardware"), "outputs": verdict.get("outputs") or {},
        "by_hardware": part.get("by_hardware") or {},
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
        if storage.put_if_unchanged(key, data, etag, content_type="application/json") is None:
            continue
        return key
    raise PreconditionFailed(f"{key} kept changing; gave up after {MAX_ATTEMPTS} attempts")

"""Conflate the stored reports of one draft or version: read every `<tool>_<version>.json`
in its `reports/` folder, score them (`scoring.conflate`), write `compatibility.json`
beside them and put the brief on the concept document for the index.

Only versions whose reports changed are conflated (ingest and test call this for what
they stored), so the index stays incremental. Concurrent conflations of one version
cannot lose a report: `compatibility.json` is replaced only if unchanged since it was
read (else everything is re-read), each write raises its `revision`, and the concept
document takes a brief only if its revision is newer than the one it has.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..log import logger
from ..storage.base import ObjectNotFound, PreconditionFailed, Storage
from . import keys
from .concept import ConceptRecord, ConceptStore
from .scoring import Compatibility, by_tool, conflate
from .tool_report import ReportProblem, ToolReport, parse_report, split_report_name, unparsable_report

MAX_ATTEMPTS = 30


def report_files(storage: Storage, reports_prefix: str) -> list[str]:
    """Keys of the `<tool>_<tool_version>.json` reports directly in `reports_prefix`."""
    return [key for key in storage.list_keys(reports_prefix) if _is_report(reports_prefix, key)]


def _is_report(reports_prefix: str, key: str) -> bool:
    name = key[len(reports_prefix):]
    if "/" in name or not name.endswith(".json"):
        return False
    try:
        split_report_name(name)
    except ReportProblem:
        logger.debug("not a compatibility report (name): %s", key)
        return False
    return True


def read_reports(storage: Storage, report_keys: Iterable[str],
                 known: Mapping[str, bytes] | None = None) -> dict[tuple[str, str], ToolReport]:
    """Parsed reports by (tool, version); one that cannot be read counts as failed and says why.
    `known`: contents by key the caller has just stored (not read again)."""
    out: dict[tuple[str, str], ToolReport] = {}
    wanted = list(report_keys)
    given = known or {}

    def load(key: str) -> tuple[str, bytes | None]:
        if key in given:
            return key, given[key]
        try:
            return key, storage.get_bytes(key)
        except ObjectNotFound:
            return key, None

    with ThreadPoolExecutor(max_workers=min(8, max(1, len(wanted)))) as pool:
        for key, data in pool.map(load, wanted):
            if data is None:
                continue
            name = key.rsplit("/", 1)[-1]
            tool, version = split_report_name(name)
            try:
                out[(tool, version)] = parse_report(name, data)[2]
            except ReportProblem as e:
                out[(tool, version)] = unparsable_report(str(e))
    return out


def _summary_json(compat: Compatibility, reports: dict[tuple[str, str], ToolReport]) -> bytes:
    tests = {tool: {v: r.model_dump(mode="json") for v, (_, r) in releases.items()} for tool, releases in by_tool(reports).items()}
    data = {**compat.model_dump(mode="json"), "tests": tests}
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()


def _revision(data: bytes) -> int:
    try:
        value: Any = json.loads(data)
        return int(value.get("revision", 0)) if isinstance(value, dict) else 0  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
    except (ValueError, TypeError):
        return 0


def conflate_reports(storage: Storage, reports_prefix: str, known: Mapping[str, bytes] | None = None) -> Compatibility:
    """Read, score and write `compatibility.json` of one draft/version; returns the brief.
    `known`: reports the caller has just stored there, by key (listed, not read again)."""
    summary_key = keys.conflated_summary(reports_prefix)
    for _ in range(MAX_ATTEMPTS):
        etag: str | None
        try:
            old, etag = storage.get(summary_key)
        except ObjectNotFound:
            old, etag = b"{}", None
        revision = _revision(old) + 1
        listed = {i.key: i.etag for i in storage.list(reports_prefix) if _is_report(reports_prefix, i.key)}
        # a report the caller just stored is not read again, unless it changed since
        unchanged = {k: d for k, d in (known or {}).items() if listed.get(k) == hashlib.md5(d, usedforsecurity=False).hexdigest()}
        reports = read_reports(storage, listed, unchanged)
        compat = conflate(reports, revision=revision)
        if storage.put_if_unchanged(summary_key, _summary_json(compat, reports), etag, content_type="application/json") is None:
            continue  # another conflation came first: read everything again
        return compat
    raise PreconditionFailed(f"{summary_key} kept changing; gave up after {MAX_ATTEMPTS} attempts")


def conflate_new(storage: Storage, reports_prefix: str, reports: dict[tuple[str, str], ToolReport]) -> Compatibility:
    """Score the reports of a version not listed anywhere yet (an import writes it before its
    commit: nobody else writes there) and write its `compatibility.json` as revision 1, so a
    re-run writes the same bytes."""
    compat = conflate(reports, revision=1)
    storage.put_bytes(keys.conflated_summary(reports_prefix), _summary_json(compat, reports), content_type="application/json")
    return compat


def apply_brief(record: ConceptRecord, subject: str, draft_token: str | None, compat: Compatibility) -> None:
    """Put `compat` on the draft/version unless it holds a newer one already."""
    if subject == "draft":
        holder = record.draft if record.draft is not None and record.draft.token == draft_token else None
    else:
        holder = record.versions.get(subject)
    if holder is None:
        return
    if holder.compatibility is None or holder.compatibility.revision < compat.revision:
        holder.compatibility = compat


def conflate_target(storage: Storage, concepts: ConceptStore, concept_id: str, subject: str,
                    reports_prefix: str, draft_token: str | None = None) -> Compatibility:
    """Conflate one draft/version and note the brief on its concept document."""
    compat = conflate_reports(storage, reports_prefix)
    concepts.update(concept_id, lambda record: apply_brief(record, subject, draft_token, compat))
    return compat

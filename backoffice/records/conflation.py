"""Conflate the stored reports of one draft or version into `compatibility.json` beside
them (scores by `scoring.conflate`, every report parsed in `tests`, and in `etags` the
etag of each report file it was made from), and put the brief on the concept document
for the index. Two ways:

- full (`conflate_reports`): list the `reports/` folder, read every
  `<tool>_<version>.json`, score them all. The tests' path, `backoffice conflate`, the
  repair of an interrupted ingest (`records/pending.py`) and whenever the merge below
  cannot be trusted;
- merge (`merge_reports`): an ingest that just stored some reports adds them to the
  stored `compatibility.json` (its `tests` hold the others, parsed): one read and one
  write, no listing, no other report read. A missing summary of a version that was never
  conflated is created directly (one write). It falls back to the full way when the
  summary is in the old format (no `etags`), missing although the concept document has a
  brief, or cannot represent every report it names (two files of one release, `CAREamics`
  and `careamics`, keep only the better in `tests`).

Only versions whose reports changed are conflated, so the index stays incremental.
Concurrent conflations of one version cannot lose a report: `compatibility.json` is
replaced only if unchanged since it was read (else it is read again), each write raises
its `revision`, and the concept document takes a brief only if its revision is newer than
the one it has. A report stored and not yet merged when its writer dies is covered by
the writer's pending object (`records/pending.py`), whose repair conflates in full.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ..log import logger
from ..storage.base import ObjectNotFound, PreconditionFailed, Storage, etag_of
from . import keys
from .concept import ConceptRecord, ConceptStore, DraftRecord, VersionRecord
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


def _summary_json(compat: Compatibility, reports: Mapping[tuple[str, str], ToolReport], etags: Mapping[str, str] | None) -> bytes:
    """`etags`: report file name -> etag of the stored file each report was read from (None:
    not known, the next merge conflates in full)."""
    tests = {tool: {v: r.model_dump(mode="json") for v, (_, r) in releases.items()} for tool, releases in by_tool(reports).items()}
    data: dict[str, Any] = {**compat.model_dump(mode="json"), "tests": tests}
    if etags is not None:
        data["etags"] = dict(sorted(etags.items()))
    return json.dumps(data, ensure_ascii=False, sort_keys=True).encode()


def _revision(data: bytes) -> int:
    try:
        value: Any = json.loads(data)
        return int(value.get("revision", 0)) if isinstance(value, dict) else 0  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType]
    except (ValueError, TypeError):
        return 0


def conflate_reports(storage: Storage, reports_prefix: str, known: Mapping[str, bytes] | None = None,
                     *, after: int = 0) -> Compatibility:
    """Read, score and write `compatibility.json` of one draft/version; returns the brief.
    `known`: reports the caller has just stored there, by key (listed, not read again);
    `after`: the revision must be above this one (the brief the concept document holds)."""
    summary_key = keys.conflated_summary(reports_prefix)
    for _ in range(MAX_ATTEMPTS):
        etag: str | None
        try:
            old, etag = storage.get(summary_key)
        except ObjectNotFound:
            old, etag = b"{}", None
        revision = max(_revision(old), after) + 1
        listed = {i.key: i.etag for i in storage.list(reports_prefix) if _is_report(reports_prefix, i.key)}
        # a report the caller just stored is not read again, unless it changed since
        unchanged = {k: d for k, d in (known or {}).items() if listed.get(k) == etag_of(d)}
        reports = read_reports(storage, listed, unchanged)
        compat = conflate(reports, revision=revision)
        etags = {key[len(reports_prefix):]: e for key, e in listed.items()
                 if split_report_name(key[len(reports_prefix):]) in reports}
        if storage.put_if_unchanged(summary_key, _summary_json(compat, reports, etags), etag,
                                    content_type="application/json") is None:
            continue  # another conflation came first: read everything again
        return compat
    raise PreconditionFailed(f"{summary_key} kept changing; gave up after {MAX_ATTEMPTS} attempts")


def conflate_new(storage: Storage, reports_prefix: str, reports: dict[tuple[str, str], ToolReport],
                 etags: Mapping[str, str] | None = None) -> Compatibility:
    """Score the reports of a version not listed anywhere yet (an import writes it before its
    commit: nobody else writes there) and write its `compatibility.json` as revision 1, so a
    re-run writes the same bytes. `etags`: report file name -> etag of the stored file."""
    compat = conflate(reports, revision=1)
    storage.put_bytes(keys.conflated_summary(reports_prefix), _summary_json(compat, reports, etags), content_type="application/json")
    return compat


class _CannotMerge(Exception):
    """The stored summary cannot take a merge: conflate in full."""


def _held(summary: bytes) -> tuple[int, dict[tuple[str, str], ToolReport], dict[str, str]]:
    """(revision, reports by (tool, version), etags by file name) of a stored summary that names
    the etag of every report it holds; _CannotMerge otherwise."""
    try:
        data: Any = json.loads(summary)
        etags: dict[str, str] = {str(k): str(v) for k, v in data["etags"].items()}
        compat = Compatibility.model_validate({k: v for k, v in data.items() if k not in ("tests", "etags")})
        reports: dict[tuple[str, str], ToolReport] = {}
        for tool, releases in compat.reports.items():
            for version, brief in releases.items():
                reports[split_report_name(brief.file)] = ToolReport.model_validate(data["tests"][tool][version])
    except (ValueError, TypeError, KeyError, AttributeError, ReportProblem) as e:
        raise _CannotMerge(f"not a summary with etags ({e})") from None
    if {split_report_name(name) for name in etags} != set(reports):
        raise _CannotMerge("its reports and etags differ (two files of one release?)")
    return compat.revision, reports, etags


def merge_reports(storage: Storage, reports_prefix: str, stored: Mapping[str, tuple[ToolReport, str]],
                  brief_revision: int | None) -> Compatibility:
    """Add reports just stored in `reports_prefix` (key -> (parsed report, etag of the write)) to
    its `compatibility.json`; returns the brief. `brief_revision`: that of the brief the concept
    document holds, None if it holds none: then a missing summary means no other report is
    there (the first try creates the summary without reading). Conflates in full where a
    merge cannot be trusted (see the module docstring)."""
    summary_key = keys.conflated_summary(reports_prefix)
    mine = {split_report_name(key[len(reports_prefix):]): (key[len(reports_prefix):], r, e) for key, (r, e) in stored.items()}
    never_conflated = brief_revision is None
    first = never_conflated
    for _ in range(MAX_ATTEMPTS):
        revision, reports, etags = 0, dict[tuple[str, str], ToolReport](), dict[str, str]()
        etag: str | None = None
        if not first:
            try:
                old, etag = storage.get(summary_key)
            except ObjectNotFound:
                if not never_conflated:  # a brief without its summary: recount
                    return conflate_reports(storage, reports_prefix, after=brief_revision or 0)
                old = None
            if old is not None:
                try:
                    revision, reports, etags = _held(old)
                except _CannotMerge as e:
                    logger.info("%s: %s; conflating in full", summary_key, e)
                    return conflate_reports(storage, reports_prefix, after=brief_revision or 0)
        first = False
        for ref, (name, report, report_etag) in mine.items():
            reports[ref] = report
            etags[name] = report_etag
        compat = conflate(reports, revision=max(revision, brief_revision or 0) + 1)
        if storage.put_if_unchanged(summary_key, _summary_json(compat, reports, etags), etag,
                                    content_type="application/json") is not None:
            return compat
    raise PreconditionFailed(f"{summary_key} kept changing; gave up after {MAX_ATTEMPTS} attempts")


def _holder(record: ConceptRecord, subject: str, draft_token: str | None) -> DraftRecord | VersionRecord | None:
    if subject == "draft":
        return record.draft if record.draft is not None and record.draft.token == draft_token else None
    return record.versions.get(subject)


def apply_brief(record: ConceptRecord, subject: str, draft_token: str | None, compat: Compatibility) -> None:
    """Put `compat` on the draft/version unless it holds a newer one already."""
    holder = _holder(record, subject, draft_token)
    if holder is None:
        return
    if holder.compatibility is None or holder.compatibility.revision < compat.revision:
        holder.compatibility = compat


def conflate_target(storage: Storage, concepts: ConceptStore, concept_id: str, subject: str,
                    reports_prefix: str, draft_token: str | None = None) -> Compatibility:
    """Conflate one draft/version and note the brief on its concept document. The new
    revision is above the brief the document holds, so it is taken even where the summary
    file was lost (a summary made afresh would start at revision 1)."""
    record = concepts.find(concept_id)
    holder = _holder(record, subject, draft_token) if record is not None else None
    held = holder.compatibility.revision if holder is not None and holder.compatibility is not None else 0
    compat = conflate_reports(storage, reports_prefix, after=held)
    concepts.update(concept_id, lambda record: apply_brief(record, subject, draft_token, compat))
    return compat

"""The dashboard's per-concept detail file, planned from records and reports: pure.

A detail file is small and self-contained: the draft's static validation by field,
each weight format's verdict with the reason of a failure, partner results, the log
(step, actor, time, CI run) and the chat. The dashboard fetches it when a reviewer
expands a draft or a card, so the first page only needs the index files.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, cast

from ..records import keys
from ..records.changes import verdict_changes
from ..records.concept import ConceptRecord, DraftRecord, ReportBrief, VersionRecord
from ..records.weight_scan import WeightScan
from ..records.journal import ChatMessage, LogEntry

UrlOf = Callable[[str], str]
OWN_TOOLS = ("bioimageio.spec", "bioimageio.core")
MAX_TEXT = 2000
"""Longest message or reason kept (a failure's reason keeps its last lines of output)."""
MAX_ISSUES = 200
"""Most validation errors/warnings kept per draft."""


IMPORT_WORDS: dict[str, str] = {"create": "imported", "extend": "imported", "mirror": "mirrored the files of", "update": "updated"}
"""The import log's action words (its plan's actions) as a reviewer reads them."""
_IMPORT_MESSAGE = re.compile(r"^imported from (?P<source>.+) at (?P<at>\S+): (?P<action>[a-z]+) (?P<rest>.*)$", re.DOTALL)


def log_message(entry: LogEntry) -> str:
    """A log entry's message for reviewers: an import's `create v0; 3 reports` reads `imported v0; 3 reports (from <source>)`."""
    m = _IMPORT_MESSAGE.match(entry.message) if entry.step == "import" else None
    if m is None or m["action"] not in IMPORT_WORDS:
        return entry.message
    return f"{IMPORT_WORDS[m['action']]} {m['rest']} (from {m['source']})"


def clip(text: Any, limit: int = MAX_TEXT) -> str:
    value = "" if text is None else str(text)
    return value if len(value) <= limit else value[: limit - 1] + "…"


def _loc(loc: Any) -> str:
    if isinstance(loc, (list, tuple)):
        return ".".join(str(x) for x in cast(Sequence[Any], loc))
    return "" if loc is None else str(loc)


def validation_by_field(summary: Mapping[str, Any]) -> dict[str, Any]:
    """bioimageio.spec's validation summary as errors and warnings, each with its field."""
    errors: list[dict[str, str]] = []
    warnings: list[dict[str, str]] = []
    details: Any = summary.get("details")
    for detail in cast(list[Any], details) if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        d = cast(dict[str, Any], detail)
        for kind, out in (("errors", errors), ("warnings", warnings)):
            issues: Any = d.get(kind)
            for issue in cast(list[Any], issues) if isinstance(issues, list) else []:
                if isinstance(issue, dict) and len(out) < MAX_ISSUES:
                    i = cast(dict[str, Any], issue)
                    out.append({"field": _loc(i.get("loc")) or str(d.get("loc") or ""), "msg": clip(i.get("msg"))})
    return {"status": str(summary.get("status") or ""), "name": clip(summary.get("name"), 200), "errors": errors, "warnings": warnings}


def failure_reason(report: Mapping[str, Any]) -> str | None:
    """The first error of a report: `<field>: <message>` (or a partner report's `error`)."""
    if report.get("error"):
        return clip(report["error"])
    for issue in validation_by_field(report)["errors"]:
        field = issue["field"]
        return clip(f"{field}: {issue['msg']}" if field else issue["msg"])
    return None


def _verdict(report: Mapping[str, Any] | None) -> dict[str, Any]:
    value: Any = report.get("verdict") if report is not None else None
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def kept_outputs(report: Mapping[str, Any] | None, reports_prefix: str, url_of: UrlOf) -> list[dict[str, Any]]:
    """The produced outputs a test kept, with the figures of each (for a reproduction failure)."""
    out: list[dict[str, Any]] = []
    outputs: Any = _verdict(report).get("outputs")
    for name, raw in sorted(cast(dict[str, Any], outputs).items()) if isinstance(outputs, dict) else []:
        if not isinstance(raw, dict):
            continue
        figures = cast(dict[str, Any], raw)
        kept: Any = figures.get("kept")
        key: Any = cast(dict[str, Any], kept).get("key") if isinstance(kept, dict) else None
        out.append({
            "output": str(name),
            **{k: figures.get(k) for k in ("integer", "tolerance", "max_abs_error", "max_rel_error", "mismatched_ppm",
                                           "exact_match_fraction", "reproduces")},
            "kept_url": url_of(reports_prefix + key) if isinstance(key, str) and key else None,
        })
    return out


def _test(name: str, brief: ReportBrief, report: Mapping[str, Any] | None) -> dict[str, Any]:
    reason = None
    if report is not None and brief.status == "failed":
        reason = failure_reason(report)
    elif brief.status == "warning":
        reason = clip(_verdict(report).get("reason") or "runs but does not reproduce its test outputs")
    return {
        "name": name,
        "tool": brief.tool or name,
        "weight_format": brief.weight_format,
        "status": brief.status,
        "runs": brief.runs,
        "reproduces": brief.reproduces,
        "hardware": brief.hardware,
        "by_hardware": dict(brief.by_hardware),
        "time": brief.timestamp.isoformat(),
        "reason": reason,
    }


def _stored_name(name: str, brief: ReportBrief, static_parts: Sequence[str]) -> str:
    """Where the result `name` is stored below `reports/`: our own checks are parts of the
    assembled `bioimageio.core_<version>` report (`parts/<stem>/<weight format|static>`),
    a partner's report is a file of its own."""
    wf = brief.weight_format
    if brief.tool == "bioimageio.core" and wf and name.endswith(f"_{wf}"):
        return f"parts/{name[: -len(wf) - 1]}/{wf}"
    if brief.tool == "bioimageio.spec" and wf is None and static_parts:
        return static_parts[-1]
    return name


def _tests(
    tests: Mapping[str, ReportBrief], reports: Mapping[str, Mapping[str, Any]], reports_prefix: str, url_of: UrlOf
) -> dict[str, Any]:
    """Static validation, dynamic tests and partner results of one draft or version."""
    validation: dict[str, Any] | None = None
    dynamic: list[dict[str, Any]] = []
    partners: list[dict[str, Any]] = []
    static_parts = sorted(n for n in reports if n.startswith("parts/") and n.endswith("/static"))
    for name, brief in sorted(tests.items(), key=lambda nt: (nt[1].weight_format or "", nt[0])):
        stored = _stored_name(name, brief, static_parts)
        report = reports.get(stored)
        entry = _test(name, brief, report)
        entry["report_url"] = url_of(f"{reports_prefix}{stored}.json")
        if brief.runs is not None:
            entry["outputs"] = kept_outputs(report, reports_prefix, url_of)
        if brief.tool == "bioimageio.spec" and brief.weight_format is None:
            validation = {**(validation_by_field(report) if report is not None else {}), **entry}
        elif brief.tool in OWN_TOOLS:
            dynamic.append(entry)
        else:
            partners.append(entry)
    listed = set(tests)
    for name, report in sorted(reports.items()):  # partner reports without a brief on the record
        if name not in listed and not name.startswith((*OWN_TOOLS, "parts/")):
            partners.append({
                "name": name, "tool": name.split("_", 1)[0], "weight_format": None,
                "status": str(report.get("status") or "unknown"), "score": report.get("score"),
                "reason": failure_reason(report) if report.get("status") == "failed" else None,
                "report_url": url_of(f"{reports_prefix}{name}.json"),
            })
    return {"validation": validation, "tests": dynamic, "partners": partners}


def _time(value: datetime) -> str:
    return value.isoformat()


def _scan(scan: WeightScan | None) -> dict[str, Any] | None:
    """The weight safety scan: verdict, files with the globals that fail it (dangerous, or not known to be harmless), the formats' notes."""
    if scan is None:
        return None
    return {
        "scanner": scan.scanner, "status": scan.status, "checked": scan.checked, "formats": scan.formats,
        "files": [{"file": f.file, "kind": f.kind, "weight_format": f.weight_format, "problem": f.problem, "error": f.error,
                   "harmless": f.harmless + sum(g.level == "harmless" for g in f.globals),
                   "flagged": [{"global": g.dotted, "level": g.level, "where": g.where} for g in f.globals if g.level != "harmless"]}
                  for f in scan.files],
    }


def _changes(draft: DraftRecord, latest: VersionRecord | None) -> dict[str, Any] | None:
    """What the draft changes against the latest version: the diff kept at staging, verdicts now."""
    if latest is None:
        return None
    old = {n: b.status for n, b in latest.tests.items()}
    new = {n: b.status for n, b in draft.tests.items()}
    diff: dict[str, Any] = (draft.changes.model_dump(mode="json") if draft.changes is not None
                            else {"old": latest.version, "fields": None, "files": None})
    diff["verdicts"] = [v.model_dump(mode="json") for v in verdict_changes(old, new)]
    return diff


def plan_detail(
    record: ConceptRecord,
    *,
    emoji: str | None,
    log: Sequence[LogEntry],
    chat: Sequence[ChatMessage],
    draft_reports: Mapping[str, Mapping[str, Any]],
    version_reports: Mapping[str, Mapping[str, Any]],
    url_of: UrlOf,
) -> dict[str, Any]:
    """The detail file of one concept (`version_reports`: those of its latest version)."""
    draft: dict[str, Any] | None = None
    d = record.draft
    if d is not None:
        files = keys.draft_files(record.id, d.token)
        s = d.summary
        draft = {
            "status": d.status.value,
            "version": s.version,
            "name": s.name or record.id,
            "description": clip(s.description),
            "uploader": d.uploader,
            "reviewer": d.reviewer,
            "created": _time(d.created),
            "updated": _time(d.updated),
            "source": d.source if "://" in d.source else None,
            "rdf_source": url_of(files + d.rdf_name),
            "rdf_sha256": d.rdf_sha256,
            # what the reviewer approves: `publish --draft-sha256` publishes only a draft with exactly these files
            "draft_sha256": d.files_sha256,
            "covers": [c if "://" in c else url_of(files + c) for c in s.covers],
            "thumbnails": {url_of(files + c): url_of(files + t) for c, t in s.thumbnails.items()},
            "warnings": [clip(w) for w in d.warnings],
            "expected_tests": d.expected_tests,
            "weight_scan": _scan(d.weight_scan),
            "changes": _changes(d, list(record.versions.values())[-1] if record.versions else None),
            **_tests(d.tests, draft_reports, keys.draft_reports(record.id, d.token), url_of),
        }
    versions: list[dict[str, Any]] = []
    for i, v in enumerate(reversed(list(record.versions.values()))):
        entry: dict[str, Any] = {
            "version": v.version, "status": v.status.value, "published": _time(v.published),
            "published_by": v.published_by, "doi": v.doi, "weight_scan": _scan(v.weight_scan),
            "imported": v.legacy is not None,  # taken over from the running collection: `published` is its date there
        }
        if i == 0:
            entry.update(_tests(v.tests, version_reports, keys.version_reports(record.id, v.version, v.content), url_of))
        else:
            entry["tests"] = [_test(n, b, None) for n, b in sorted(v.tests.items())]
        versions.append(entry)
    return {
        "id": record.id,
        "type": record.type,
        "emoji": emoji,
        "owners": record.owners,
        "concept_doi": record.concept_doi,
        "draft": draft,
        "versions": versions,
        "log": [
            {"time": _time(e.timestamp), "step": e.step, "actor": e.actor, "subject": e.subject,
             "run_url": e.run_url, "message": clip(log_message(e))}
            for e in log
        ],
        "chat": [{"time": _time(m.timestamp), "author": m.author, "text": clip(m.text, 10_000)} for m in chat],
    }

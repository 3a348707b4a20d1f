"""Validation and test results of a draft or version: each stored in full as a part of the
`bioimageio.core_<version>.json` compatibility report (assembled from all parts), noted on
the concept document, conflated with every other report of the draft/version, logged."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, Protocol, cast

from ..storage.base import Storage
from .concept import ConceptRecord, ConceptStore, ReportBrief
from .conflation import conflate_target
from .core_report import STATIC_PART, assemble_report, store_part
from .report_names import current_core_version
from .target import Target
from .verdicts import Verdict

Status = Literal["passed", "warning", "failed", "valid-format", "skipped"]


class StepRecorder(Protocol):
    """Appends a log entry for a step (`Context.record_step`)."""

    def __call__(self, concept_id: str, step: str, message: str, *, actor: str | None = None,
                 subject: str = "draft", details: Any = None) -> None: ...


def _error_of(report: dict[str, Any], status: str) -> str | None:
    """The first error message of a bioimageio summary (for the assembled report)."""
    if status != "failed":
        return None
    details: Any = report.get("details") or []
    for detail in cast(list[Any], details) if isinstance(details, list) else []:
        if not isinstance(detail, dict):
            continue
        d = cast(dict[str, Any], detail)
        for err in cast(list[Any], d.get("errors") or []):
            msg = str(cast(dict[str, Any], err).get("msg", "")).strip() if isinstance(err, dict) else ""
            if msg:
                return f"{d.get('name', '')}: {msg}"
    return "failed"


def store_report(
    storage: Storage,
    concepts: ConceptStore,
    record_step: StepRecorder,
    target: Target,
    name: str,
    status: Status,
    report: dict[str, Any],
    *,
    step: str,
    message: str,
    actor: str | None = None,
    tool: str = "",
    weight_format: str | None = None,
    verdict: Verdict | None = None,
    kept: Mapping[str, bytes] | None = None,
) -> str:
    """Store `report` as a part of our `bioimageio.core_<version>.json` report (the static checks,
    or one weight format with its `verdict` and `kept` outputs), assemble that report, note the
    result, conflate, log. Returns the part's key."""
    part = weight_format or STATIC_PART
    core = current_core_version()
    body = store_part(storage, target.reports_prefix, core, part, status, report, _error_of(report, status),
                      verdict=verdict, kept=kept)
    key = str(body["key"])
    assemble_report(storage, target.reports_prefix, core)
    history: Any = body.get("by_hardware") or {}
    extra: dict[str, Any] = {} if verdict is None else {
        "runs": verdict.runs, "reproduces": verdict.reproduces, "hardware": verdict.hardware,
        "by_hardware": {str(h): str(cast(dict[str, Any], v).get("outcome")) for h, v in cast(dict[str, Any], history).items()
                        if isinstance(v, dict)},
    }

    def mutate(record: ConceptRecord) -> None:
        if target.subject == "draft":
            draft = record.require_draft()
            if draft.token != target.draft_token:
                return  # a new upload replaced the draft meanwhile; its tests start afresh
            draft.tests[name] = ReportBrief(status=status, report=name, tool=tool, weight_format=weight_format, **extra)
        elif target.subject in record.versions:
            record.versions[target.subject].tests[name] = ReportBrief(status=status, report=name, tool=tool,
                                                                      weight_format=weight_format, **extra)

    concepts.update(target.concept_id, mutate)
    conflate_target(storage, concepts, target.concept_id, target.subject, target.reports_prefix, target.draft_token)
    record_step(target.concept_id, step, message, actor=actor, subject=target.subject, details=report)
    return key

"""Validation and compatibility reports of a draft or version: stored in full next to
its files, summarised on the concept document, logged with their details."""

from __future__ import annotations

import json
from typing import Any, Literal, Protocol

from ..storage.base import Storage
from .concept import ConceptRecord, ConceptStore, ReportBrief
from .target import Target

Status = Literal["passed", "failed", "valid-format", "skipped"]


class StepRecorder(Protocol):
    """Appends a log entry for a step (`Context.record_step`)."""

    def __call__(self, concept_id: str, step: str, message: str, *, actor: str | None = None,
                 subject: str = "draft", details: Any = None) -> None: ...


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
) -> str:
    """Store `report` as `<reports>/<name>.json`, note its status, log it. Returns the key."""
    key = f"{target.reports_prefix}{name}.json"
    storage.put_bytes(key, json.dumps(report, indent=1, default=str).encode(), content_type="application/json")

    def mutate(record: ConceptRecord) -> None:
        if target.subject == "draft":
            draft = record.require_draft()
            if draft.token != target.draft_token:
                return  # a new upload replaced the draft meanwhile; its tests start afresh
            draft.tests[name] = ReportBrief(status=status, report=name, tool=tool, weight_format=weight_format)
        elif target.subject in record.versions:
            record.versions[target.subject].tests[name] = ReportBrief(status=status, report=name, tool=tool, weight_format=weight_format)

    concepts.update(target.concept_id, mutate)
    record_step(target.concept_id, step, message, actor=actor, subject=target.subject, details=report)
    return key

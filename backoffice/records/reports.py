"""Validation and compatibility reports of a draft or version: stored in full next to
its files, summarised on the concept document, logged with their details."""

from __future__ import annotations

import json
from typing import Any, Literal

from ..context import Context
from ..validate.target import Target
from .concept import ConceptRecord, TestBrief

Status = Literal["passed", "failed", "valid-format", "skipped"]


def store_report(
    ctx: Context,
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
    ctx.storage.put_bytes(key, json.dumps(report, indent=1, default=str).encode(), content_type="application/json")

    def mutate(record: ConceptRecord) -> None:
        if target.subject == "draft":
            draft = record.require_draft()
            if draft.token != target.draft_token:
                return  # a new upload replaced the draft meanwhile; its tests start afresh
            draft.tests[name] = TestBrief(status=status, report=name, tool=tool, weight_format=weight_format)
        elif target.subject in record.versions:
            record.versions[target.subject].tests[name] = TestBrief(status=status, report=name, tool=tool, weight_format=weight_format)

    ctx.concepts.update(target.concept_id, mutate)
    ctx.record_step(target.concept_id, step, message, actor=actor, subject=target.subject, details=report)
    return key

"""`backoffice validate-format`: static validation with bioimageio.spec (io checks on).

The full validation summary goes into the log and is stored as a report; the draft
moves to `testing` and learns which dynamic tests to expect (one per weight format).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..context import Context
from ..records.concept import ConceptRecord
from ..records.report_names import spec_report
from ..records.reports import store_report
from ..records.status import DraftStatus, check_step
from ..records.target import Target, local_files, resolve_target
from ..weight_formats import WEIGHT_FORMATS


@dataclass(frozen=True)
class StaticResult:
    target: Target
    status: str
    report_name: str
    markdown: str
    summary: dict[str, Any]
    dynamic_formats: list[str]
    """Weight formats that get a dynamic test (the test matrix)."""
    static_only_formats: list[str]
    """Weight formats checked statically only (e.g. tensorflow_js)."""

    @property
    def matrix(self) -> dict[str, list[dict[str, str]]]:
        return {"include": [{"weight_format": wf} for wf in self.dynamic_formats]}


def spec_version() -> str:
    from bioimageio.spec import __version__

    return str(__version__)


def failed_summary(name: str, source: str, error: str, tb: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    """A summary in bioimageio.spec's shape for a check that could not complete."""
    return {
        "name": name,
        "source_name": source,
        "status": "failed",
        "details": [{"name": name, "status": "failed", "errors": [{"loc": [], "msg": error, "type": "error", "traceback": tb or []}], "warnings": []}],
        **extra,
    }


def run_spec_validation(rdf: Path) -> tuple[str, dict[str, Any], str]:
    """(status, summary as JSON data, markdown) of bioimageio.spec's validation of `rdf`."""
    from bioimageio.spec import load_description

    try:
        descr = load_description(rdf, perform_io_checks=True)
        summary = descr.validation_summary
        data = summary.model_dump(mode="json")
        return str(summary.status), data, str(summary.format_md())
    except Exception as e:  # e.g. a lookup that failed inside the library
        error = f"bioimageio.spec could not validate the description: {type(e).__name__}: {e}"
        data = failed_summary("bioimageio.spec static validation", str(rdf), error, traceback.format_exc().splitlines())
        return "failed", data, f"# ❌ static validation failed\n\n{error}\n"


def validate_format(ctx: Context, concept_id: str, which: str = "draft", actor: str | None = None) -> StaticResult:
    target = resolve_target(ctx.concepts, concept_id, which)
    if target.subject == "draft":  # refuse before anything is stored (e.g. a draft being published)
        status = target.record.require_draft().status
        if status != DraftStatus.TESTING:
            check_step(status, DraftStatus.TESTING, what=f"draft of '{concept_id}'")
    with local_files(ctx.storage, target) as folder:
        status, summary, markdown = run_spec_validation(folder / target.rdf_name)
    name = spec_report(spec_version())
    declared = target.summary.weight_formats if target.record.type == "model" else []
    dynamic = [wf for wf in declared if wf in WEIGHT_FORMATS and WEIGHT_FORMATS[wf].dynamic]
    static_only = [wf for wf in declared if wf not in dynamic]
    if status == "failed":
        dynamic = []  # nothing to run; the failed static check is the verdict
    store_report(
        ctx.storage, ctx.concepts, ctx.record_step, target, name, "failed" if status == "failed" else "valid-format", summary,
        step="validate-format", message=f"static validation {status}", actor=actor, tool="bioimageio.spec",
    )
    if target.subject == "draft":
        expected = list(dynamic)

        def mutate(record: ConceptRecord) -> None:
            draft = record.require_draft()
            if draft.token != target.draft_token:
                return
            if draft.status != DraftStatus.TESTING:
                record.set_draft_status(DraftStatus.TESTING)
            draft.expected_tests = expected
            # a new round of tests: earlier dynamic results must not count towards it
            draft.tests = {k: t for k, t in draft.tests.items() if t.tool != "bioimageio.core"}

        ctx.concepts.update(concept_id, mutate)
    return StaticResult(target, status, name, markdown, summary, dynamic, static_only)

"""`backoffice validate-format`: static validation with bioimageio.spec (io checks on).

The full validation summary goes into the log and is stored as a report; the draft
moves to `testing` and learns which dynamic tests to expect (one per weight format).
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ..context import Context
from ..notify.mail import notify_uploader
from ..records.concept import ConceptRecord, DraftRecord
from ..records.report_names import spec_report
from ..records.reports import store_report
from ..records.status import DraftStatus, check_step
from ..records.target import Target, rdf_source, resolve_target
from ..records.weight_scan import FileScan, WeightScan, assess
from ..resource_types import dynamic_formats, static_only_formats
from ..util.yaml_guard import yaml_bytes_problem
from .pickle_scan import scanner_name
from .weight_safety import scan_target, with_scan


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
    weight_scan: WeightScan | None = None
    """The weight safety scan (part of `summary` too)."""

    @property
    def matrix(self) -> dict[str, list[dict[str, str]]]:
        from ..gh_actions import matrix_of

        return matrix_of({"weight_format": wf} for wf in self.dynamic_formats)


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


def run_spec_validation(rdf: Path | str) -> tuple[str, dict[str, Any], str]:
    """(status, summary as JSON data, markdown) of bioimageio.spec's validation of `rdf` (a path or URL)."""
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


def _validate(ctx: Context, target: Target) -> tuple[str, dict[str, Any], str]:
    """bioimageio.spec's validation, unless the rdf is a YAML bomb: its loader would expand it."""
    problem = yaml_bytes_problem(ctx.storage.get_bytes(target.rdf_key), target.rdf_name)
    if problem:
        data = failed_summary("bioimageio.spec static validation", target.rdf_name, problem)
        return "failed", data, f"# ❌ static validation failed\n\n{problem}\n"
    with rdf_source(ctx.storage, target) as rdf:
        return run_spec_validation(rdf)


def check_can_validate(target: Target) -> None:
    """Refuse a draft that cannot (re)enter `testing`, before anything is stored."""
    if target.subject == "draft":  # refuse before anything is stored (e.g. a draft being published)
        status = target.record.require_draft().status
        if status != DraftStatus.TESTING:
            check_step(status, DraftStatus.TESTING, what=f"draft of '{target.concept_id}'")


def _checked(ctx: Context, target: Target) -> tuple[str, dict[str, Any], str, WeightScan]:
    """bioimageio.spec's validation, then the weight safety scan joined in (before any test loads a weight)."""
    status, summary, markdown = _validate(ctx, target)
    try:
        scan = scan_target(ctx.storage, target)
    except Exception as e:  # what cannot be scanned is not passed
        scan = assess(scanner_name(), [FileScan(file=target.rdf_name, kind="package", error=f"{type(e).__name__}: {e}"[:500])],
                      target.summary.weight_formats, 0)
    return (*with_scan(status, summary, markdown, scan), scan)


def _result(target: Target, status: str, summary: dict[str, Any], markdown: str, scan: WeightScan | None = None) -> StaticResult:
    rtype, declared = target.record.type, target.summary.weight_formats
    dynamic, static_only = dynamic_formats(rtype, declared), static_only_formats(rtype, declared)
    if status == "failed":
        dynamic = []  # nothing to run; the failed static check is the verdict
    return StaticResult(target, status, spec_report(spec_version()), markdown, summary, dynamic, static_only, scan)


def validate_format(ctx: Context, concept_id: str, which: str = "draft", actor: str | None = None) -> StaticResult:
    """Validate and record the result (see `record_validation`)."""
    target = resolve_target(ctx.concepts, concept_id, which)
    check_can_validate(target)
    result = _result(target, *_checked(ctx, target))
    record_validation(ctx, result, actor)
    return result


def validate_for_handover(ctx: Context, concept_id: str, which: str = "draft") -> StaticResult:
    """Validate without writing anything (the job without secrets): the caller hands the result over."""
    target = resolve_target(ctx.concepts, concept_id, which)
    check_can_validate(target)
    return _result(target, *_checked(ctx, target))


def validation_errors(summary: dict[str, Any], limit: int = 30) -> str:
    """The errors of a summary, one per line (for the uploader's e-mail)."""
    lines: list[str] = []
    details = cast(list[dict[str, Any]], summary.get("details") or [])
    for detail in details:
        for err in cast(list[dict[str, Any]], detail.get("errors") or []):
            loc = ".".join(str(x) for x in cast(list[Any], err.get("loc") or []))
            msg = " ".join(str(err.get("msg", "")).split())[:500]
            lines.append(f"- {loc + ': ' if loc else ''}{msg}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"- ... and {len(lines) - limit} more"]
    return "\n".join(lines) or "- (no error message)"


def _keep_version_scan(ctx: Context, target: Target, scan: WeightScan | None) -> None:
    if scan is None:
        return

    def mutate(record: ConceptRecord) -> None:
        if target.subject in record.versions:
            record.versions[target.subject].weight_scan = scan

    ctx.concepts.update(target.concept_id, mutate)


def record_validation(ctx: Context, result: StaticResult, actor: str | None) -> None:
    """Store the report; a draft moves to `testing` and learns its expected dynamic tests, or,
    when the validation failed, goes back to its uploader (`changes requested`, e-mail with
    the errors): no reviewer sees a package that does not even validate."""
    target = result.target
    failed = result.status == "failed"
    store_report(
        ctx.storage, ctx.concepts, ctx.record_step, target, result.report_name, "failed" if failed else "valid-format",
        result.summary, step="validate-format", actor=actor,
        message=f"static validation {result.status}"
        + (f"; weight safety scan {result.weight_scan.status}" if result.weight_scan is not None else ""),
        tool="bioimageio.spec",
    )
    if target.subject != "draft":
        _keep_version_scan(ctx, target, result.weight_scan)
        return
    expected = list(result.dynamic_formats)

    def mutate(record: ConceptRecord) -> DraftRecord | None:
        draft = record.require_draft()
        if draft.token != target.draft_token:
            return None
        if draft.status != DraftStatus.TESTING:
            record.set_draft_status(DraftStatus.TESTING)
        draft.expected_tests = expected
        draft.weight_scan = result.weight_scan
        # a new round of tests: earlier dynamic results must not count towards it
        draft.tests = {k: t for k, t in draft.tests.items() if t.tool != "bioimageio.core"}
        if failed:
            record.set_draft_status(DraftStatus.CHANGES_REQUESTED)
        return draft.model_copy()

    draft = ctx.concepts.update(target.concept_id, mutate)
    if draft is None or not failed:
        return
    errors = validation_errors(result.summary)
    ctx.record_step(target.concept_id, "validate-format", "static validation failed: changes requested from the uploader",
                    actor=actor, details={"errors": errors})
    notify_uploader(ctx, target.concept_id, "validation_failed", version=draft.summary.version, reason=errors,
                    uploader=draft.uploader, uploader_email=draft.summary.uploader_email)

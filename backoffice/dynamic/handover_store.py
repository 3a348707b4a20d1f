"""`backoffice store-test-result`: the job with the storage credentials stores what the
job without them handed over (it runs no uploaded code, it only reads a checked file)."""

from __future__ import annotations

from dataclasses import dataclass

from ..context import Context
from ..errors import ConflictError, InvalidArgumentError
from ..records.handover import Handover
from ..records.report_names import core_report, spec_report
from ..records.reports import store_report
from ..validate.static import StaticResult, check_can_validate, record_validation, spec_version
from ..records.target import Target, resolve_target
from ..records.verdicts import derive_verdict
from .run import core_version, enter_testing, first_error, maybe_finish_testing, result_message


@dataclass(frozen=True)
class Stored:
    report_name: str
    status: str
    first_error: str | None


def _check_matches(handover: Handover, target: Target, concept_id: str, which: str) -> None:
    if handover.concept_id != concept_id or handover.subject != which:
        raise InvalidArgumentError(
            f"the hand-over is for {handover.concept_id} {handover.subject}, not {concept_id} {which}")
    if target.subject == "draft" and handover.draft_token != target.draft_token:
        raise ConflictError(f"the draft of '{concept_id}' was replaced by a new upload since this result was made; it is not stored")


def store_handover(ctx: Context, concept_id: str, which: str, handover: Handover, actor: str | None = None) -> Stored:
    """Store a checked hand-over as the report it describes, with the step's effects on the draft."""
    target = resolve_target(ctx.concepts, concept_id, which)
    _check_matches(handover, target, concept_id, which)
    summary = handover.summary_data()
    if handover.step == "validate-format":
        if handover.tool != "bioimageio.spec" or handover.weight_format:
            raise InvalidArgumentError("a validate-format hand-over comes from bioimageio.spec, without a weight format")
        check_can_validate(target)
        declared = set(target.summary.weight_formats)
        if not set(handover.dynamic_formats) <= declared:
            raise InvalidArgumentError("the hand-over plans tests of weight formats the description does not have")
        result = StaticResult(target, handover.summary.status, spec_report(spec_version()), handover.markdown, summary,
                              list(handover.dynamic_formats), list(handover.static_only_formats), handover.weight_scan)
        record_validation(ctx, result, actor)
        return Stored(result.report_name, handover.status, first_error(summary) if handover.status == "failed" else None)
    wf = handover.weight_format
    if wf and wf not in target.summary.weight_formats:
        raise InvalidArgumentError(f"'{concept_id}' {which} has no '{wf}' weights")
    if handover.tool == "bioimageio.core" and not wf:
        raise InvalidArgumentError("a bioimageio.core hand-over names its weight format")
    enter_testing(ctx, target)
    name = core_report(core_version(), wf) if handover.tool == "bioimageio.core" else spec_report(spec_version())
    error = first_error(summary) if handover.status == "failed" else None
    what = wf or f"{target.record.type}: static checks only"
    # the verdicts are read here from the checks in the summary, not taken from the job that ran the code
    dynamic = handover.tool == "bioimageio.core" and handover.status != "valid-format"
    verdict = derive_verdict(summary, wf) if dynamic else None
    status = verdict.outcome if verdict is not None else handover.status
    store_report(
        ctx.storage, ctx.concepts, ctx.record_step, target, name, status, summary, step="test",
        message=result_message(what, status, error, handover.device, verdict),
        actor=actor, tool=handover.tool, weight_format=wf or None, verdict=verdict,
        kept=handover.kept_files() if verdict is not None else None,
    )
    maybe_finish_testing(ctx, target)
    return Stored(name, status, error)

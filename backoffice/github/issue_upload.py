"""Upload via issue: parse the form, stage the package, comment the outcome.

Whatever happens, the issue gets one comment saying it: staged (with the concept id
and version), what to fix in the form, or why staging failed. A comment that cannot
be posted is logged; it never changes the outcome of the staging.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..context import Context
from ..errors import BackofficeError
from ..log import logger
from ..stage.stage import StageResult, stage
from .issue_form import FormProblem, UploadRequest, parse_upload_request

Commenter = Callable[[str], object]
"""Posts a comment (markdown) on the issue."""


@dataclass(frozen=True)
class IssueUpload:
    request: UploadRequest
    result: StageResult
    comment: str


def _run_line(run_url: str | None) -> str:
    return f"\n\nWorkflow run: {run_url}" if run_url else ""


def problem_comment(problem: FormProblem, run_url: str | None = None) -> str:
    return (
        f"❌ **Nothing was staged**: {problem}.\n\n"
        "Edit the form in this issue to try again (saving the edit starts a new attempt)."
        + _run_line(run_url)
    )


def failure_comment(request: UploadRequest, error: BaseException, run_url: str | None = None) -> str:
    reason = str(error) if isinstance(error, BackofficeError) else (
        f"an unexpected {type(error).__name__}; the maintainers will find it in the workflow log"
    )
    return (
        f"❌ **Staging `{request.package_url}` failed**: {reason}\n\n"
        "Fix the package or the form, then edit this issue to try again."
        + _run_line(run_url)
    )


def success_comment(result: StageResult, run_url: str | None = None) -> str:
    return (
        f"✅ **Staged** as the draft of **`{result.concept_id}`**, version `{result.version}` "
        f"({result.files} files, {result.bytes} bytes).\n\n"
        f"Its description: {result.rdf_url}\n\n"
        "The tests start now; once they have finished the draft awaits review by the bioimage.io reviewers."
        + _run_line(run_url)
    )


def _post(comment: Commenter | None, text: str) -> None:
    if comment is None:
        return
    try:
        comment(text)
    except Exception as e:  # the staging outcome stands; the log says the comment is missing
        logger.error("could not comment on the issue: %s", e)


def stage_from_issue(
    ctx: Context, body: str, *, uploader: str | None, comment: Commenter | None, concept_id: str | None = None,
    new_concept_only: bool = False,
) -> IssueUpload:
    """Stage the package the issue form names (to `concept_id` if given: the concept the
    workflow's concurrency group was chosen for; else, with `new_concept_only`, only into a
    concept this staging creates, whatever id the form names); comment the outcome; re-raise failures."""
    run_url = ctx.settings.ci_run_url()
    try:
        request = parse_upload_request(body)
    except FormProblem as problem:
        _post(comment, problem_comment(problem, run_url))
        raise
    try:
        result = stage(ctx, request.package_url, concept_id=concept_id or request.concept_id, uploader=uploader, progress=False,
                       new_concept_only=new_concept_only and not concept_id)
    except Exception as e:
        _post(comment, failure_comment(request, e, run_url))
        raise
    text = success_comment(result, run_url)
    _post(comment, text)
    return IssueUpload(request, result, text)

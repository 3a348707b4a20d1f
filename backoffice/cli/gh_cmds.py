"""GitHub commands: plan-retest, stage-from-issue, comment-issue, dispatch-workflow."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import InvalidArgumentError
from ..gh_actions import append_summary, set_outputs
from ..log import logger
from ..retest.limits import MAX_MATRIX_JOBS, MAX_OUTPUT_BYTES
from .common import console, make_context


def register(app: typer.Typer) -> None:
    app.command("plan-retest")(plan_retest)
    app.command("stage-from-issue")(stage_from_issue)
    app.command("comment-issue")(comment_issue)
    app.command("dispatch-workflow")(dispatch_workflow)


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise InvalidArgumentError(f"cannot read {path}: {e.strerror or e}") from None


def plan_retest(
    only_missing: bool = typer.Option(False, "--only-missing", help="Only versions/weight formats without a report from the current bioimageio.core (or bioimageio.spec for static checks)."),
    chunk_size: int = typer.Option(MAX_MATRIX_JOBS, "--chunk-size", help=f"Jobs per matrix, 1 to {MAX_MATRIX_JOBS}."),
) -> None:
    """Plan test jobs for every published version, chunked as matrices for the retest workflow."""
    from ..retest.plan import plan_retest as make_plan
    from ..retest.plan import published_versions
    from ..retest.summary import plan_markdown

    if not 1 <= chunk_size <= MAX_MATRIX_JOBS:
        raise InvalidArgumentError(f"--chunk-size must be 1 to {MAX_MATRIX_JOBS}, not {chunk_size}")
    from ..dynamic.run import core_version
    from ..validate.static import spec_version

    ctx = make_context()
    records = [ctx.concepts.get(cid) for cid in ctx.concepts.list_ids()]
    versions = published_versions(records, ctx.curation)
    plan = make_plan(versions, core_version=core_version(), spec_version=spec_version(),
                     only_missing=only_missing, chunk_size=chunk_size)
    chunks = plan.fan_out_json()
    if plan.deferred:
        logger.warning("%d test jobs do not fit into one run (256 matrices of 256 jobs, %d bytes of step output)"
                       " and are deferred", len(plan.deferred), MAX_OUTPUT_BYTES)
    set_outputs({"chunks": chunks, "has_jobs": "yes" if plan.chunks else "no", "jobs": str(len(plan.jobs))})
    append_summary(plan_markdown(plan, only_missing))
    console.print(f"{len(versions)} published versions: {len(plan.jobs)} test jobs in {len(plan.chunks)} matrices"
                  + (f", {len(plan.deferred)} deferred" if plan.deferred else ""))


def stage_from_issue(
    issue: int = typer.Option(..., "--issue", help="Number of the issue holding the upload form."),
    body_file: Path = typer.Option(..., "--body-file", help="File with the issue's body (the rendered form)."),
    uploader: str | None = typer.Option(None, "--uploader", help="The issue's author: 'github|<number>'."),
    comment: bool = typer.Option(True, "--comment/--no-comment", help="Comment the outcome on the issue."),
    comment_output: bool = typer.Option(
        False, "--comment-output",
        help="Do not post the comment: put it into the step output `comment` for a job that may write to issues"
        " (the job holding the storage secret gets no `issues: write`).",
    ),
    concept_id: str | None = typer.Option(
        None, "--concept-id", help="Stage to this concept (`draft-concept`'s answer, whose concurrency group the job is in)."),
    new_concept_only: bool = typer.Option(
        False, "--new-concept-only",
        help="Without --concept-id: refuse a concept that exists, also the form's (the run waits in no draft's concurrency group).",
    ),
) -> None:
    """Stage the package named in an upload issue form and comment the outcome on the issue (the GitHub side of the
    upload workflow).
    """
    from ..github.api import GitHubClient
    from ..github.issue_upload import stage_from_issue as run

    body = _read_text(body_file)
    ctx = make_context()
    if comment_output:
        texts: list[str] = []
        try:
            done = run(ctx, body, uploader=uploader, comment=texts.append, concept_id=concept_id or None,
                       new_concept_only=new_concept_only)
        finally:
            set_outputs({"comment": "\n\n".join(texts)})
    else:
        client = GitHubClient(ctx.settings) if comment else None
        done = run(ctx, body, uploader=uploader, concept_id=concept_id or None, new_concept_only=new_concept_only,
                   comment=(lambda text: client.comment_on_issue(issue, text)) if client is not None else None)
    r = done.result
    set_outputs({"concept_id": r.concept_id, "version": r.version})
    console.print(f"issue #{issue}: staged {done.request.package_url} as draft of {r.concept_id} version {r.version}")


def comment_issue(
    issue: int = typer.Option(..., "--issue", help="Issue or pull request number."),
    body: str | None = typer.Option(None, "--body", help="Comment text (markdown)."),
    body_file: Path | None = typer.Option(None, "--body-file", help="File with the comment text."),
) -> None:
    """Comment on an issue or pull request of the repository."""
    from ..github.api import GitHubClient

    if body is not None and body_file is None:
        text = body
    elif body is None and body_file is not None:
        text = _read_text(body_file)
    else:
        raise InvalidArgumentError("give exactly one of --body and --body-file")
    ctx = make_context()
    url = GitHubClient(ctx.settings).comment_on_issue(issue, text)
    console.print(f"commented on #{issue}: {url or '(no URL returned)'}")


def dispatch_workflow(
    workflow: str = typer.Argument(..., help="Workflow file name (e.g. test.yaml) or id."),
    ref: str = typer.Option("main", "--ref", help="Branch or tag to run the workflow on."),
    inputs: list[str] = typer.Option([], "--input", help="An input as NAME=VALUE (repeatable)."),
) -> None:
    """Start a workflow of the repository (workflow_dispatch) with inputs."""
    from ..github.api import GitHubClient

    values: dict[str, str] = {}
    for item in inputs:
        name, sep, value = item.partition("=")
        if not sep or not name:
            raise InvalidArgumentError(f"--input must be NAME=VALUE, not '{item}'")
        values[name] = value
    ctx = make_context()
    GitHubClient(ctx.settings).dispatch_workflow(workflow, ref, values)
    console.print(f"dispatched {workflow} on {ref} of {ctx.settings.github_repository}")

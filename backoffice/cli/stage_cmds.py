"""`backoffice stage`."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from ..errors import InvalidArgumentError
from ..gh_actions import append_summary, set_outputs
from .acting import acting_option, log_verified, verified
from .common import console, make_context

if TYPE_CHECKING:  # the command line imports the pipeline only when a command runs
    from ..stage.stage import StageResult


def register(app: typer.Typer) -> None:
    app.command("stage")(stage)
    app.command("draft-concept")(draft_concept)


def stage(
    source: str = typer.Argument(..., help="http(s) URL or local path of the package zip."),
    concept_id: str | None = typer.Option(None, "--concept-id", help="Concept id to stage to (default: the description's id, else a new one)."),
    uploader: str | None = typer.Option(None, "--uploader", help="Uploader: 'github|<number>' or an e-mail address."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide progress bars."),
    new_concept_only: bool = typer.Option(
        False, "--new-concept-only",
        help="Without --concept-id: refuse a concept that exists (the run waits in no draft's concurrency group).",
    ),
    acting_github_id: str | None = acting_option(),
) -> None:
    """Stage a package as the draft of a concept (new id if none is given)."""
    from ..stage.stage import stage as run_stage

    ctx = make_context()
    # the uploader is who dispatched, or whom the website bot vouches for
    actor = verified(ctx, "stage", uploader, acting_github_id) if uploader is not None else None
    result = run_stage(ctx, source, concept_id=concept_id, uploader=uploader, progress=not no_progress,
                       new_concept_only=new_concept_only and concept_id is None)
    if actor is not None:
        log_verified(ctx, result.concept_id, "stage", actor)
    set_outputs({"concept_id": result.concept_id, "version": result.version, "draft_token": result.token,
                 "version_assigned": "yes" if result.version_assigned else "no"})
    append_summary(stage_markdown(result))
    if result.version_assigned:
        console.print(f"the description has no version: staged as version {result.version} (written into its rdf)")
    console.print(Text.assemble(
        f"staged {result.files} files ({result.bytes} bytes) as draft of ", (result.concept_id, "bold"),
        f" version {result.version}: {result.rdf_url}"
    ))


def draft_concept(
    source: str | None = typer.Argument(None, help="http(s) URL or local path of the package zip (or give --issue-body-file)."),
    concept_id: str | None = typer.Option(None, "--concept-id", help="The concept id given with the upload, if any."),
    issue_body_file: Path | None = typer.Option(
        None, "--issue-body-file", help="An upload issue's body: its form names the package URL and maybe a concept id."),
    uploader: str | None = typer.Option(None, "--uploader", help="Uploader: 'github|<number>' or an e-mail address."),
    acting_github_id: str | None = acting_option(),
) -> None:
    """The concept a staging will write to, known before it runs (the given id, else the one the
    description names) if it exists and the verified uploader may stage it; else empty (a new
    concept queues alone): the step output `concept_id`, for the workflow's draft concurrency group.
    Reads the package and the concept's document; writes nothing."""
    from ..github.issue_form import parse_upload_request
    from ..log import in_github_actions
    from ..review.identity import verify_actor
    from ..stage.ownership import check_uploader
    from ..stage.stage import draft_concept as resolve

    if (source is None) == (issue_body_file is None):
        raise InvalidArgumentError("give the package (URL or path) or --issue-body-file, not both")
    if issue_body_file is not None:
        try:
            request = parse_upload_request(issue_body_file.read_text(encoding="utf-8"))
        except OSError as e:
            raise InvalidArgumentError(f"cannot read {issue_body_file}: {e.strerror or e}") from None
        source, concept_id = request.package_url, concept_id or request.concept_id
    assert source is not None
    ctx = make_context()
    if uploader is not None:  # who dispatched, or whom the website bot vouches for; nothing recorded (read-only)
        check_uploader(uploader)
        verify_actor(ctx.config, uploader, acting_github_id, on_github_actions=in_github_actions())
    cid = resolve(ctx, source, concept_id or None, uploader) or ""
    set_outputs({"concept_id": cid})
    console.print(cid or "(a new concept)")


def stage_markdown(result: StageResult) -> str:
    """The job summary of a staging."""
    lines = [f"### staged `{result.concept_id}` version {result.version}", "",
             f"{result.files} files ({result.bytes} bytes), draft `{result.token}`: {result.rdf_url}"]
    if result.version_assigned:
        lines += ["", f"The description has no `version`: it was staged as version **{result.version}** "
                  "(written into its rdf.yaml)."]
    return "\n".join(lines) + "\n"

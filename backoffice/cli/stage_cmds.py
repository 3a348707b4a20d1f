"""`backoffice stage`."""

from __future__ import annotations

import typer

from ..gh_actions import set_outputs
from ..stage.stage import stage as run_stage
from .acting import acting_option, verified
from .common import console, make_context


def register(app: typer.Typer) -> None:
    app.command("stage")(stage)


def stage(
    source: str = typer.Argument(..., help="http(s) URL or local path of the package zip."),
    concept_id: str | None = typer.Option(None, "--concept-id", help="Concept id to stage to (default: the description's id, else a new one)."),
    uploader: str | None = typer.Option(None, "--uploader", help="Uploader: 'github|<number>' or an e-mail address."),
    no_progress: bool = typer.Option(False, "--no-progress", help="Hide progress bars."),
    acting_github_id: str | None = acting_option(),
) -> None:
    """Stage a package as the draft of a concept (new id if none is given)."""
    ctx = make_context()
    if uploader is not None:  # the uploader is who dispatched, or whom the website bot vouches for
        verified(ctx, concept_id, "stage", uploader, acting_github_id)
    result = run_stage(ctx, source, concept_id=concept_id, uploader=uploader, progress=not no_progress)
    set_outputs({"concept_id": result.concept_id, "version": result.version, "draft_token": result.token})
    console.print(
        f"staged {result.files} files ({result.bytes} bytes) as draft of [bold]{result.concept_id}[/bold] "
        f"version {result.version}: {result.rdf_url}"
    )

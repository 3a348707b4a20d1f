"""Pipeline commands: validate-format, generate-collection-json, publish."""

from __future__ import annotations

import json

import typer

from ..gh_actions import append_summary, set_outputs
from ..index.generate import Mode, generate_index
from ..log import in_github_actions
from ..validate.static import validate_format as run_validate
from .choices import WHICH_HELP, choice_of, draft_or_version
from .common import console, make_context


def register(app: typer.Typer) -> None:
    app.command("validate-format")(validate_format)
    app.command("generate-collection-json")(generate_collection_json)
    app.command("demo")(demo)


def validate_format(
    concept_id: str = typer.Argument(..., help="Concept id."),
    which: str = typer.Argument("draft", help=WHICH_HELP, parser=draft_or_version),
    actor: str | None = typer.Option(None, "--actor", help="Who asked for it (for the log)."),
) -> None:
    """Validate a draft or version statically with bioimageio.spec; plan the dynamic tests."""
    ctx = make_context()
    result = run_validate(ctx, concept_id, which, actor=actor)
    set_outputs({
        "dynamic_test_cases": json.dumps(result.matrix),
        "has_dynamic_test_cases": "yes" if result.dynamic_formats else "no",
        "version": result.target.subject,
        "static_status": result.status,
    })
    append_summary(result.markdown)
    if not in_github_actions():
        console.print(result.markdown, markup=False)
    console.print(
        f"{concept_id} {which}: static validation {result.status}; dynamic tests: "
        f"{', '.join(result.dynamic_formats) or 'none'}"
        + (f"; static only: {', '.join(result.static_only_formats)}" if result.static_only_formats else "")
    )


def generate_collection_json(
    mode: Mode = typer.Option("all", "--mode", parser=choice_of(Mode, "--mode"),
                              help="`published` (collection.json, id_map.json), `draft` (collection_draft.json, id_map_draft.json) or `all`."),
    full: bool = typer.Option(False, "--full", help="Rescan every concept document instead of only those marked as changed."),
) -> None:
    """Write collection.json, collection_draft.json, id_map.json and id_map_draft.json."""
    ctx = make_context()
    result = generate_index(ctx, mode, full=full)
    for key, url in result.written.items():
        console.print(f"wrote {key}: {url}")
    console.print(f"{result.listed} concepts listed, {result.drafts} drafts ({result.fetched} concept documents read)")


def demo() -> None:
    """Run the whole pipeline on a tiny example model (the README's main job)."""
    from ..demo.pipeline import run_demo

    ctx = make_context()
    result = run_demo(ctx, lambda line: console.print(line, markup=False))
    where = result.collection_path or result.collection_json
    console.print(f"collection.json: {where}")
    console.print(f"served at {result.collection_json} by `backoffice serve`")
    console.print(
        f"dashboard: run `backoffice serve`, then open {result.dashboard} "
        f"(drafts, the published card of {result.concept_id} and its history)", markup=False
    )

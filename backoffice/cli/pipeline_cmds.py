"""Pipeline commands: validate-format, generate-collection-json, publish."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

import typer

from ..errors import ValidationFailedError
from ..gh_actions import append_summary, set_outputs
from ..index.modes import Mode
from ..log import in_github_actions, logger
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
    handover_out: Path | None = typer.Option(
        None, "--handover-out",
        help="Store nothing: write the result to this file for `backoffice store-test-result` (the workflow's"
        " validation job reads the package from its public URL and holds no secret).",
    ),
) -> None:
    """Validate a draft or version statically with bioimageio.spec; plan the dynamic tests.

    Exits non-zero when the validation fails; a draft then goes back to its uploader.
    """
    from ..records.handover import Handover, ToolSummary, write_handover
    from ..validate.static import validate_for_handover
    from ..validate.static import validate_format as run_validate

    ctx = make_context()
    if handover_out is None:
        result = run_validate(ctx, concept_id, which, actor=actor)
    else:
        result = validate_for_handover(ctx, concept_id, which)
        write_handover(Handover(
            step="validate-format", concept_id=concept_id, subject=result.target.subject,
            draft_token=result.target.draft_token, tool="bioimageio.spec", status=_verdict(result.status),
            summary=ToolSummary.model_validate(result.summary), markdown=result.markdown[:1_000_000],
            dynamic_formats=result.dynamic_formats, static_only_formats=result.static_only_formats,
            weight_scan=result.weight_scan,
        ), handover_out)
    set_outputs({
        "dynamic_test_cases": json.dumps(result.matrix),
        "has_dynamic_test_cases": "yes" if result.dynamic_formats else "no",
        "version": result.target.subject,
        "static_status": result.status,
    })
    append_summary(result.markdown)
    if not in_github_actions():
        console.print(result.markdown, markup=False)
    if result.weight_scan is not None:
        from ..records.weight_scan import finding, scan_lines

        for line in scan_lines(result.weight_scan):
            console.print(line, markup=False)
        if in_github_actions():  # annotations on the run: the reviewer and the uploader see them first
            for where, g in [*result.weight_scan.found("dangerous"), *result.weight_scan.found("unusual")]:
                logger.error("weight safety scan: %s", finding(where, g))
    console.print(
        f"{concept_id} {which}: static validation {result.status}; dynamic tests: "
        f"{', '.join(result.dynamic_formats) or 'none'}"
        + (f"; static only: {', '.join(result.static_only_formats)}" if result.static_only_formats else "")
    )
    if result.status == "failed":
        if handover_out is None and which == "draft":  # the draft left testing: the reviewers' list must say so
            from ..index.generate import generate_index

            generate_index(ctx, "draft")
        from ..records.weight_scan import scan_reason

        raise ValidationFailedError(f"{concept_id} {which}: static validation failed" + scan_reason(result.weight_scan)
                                    + ("" if handover_out is not None or which != "draft" else "; changes requested from the uploader"))


def _verdict(status: str) -> Literal["passed", "failed", "valid-format"]:
    return "failed" if status == "failed" else "passed" if status == "passed" else "valid-format"


def generate_collection_json(
    mode: Mode = typer.Option("all", "--mode", parser=choice_of(Mode, "--mode"),
                              help="`published` (collection.json, id_map.json), `draft` (collection_draft.json, id_map_draft.json) or `all`."),
    full: bool = typer.Option(False, "--full", help="Rescan every concept document instead of only those marked as changed."),
) -> None:
    """Write collection.json, collection_draft.json, id_map.json and id_map_draft.json."""
    from ..index.generate import generate_index
    from ..partners.ingest import repair_interrupted

    ctx = make_context()
    repaired = repair_interrupted(ctx)  # an ingest that died: its versions conflated in full first
    if repaired:
        console.print(f"repaired {repaired} interrupted report ingest(s)")
    result = generate_index(ctx, mode, full=full)
    for key, url in result.written.items():
        console.print(f"wrote {key}: {url}")
    console.print(f"{result.listed} concepts listed, {result.drafts} drafts ({result.fetched} concept documents read)")


def demo() -> None:
    """Run the whole pipeline on a tiny example model (the README's main job)."""
    import tempfile
    from pathlib import Path

    from ..demo.config import demo_context
    from ..demo.pipeline import run_demo

    with tempfile.TemporaryDirectory(prefix="backoffice-demo-config-") as folder:  # the demo's reviewers, never the product's
        ctx = demo_context(make_context(), Path(folder))
        result = run_demo(ctx, lambda line: console.print(line, markup=False))
    where = result.collection_path or result.collection_json
    console.print(f"collection.json: {where}")
    console.print(f"served at {result.collection_json} by `backoffice serve`")
    console.print(
        f"dashboard: run `backoffice serve`, then open {result.dashboard} "
        f"(drafts, the published card of {result.concept_id} and its history)", markup=False
    )

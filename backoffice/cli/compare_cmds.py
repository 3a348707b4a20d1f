"""`backoffice compare-collection`: check a takeover against the running collection."""

from __future__ import annotations

import json

import typer

from ..errors import TakeoverDiffersError
from ..gh_actions import append_summary
from .common import console, make_context


def register(app: typer.Typer) -> None:
    app.command("compare-collection")(compare_collection)


def compare_collection(
    source: str = typer.Argument(..., help="The running collection: its index.json, its folder (index.json, reports/), a zip of it, or its base URL."),
    as_json: bool = typer.Option(False, "--json", help="Print the differences as JSON (for machines)."),
    workers: int = typer.Option(8, "--workers", min=1, max=64, help="Summaries and concept documents read at once."),
) -> None:
    """Print what differs, item by item and field by field, between our collection.json/id_map.json and
    the running collection; exit non-zero when a difference is not one `docs/import.md` lists as intended."""
    from ..takeover.compare import as_json as to_json
    from ..takeover.compare import compare, summary_line, unexplained
    from ..takeover.read import read_ours, read_running, running_reader

    ctx = make_context()
    s = ctx.settings
    running = read_running(running_reader(source, s.download_timeout, s.download_allowed_hosts), workers)
    differences = compare(running, read_ours(ctx, workers))
    # plain text (ids and rdf fields are user data: never markup or emoji codes), through the
    # console's stream that keeps a line from starting a workflow command
    lines = [json.dumps(to_json(differences), ensure_ascii=False, indent=1)] if as_json else [
        *(d.line() for d in differences), summary_line(differences)]
    for line in lines:
        console.print(line, markup=False, emoji=False, highlight=False)
    append_summary(f"## compare-collection\n\n{summary_line(differences)}\n")
    bad = unexplained(differences)
    if bad:
        raise TakeoverDiffersError(f"{len(bad)} differences from {source} that docs/import.md does not list as intended")

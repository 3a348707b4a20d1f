"""count-downloads: download counts from the storage's access logs."""

from __future__ import annotations

import typer

from ..gh_actions import append_summary, set_outputs
from .common import console, make_context


def register(app: typer.Typer) -> None:
    app.command("count-downloads")(count_downloads)


def count_downloads(
    sources: list[str] = typer.Argument(None, help="Log files or folders, or `s3://<bucket>/<prefix>` (default: BACKOFFICE_DOWNLOADS_LOG_SOURCE)."),
    index: bool = typer.Option(False, "--index", help="Regenerate the index afterwards (collection.json carries the counts)."),
) -> None:
    """Count downloads in the access log objects not counted before (weights and package zips
    of published versions; once per client address, version and day, once it was sent at least half
    of such a file; bots excluded; unreadable lines skipped and counted)."""
    from ..downloads.count import count_downloads as run, summary_markdown
    from ..errors import ConfigError

    ctx = make_context()
    chosen = list(sources or []) or ([ctx.settings.downloads_log_source] if ctx.settings.downloads_log_source else [])
    if not chosen:
        raise ConfigError("no access logs given: name log files, folders or s3://<bucket>/<prefix>, or set BACKOFFICE_DOWNLOADS_LOG_SOURCE")
    result = run(ctx, chosen)
    lines = result.lines
    console.print(
        f"{result.objects} log objects read ({result.skipped_objects} already counted): {lines['lines']} lines, "
        f"{lines['download']} downloads, {lines['duplicate']} repeated, {lines['partial']} partial reads, {lines['bot']} by bots; "
        f"{result.skipped_text()}; {result.concepts_updated} concepts updated"
    )
    set_outputs({"downloads": str(lines["download"]), "log_objects": str(result.objects)})
    append_summary(summary_markdown(result))
    if index:
        from ..index.generate import generate_index

        generate_index(ctx)
        console.print("index regenerated")

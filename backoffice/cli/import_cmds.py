"""`backoffice import-collection`: take over an existing collection."""

from __future__ import annotations

import sys
from collections.abc import Collection, Generator, Iterable
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING

import typer

from ..errors import ImportRefusedError, InvalidArgumentError
from ..gh_actions import append_summary
from .common import console, make_context

if TYPE_CHECKING:
    from ..importer.progress import ImportProgress


@contextmanager
def _progress() -> Generator[ImportProgress]:
    """The import's counts where the output goes: a live bar on a terminal (on stderr), else a
    plain line now and then; refusals as plain lines on stdout as they happen."""
    from ..importer.progress import DISPLAYS, ImportProgress, display_for

    def say(line: str) -> None:
        console.print(line)

    display = DISPLAYS[display_for(sys.stdout.isatty())]
    if not display.bar:
        yield ImportProgress(say, every=display.every)
        return
    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn

    bar_console = Console(stderr=True, markup=False, emoji=False, highlight=False)
    with Progress(TextColumn("importing"), BarColumn(), TextColumn("{task.description}", markup=False),
                  console=bar_console, transient=True) as bar:
        task = bar.add_task("", total=None)

        def show(counts: object) -> None:
            from ..importer.progress import Counts

            assert isinstance(counts, Counts)
            bar.update(task, description=counts.line(), completed=counts.done["resources"], total=counts.total["resources"] or None)

        yield ImportProgress(say, show=show)


def register(app: typer.Typer) -> None:
    app.command("import-collection")(import_collection)


def import_collection(
    sources: list[str] = typer.Argument(..., help="The running collection's published folder, zip or URL (index.json, reports/),"
                                        " and optionally a GitOps-era collection.json."),
    files: str = typer.Option("mirror", "--files", help="mirror: stream every file an rdf names into our storage (sha256 checked)."),
    no_files: bool = typer.Option(False, "--no-files", help="Keep the files remote (the versions are marked; a later run mirrors them)."),
    update: bool = typer.Option(False, "--update", help="Take rdfs changed upstream (else they are reported and left)."),
    at: datetime | None = typer.Option(None, "--at", help="Import time recorded (default: now; a resumed run keeps its first time)."),
    workers: int = typer.Option(8, "--workers", min=1, max=64, help="Concepts (and files) imported at once."),
    host_time_limit: float = typer.Option(300.0, "--host-time-limit", min=1.0,
                                          help="Seconds a file host may keep the import waiting in all; then its remaining files stay remote."),
) -> None:
    """Import resources, versions, ids, DOIs, owners, download counts and reports of an existing collection."""
    from ..importer.run import import_collection as run

    if files != "mirror":
        raise InvalidArgumentError(f"--files takes 'mirror' (or use --no-files), not '{files}'")
    if at is not None and at.tzinfo is None:
        from datetime import timezone

        at = at.replace(tzinfo=timezone.utc)
    ctx = make_context()
    lines: list[str] = []
    refused: dict[str, int] = {}
    first: list[str] = []
    with _progress() as progress:
        reports = run(ctx, sources, files=not no_files, update=update, at=at, workers=workers, progress=progress,
                      host_time_limit=host_time_limit)
    for report in reports:
        for o in report.outcomes:
            if o.action != "unchanged" or o.notes:
                detail = f" {', '.join(o.versions)}" if o.versions else ""
                remote = f"; {o.remote_files} files remote" if o.remote_files else ""
                lines.append(f"{o.id}: {o.action}{detail}; {o.reports} reports{remote}")
                lines.extend(f"  {n}" for n in o.notes)
        p = report.plan
        by_reason = report.refusals()
        for r, n in by_reason.items():
            refused[r] = refused.get(r, 0) + n
        first.extend(n for o in report.outcomes if o.refusals for n in o.notes[:1])
        lines.append(f"{p.source}: {report.count('create')} created, {report.count('extend')} extended, "
                     f"{report.count('mirror')} mirrored, {report.count('unchanged')} unchanged, {report.count('refused')} refused"
                     + (f" ({', '.join(f'{n} {r}' for r, n in by_reason.items())})" if by_reason else "")
                     + (f"; {p.gitops_unmatched} GitOps-era entries not in it" if p.gitops_unmatched else "")
                     + (f"; {p.gitops_without_nickname} GitOps-era entries without a nickname (not imported)"
                        if p.gitops_without_nickname else ""))
    lines.extend(curated_imports([o.id for r in reports for o in r.outcomes if o.action != "refused"], ctx.curation))
    for ln in lines:
        console.print(ln, markup=False, highlight=False, emoji=False)
    append_summary("## import-collection\n\n" + "\n".join(f"- {ln}" for ln in lines) + "\n")
    if refused:  # one line that names the problem: the count by reason and the first refusal's own words
        raise ImportRefusedError(f"{sum(refused.values())} resources or versions refused "
                                 f"({', '.join(f'{n} {r}' for r, n in sorted(refused.items()))}): {first[0] if first else ''}")


def curated_imports(imported: Iterable[str], declared: Collection[str]) -> list[str]:
    """One warning per imported id that `collection/` declares curation for: a declaration written for
    another resource (an example, a demo) would change the real one (its display, owners, blocks)."""
    return [f"warning: collection/{cid}.yaml declares curation for the imported '{cid}': it applies to that resource"
            for cid in dict.fromkeys(imported) if cid in declared]

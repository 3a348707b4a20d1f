"""`backoffice import-collection`: take over an existing collection."""

from __future__ import annotations

from datetime import datetime

import typer

from ..errors import InvalidArgumentError
from ..gh_actions import append_summary
from .common import console, make_context


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
) -> None:
    """Take over an existing collection: the running collection's resources, versions, ids, rdfs, reports and files,
    the GitOps era's DOIs, owners and download counts (see `docs/import.md`).
    """
    from ..importer.run import import_collection as run

    if files != "mirror":
        raise InvalidArgumentError(f"--files takes 'mirror' (or use --no-files), not '{files}'")
    if at is not None and at.tzinfo is None:
        from datetime import timezone

        at = at.replace(tzinfo=timezone.utc)
    ctx = make_context()
    lines: list[str] = []
    for report in run(ctx, sources, files=not no_files, update=update, at=at, workers=workers):
        for o in report.outcomes:
            if o.action != "unchanged" or o.notes:
                detail = f" {', '.join(o.versions)}" if o.versions else ""
                remote = f"; {o.remote_files} files remote" if o.remote_files else ""
                lines.append(f"{o.id}: {o.action}{detail}; {o.reports} reports{remote}")
                lines.extend(f"  {n}" for n in o.notes)
        p = report.plan
        lines.append(f"{p.source}: {report.count('create')} created, {report.count('extend')} extended, "
                     f"{report.count('mirror')} mirrored, {report.count('unchanged')} unchanged, {report.count('refused')} refused"
                     + (f"; {p.gitops_unmatched} GitOps-era entries not in it" if p.gitops_unmatched else ""))
    for ln in lines:
        console.print(ln)
    append_summary("## import-collection\n\n" + "\n".join(f"- {ln}" for ln in lines) + "\n")

"""The `backup` command: published versions -> Zenodo, DOIs back into the collection."""

from __future__ import annotations

import typer

from ..errors import BackupIncompleteError, InvalidArgumentError, NotFoundError
from ..gh_actions import append_summary, set_outputs
from ..log import logger
from .common import console, make_context


def register(app: typer.Typer) -> None:
    app.command("backup")(backup)


def backup(
    concept_id: str | None = typer.Argument(None, help="Concept id (default: every concept)."),
    version: str | None = typer.Argument(None, help="Published version (default: every version without a DOI; earlier pending ones go first)."),
) -> None:
    """Back up published, unblocked versions without a DOI to Zenodo (one record per concept, one Zenodo version per
    version), write the DOIs back and regenerate the index; skipped without `BACKOFFICE_ZENODO_URL` /
    `BACKOFFICE_ZENODO_TOKEN` (see `docs/backup.md`).
    """
    from ..backup.run import SKIPPED, make_client, run_backup
    from ..index.generate import generate_index

    if concept_id is not None and not concept_id.strip():
        raise InvalidArgumentError("the concept id must not be empty")
    ctx = make_context()
    if concept_id is not None:  # a wrong name is an error, with or without Zenodo
        record = ctx.concepts.get(concept_id)
        if version is not None and version not in record.versions:
            known = ", ".join(record.versions) or "none"
            raise NotFoundError(f"'{concept_id}' has no published version {version} (published: {known})")
    client = make_client(ctx)
    if client is None:
        console.print(SKIPPED)
        append_summary(f"## Zenodo backup\n\n{SKIPPED}\n")
        return
    report = run_backup(ctx, client, lambda line: logger.info("%s", line), concept_id, version)
    done = [o for o in report.outcomes if o.outcome == "backed up"]
    if done:
        generate_index(ctx, "published")
    append_summary(report.markdown(client.base_url))
    set_outputs({"backed_up": str(len(done)), "failed": str(len(report.failed))})
    for o in report.outcomes:
        if o.outcome == "backed up":
            console.print(f"{o.concept_id} {o.version}: backed up, DOI {o.doi}, concept DOI {o.concept_doi}")
        else:
            console.print(f"{o.concept_id} {o.version}: {o.outcome}: {o.error}", markup=False)
    if not report.outcomes:
        console.print("nothing to back up")
    if report.failed:
        names = ", ".join(f"{o.concept_id} {o.version}" for o in report.failed)
        raise BackupIncompleteError(f"{len(report.failed)} version(s) not backed up: {names}")

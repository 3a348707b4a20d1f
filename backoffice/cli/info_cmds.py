"""Commands that only read: settings, config check, status."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import typer
from rich.text import Text

from ..errors import ConfigError
from .choices import draft_or_version
from .common import console, make_context

if TYPE_CHECKING:
    from ..records.imported import LegacyVersion
    from ..records.concept import VersionRecord


def register(app: typer.Typer) -> None:
    app.command("settings")(show_settings)
    app.command("check-config")(check_config)
    app.command("status")(status)
    app.command("diff")(diff)


def show_settings() -> None:
    """Print the effective settings (secrets masked)."""
    ctx = make_context()
    for name, value in ctx.settings.describe().items():
        console.print(f"{name} = {value}")
    console.print(f"storage: {ctx.storage.describe()}")


def check_config() -> None:
    """Validate bioimageio_collection_config.json and every file in collection/."""
    ctx = make_context()
    config = ctx.config
    curation = ctx.curation
    for concept_id in curation:
        from ..ids import split_id

        if split_id(config, concept_id) is None:
            raise ConfigError(
                f"{ctx.settings.collection_dir / (concept_id + '.yaml')}: file name '{concept_id}' is not a memorable id"
            )
    console.print(
        f"{ctx.settings.config_path}: {len(config.reviewers)} reviewers, {len(config.partners)} partners; "
        f"{ctx.settings.collection_dir}: {len(curation)} declarations valid", markup=False
    )
    if not config.reviewers:
        console.print("note: no reviewers yet: nobody can publish until the config names one (docs/curation.md)", markup=False)


def status(
    concept_id: str = typer.Argument(..., help="Concept id, e.g. affable-shark."),
    log_entries: int = typer.Option(10, "--log", help="How many of the last log entries to show."),
    as_json: bool = typer.Option(False, "--json", help="Print machine-readable JSON."),
) -> None:
    """Show a concept's draft, published versions and last log entries."""
    ctx = make_context()
    record = ctx.concepts.get(concept_id)
    decl = ctx.curation_of(concept_id)
    entries = ctx.log(concept_id).read(limit=log_entries)
    if as_json:
        out = record.model_dump(mode="json")
        out["log"] = [e.model_dump(mode="json") for e in entries]
        out["blocked_versions"] = [b.model_dump() for b in decl.blocked_versions]
        out["yanked_versions"] = [y.model_dump() for y in decl.yanked_versions]
        console.print_json(json.dumps(out, default=str))
        return
    console.print(Text.assemble((record.id, "bold"), f" ({record.type}); owners: {', '.join(record.owners) or '-'}"))
    from ..stage.ownership import owner_rights

    named = record.legacy.named_owners if record.legacy else []
    for owner in [*record.owners, *named]:
        console.print(f"  {owner}: {owner_rights(owner)}", markup=False)
    if record.concept_doi:
        console.print(f"concept DOI: {record.concept_doi}")
    if record.legacy is not None:
        count = f"; {record.downloads.legacy} downloads there" if record.downloads and record.downloads.legacy else ""
        console.print(f"imported from {record.legacy.source} at {record.legacy.imported:%Y-%m-%d %H:%M}; "
                      f"old ids: {', '.join(record.legacy.ids) or '-'}{count}")
    if record.staging:
        console.print(f"upload in progress: {record.staging.status.value} since {record.staging.started:%Y-%m-%d %H:%M}")
    if record.draft:
        d = record.draft
        tests = ", ".join(f"{k}: {v.status}" + ("" if v.runs is None else f" (runs: {'yes' if v.runs else 'no'},"
                          f" reproduces: {'yes' if v.reproduces else 'no' if v.reproduces is False else '?'})")
                          for k, v in d.tests.items()) or "none yet"
        console.print(Text.assemble(
            "draft: ", (d.status.value, "bold"), f" (version {d.summary.version or '?'}, uploader {d.uploader or '-'}, "
            f"updated {d.updated:%Y-%m-%d %H:%M}); tests: {tests}"
        ))
        if d.weight_scan is not None:
            console.print(f"weight scan: {d.weight_scan.status} ({d.weight_scan.scanner})", markup=False)
        from ..review.publish import draft_digest

        console.print(f"draft sha256 (every file; publish --draft-sha256): {d.files_sha256 or draft_digest(ctx, record.id, d)}",
                      markup=False)
        if d.changes is not None:
            console.print(f"changes since {d.changes.old}: {len(d.changes.fields)} fields, {len(d.changes.files)} files"
                          f" (`backoffice diff {record.id}`)", markup=False)
    else:
        console.print("draft: none")
    if record.downloads:
        console.print(f"downloads: {record.downloads.total} ({record.downloads.legacy} legacy, {record.downloads.counted} counted"
                      + (f" to {record.downloads.until})" if record.downloads.until else ")"))
    if record.versions:
        console.print("published versions:")
        for v, rec in record.versions.items():
            yanked = decl.yank_reason(v)
            doi = f", DOI {rec.doi}" if rec.doi else ""
            downloads = f", {record.downloads.versions.get(v, 0)} downloads" if record.downloads and record.downloads.until else ""
            console.print(Text.assemble(f"  {v}: {rec.status.value}{doi}, published {rec.published:%Y-%m-%d}{downloads}",
                                        (" BLOCKED", "red") if decl.is_blocked(v) else "",
                                        *((" ", ("YANKED", "yellow"), f" ({yanked})") if yanked else ())))
            console.print(f"    test status: {_statuses(rec)}", markup=False)
            if rec.legacy is not None:
                _print_imported(rec.legacy)
    else:
        console.print("published versions: none")
    if entries:
        console.print(f"last {len(entries)} log entries:")
        for e in entries:
            console.print(f"  {e.timestamp:%Y-%m-%d %H:%M:%S} {e.subject} {e.step} by {e.actor}: {e.message}",
                          markup=False)  # the message holds text from outside (a URL, a path, a chat line)


def diff(
    concept_id: str = typer.Argument(..., help="Concept id."),
    old: str | None = typer.Argument(None, help="`draft` or a version (default: the latest published version).",
                                     parser=draft_or_version),
    new: str | None = typer.Argument(None, help="`draft` or a version (default: the draft).", parser=draft_or_version),
    as_json: bool = typer.Option(False, "--json", help="Print the diff as JSON."),
) -> None:
    """What changed from one version to another: the description field by field, the files
    (added, removed, changed: size and sha256) and the verdicts."""
    from ..records.changes import diff_lines
    from ..records.snapshot import diff_of

    ctx = make_context()
    result = diff_of(ctx.storage, ctx.concepts, concept_id, old, new)
    if as_json:
        console.print_json(result.model_dump_json())
        return
    console.print(f"{concept_id}: ", end="", markup=False)
    for line in diff_lines(result):
        console.print(line, markup=False, highlight=False)


def _statuses(rec: VersionRecord) -> str:
    """Upstream's and ours, side by side where both exist (docs/compatibility.md)."""
    from ..index.plan import conflate, upstream_status

    ours = rec.compatibility.status if rec.compatibility else conflate(rec.tests).status
    upstream = upstream_status(rec)
    if upstream is None:
        return f"{ours} (ours)"
    tests = ", ".join(f"{t}: {st}" for t, st in sorted(rec.legacy.status_tests.items())) if rec.legacy else ""
    differs = "; they differ, upstream's is shown until our test runs" if upstream != ours else ""
    return f"{upstream} (upstream{': ' + tests if tests else ''}); {ours} (our conflation of its reports){differs}"


def _print_imported(legacy: LegacyVersion) -> None:
    rdf = "the upstream rdf" if legacy.rdf_exact else "rdf written from the upstream rdf_content (upstream file not fetched)"
    console.print(f"    imported: {rdf}, upstream sha256 {legacy.source_sha256[:12]}…")
    if legacy.comment:
        console.print(f"    comment: {legacy.comment}", markup=False)
    if legacy.restored:
        console.print(f"    JSON's losses undone: {', '.join(legacy.restored)}", markup=False)
    if legacy.remote_files:
        console.print(Text.assemble("    ", (f"{len(legacy.remote_files)} files remote", "yellow"),
                                    " (a run of import-collection with files mirrors them):"))
        for name, f in legacy.remote_files.items():
            console.print(f"      {name}: {f.reason} ({f.url})")

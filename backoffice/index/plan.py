"""Plan the index files from concept records: a pure function, tested on its own."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..config.collection_config import CollectionConfig
from ..config.curation import CurationDecl
from ..ids import concept_emoji
from ..log import logger
from ..records import keys
from ..records.concept import ConceptRecord, ReportBrief, VersionRecord
from ..records.scoring import Compatibility as CompatBrief
from ..records.tool_report import safe_badge
from .models import (
    AllVersionsJson,
    Badge,
    CollectionDraftJson,
    CollectionEntry,
    CollectionJson,
    Compatibility,
    DraftEntry,
    IdMapEntry,
    PartnerEntry,
    ReportLink,
    ReportsSummary,
    VersionEntry,
    VersionsJson,
)
from .website import (
    all_versions,
    authors,
    merge_id_maps,
    record_dois,
    plan_aliases,
    versions_file,
    website_config,
    website_fields,
)

UrlOf = Callable[[str], str]
"""Public URL of a storage key."""


@dataclass(frozen=True)
class IndexFiles:
    collection: CollectionJson
    collection_draft: CollectionDraftJson
    id_map: dict[str, IdMapEntry]
    id_map_draft: dict[str, IdMapEntry]
    all_versions: AllVersionsJson
    versions: dict[str, VersionsJson]
    """`<concept>/versions.json` per concept."""


def conflate(tests: Mapping[str, ReportBrief]) -> ReportsSummary:
    """One status from all reports: any failure fails; else a weight format that runs but does not
    reproduce makes a warning; all passed passes.

    Of several reports by one tool for one weight format (e.g. after a retest with a
    newer bioimageio.core) only the newest counts.
    """
    newest: dict[tuple[str, str | None], tuple[str, ReportBrief]] = {}
    for name, t in tests.items():
        group = (t.tool or name, t.weight_format)
        if group not in newest or newest[group][1].timestamp <= t.timestamp:
            newest[group] = (name, t)
    badges = [Badge(label=name, status=t.status, runs=t.runs, reproduces=t.reproduces, by_hardware=dict(t.by_hardware))
              for name, t in sorted(newest.values(), key=lambda nt: nt[0])]
    statuses = {b.status for b in badges} - {"skipped"}
    if not statuses:
        status = "untested"
    elif "failed" in statuses:
        status = "failed"
    elif "warning" in statuses:
        status = "warning"
    elif "passed" in statuses:
        status = "passed"
    else:
        status = "valid-format"
    return ReportsSummary(status=status, badges=badges)


def _file_url(url_of: UrlOf, files_prefix: str, name: str | None) -> str | None:
    if not name:
        return None
    if "://" in name:
        return name
    return url_of(files_prefix + name)


def compatibility_entry(brief: CompatBrief | None, reports_prefix: str, url_of: UrlOf) -> Compatibility | None:
    """The index view of a conflated brief: report file names become URLs."""
    if brief is None:
        return None
    reports = {
        tool: {v: ReportLink(status=r.status, score=r.score, error=r.error, url=url_of(reports_prefix + r.file)) for v, r in by_v.items()}
        for tool, by_v in brief.reports.items()
    }
    badges = [b for b in brief.badges if safe_badge(b) is not None]  # also in briefs conflated before the rule
    return Compatibility(status=brief.status, scores=brief.scores, reports=reports, badges=badges,
                         links=brief.links, summary_url=url_of(keys.conflated_summary(reports_prefix)))


STATUSES: frozenset[str] = frozenset(("passed", "warning", "failed", "valid-format", "untested"))


def upstream_status(v: VersionRecord) -> str | None:
    """The status the earlier collection published for an imported version, while our own test has not
    run (then ours counts): None for every other version (docs/compatibility.md)."""
    if v.tests or v.legacy is None or v.legacy.status is None:
        return None
    return v.legacy.status if v.legacy.status in STATUSES else "untested"


def test_summary(v: VersionRecord) -> ReportsSummary:
    """A version's test summary: our tests conflated; an imported version not tested here yet shows
    upstream's status and the tests behind it (the newest report per tool)."""
    upstream = upstream_status(v)
    if upstream is None or v.legacy is None:
        return conflate(v.tests)
    return ReportsSummary(status=upstream, badges=[Badge(label=tool, status=st)  # pyright: ignore[reportArgumentType]
                                                   for tool, st in sorted(v.legacy.status_tests.items())])


def _version_entry(record: ConceptRecord, v: VersionRecord, url_of: UrlOf, decl: CurationDecl) -> VersionEntry:
    compat = compatibility_entry(v.compatibility, keys.version_reports(record.id, v.version, v.content), url_of)
    upstream = upstream_status(v)
    if compat is not None and upstream is not None:
        compat = compat.model_copy(update={"status": upstream})
    return VersionEntry(
        yanked=decl.yank_reason(v.version),
        download_count=record.downloads.versions.get(v.version, 0) if record.downloads and record.downloads.until else None,
        compatibility=compat,
        tags=list(v.compatibility.tags) if v.compatibility else [],
        version=v.version,
        rdf_source=url_of(keys.version_files(record.id, v.version, v.content) + v.rdf_name),
        rdf_sha256=v.rdf_sha256,
        created=v.published,
        doi=v.doi,
        status=v.status.value,
        test_summary=test_summary(v),
        comment=v.legacy.comment if v.legacy else None,
    )


def plan_entry(
    record: ConceptRecord, decl: CurationDecl, config: CollectionConfig, url_of: UrlOf
) -> tuple[CollectionEntry | None, dict[str, IdMapEntry]]:
    """The collection entry and id-map entries of one concept (None if nothing is listed)."""
    listed = [v for v in record.versions.values() if not decl.is_blocked(v.version)]
    for y in decl.yanked_versions:
        if y.version not in record.versions:  # a typo would leave the bad version "latest" without a word
            logger.warning("collection/%s.yaml yanks version '%s', which %s has not published: nothing is yanked by it "
                           "(published: %s)", record.id, y.version, record.id, ", ".join(record.versions) or "none")
    if not listed:
        return None, {}
    usable = [v for v in listed if decl.yank_reason(v.version) is None]
    latest = usable[-1] if usable else listed[-1]  # yanked versions are never "latest" (unless all are)
    files = keys.version_files(record.id, latest.version, latest.content)
    s = latest.summary
    display: dict[str, Any] = {
        "name": s.name or record.id,
        "description": s.description,
        "tags": s.tags,
        "authors": s.authors,
        "license": s.license,
        "covers": [u for c in s.covers if (u := _file_url(url_of, files, c))],
        "documentation": _file_url(url_of, files, s.documentation),
    }
    display.update(decl.display_overrides())
    thumbs = {u: t for c, th in s.thumbnails.items() if (u := _file_url(url_of, files, c)) and (t := _file_url(url_of, files, th))}
    display["thumbnails"] = {c: thumbs[c] for c in display["covers"] if c in thumbs}
    display["authors"] = authors(display["authors"], s.author_details)
    versions = [_version_entry(record, v, url_of, decl) for v in reversed(listed)]
    current = next(v for v in versions if v.version == latest.version)
    display["tags"] = list(display["tags"]) + [t for t in current.tags if t not in display["tags"]]
    compat = current.compatibility
    website = website_fields(record, latest, decl, url_of)
    website["links"] = [*website["links"], *(x for x in (compat.links if compat else []) if x not in website["links"])]
    entry = CollectionEntry(
        id=record.id,
        id_emoji=concept_emoji(config, record.id, record.legacy.id_emoji if record.legacy else None),
        type=record.type,
        version=latest.version,
        rdf_source=current.rdf_source,
        rdf_sha256=latest.rdf_sha256,
        download_url=current.rdf_source,
        concept_doi=record.concept_doi,
        doi=latest.doi,
        weight_formats=s.weight_formats,
        test_summary=current.test_summary,
        compatibility=compat,
        score=compat.scores.overall if compat else None,
        created=min(record.created, listed[0].published) if record.legacy else listed[0].published,  # imported: the earliest known date
        last_modified=latest.published,
        versions=versions,
        **display,
        **website,
    )
    id_map: dict[str, IdMapEntry] = {}
    if usable:  # the concept id resolves to the newest version that is not yanked
        id_map[record.id] = IdMapEntry(source=entry.rdf_source, sha256=entry.rdf_sha256)
    for v in versions:
        id_map[f"{record.id}/{v.version}"] = IdMapEntry(source=v.rdf_source, sha256=v.rdf_sha256)
    by_version = {v.version: IdMapEntry(source=v.rdf_source, sha256=v.rdf_sha256) for v in versions}
    for alias, version in plan_aliases(record, listed, decl, latest=latest.version if usable else None).items():
        id_map.setdefault(alias, by_version[version])
    return entry, id_map


def plan_draft(
    record: ConceptRecord, url_of: UrlOf, config: CollectionConfig | None = None
) -> tuple[DraftEntry | None, dict[str, IdMapEntry]]:
    d = record.draft
    if d is None:
        return None, {}
    rdf = url_of(keys.draft_files(record.id, d.token) + d.rdf_name)
    entry = DraftEntry(
        id=record.id,
        type=record.type,
        name=d.summary.name or record.id,
        version=d.summary.version,
        status=d.status.value,
        uploader=d.uploader,
        rdf_source=rdf,
        rdf_sha256=d.rdf_sha256,
        draft_sha256=d.files_sha256,
        updated=d.updated,
        test_summary=conflate(d.tests),
        id_emoji=None if config is None else concept_emoji(config, record.id, record.legacy.id_emoji if record.legacy else None),
        created=d.created,
        compatibility=compatibility_entry(d.compatibility, keys.draft_reports(record.id, d.token), url_of),
    )
    return entry, {f"{record.id}/draft": IdMapEntry(source=rdf, sha256=d.rdf_sha256)}


@dataclass(frozen=True)
class ConceptOutputs:
    """What one concept contributes to the four index files (JSON-ready)."""

    entry: dict[str, Any] | None
    ids: dict[str, Any]
    draft: dict[str, Any] | None
    draft_ids: dict[str, Any]


def plan_concept(record: ConceptRecord, decl: CurationDecl, config: CollectionConfig, url_of: UrlOf) -> ConceptOutputs:
    entry, ids = plan_entry(record, decl, config, url_of)
    draft, draft_ids = plan_draft(record, url_of, config)
    return ConceptOutputs(
        entry=None if entry is None else entry.model_dump(mode="json"),
        ids={k: v.model_dump(mode="json") for k, v in ids.items()},
        draft=None if draft is None else draft.model_dump(mode="json"),
        draft_ids={k: v.model_dump(mode="json") for k, v in draft_ids.items()},
    )


def index_header(config: CollectionConfig) -> dict[str, Any]:
    """collection.json without its entries."""
    t = config.collection_template
    return {
        **t.model_dump(mode="json"),
        "partners": [PartnerEntry(id=p.id, name=p.name, docs=p.docs, logo=p.logo, icon=p.icon or p.display.icon or p.logo, tool=p.tool_name,
                                  resource_types=list(p.resource_types)).model_dump(mode="json") for p in config.partners],
    }


def assemble(config: CollectionConfig, outputs: Mapping[str, ConceptOutputs], url_root: str = "") -> dict[str, Any]:
    """The index files (as JSON data) from per-concept outputs, sorted by id
    (`<concept>/versions.json` files come from `versions_file`)."""
    order = sorted(outputs)
    entries = [e for c in order if (e := outputs[c].entry) is not None]
    by_tool: dict[str, int] = {}
    for e in entries:
        for tool, n in e.get("downloads_by_tool", {}).items():
            by_tool[tool] = by_tool.get(tool, 0) + n
    collection = {**index_header(config), "collection": entries, "downloads_by_tool": dict(sorted(by_tool.items()))}
    collection["config"] = website_config(config, entries, url_root)
    drafts = {
        "name": f"{config.collection_template.name} (drafts)",
        "collection": [d for c in order if (d := outputs[c].draft) is not None],
    }
    id_map_draft: dict[str, Any] = {}
    for c in order:
        id_map_draft.update(outputs[c].draft_ids)
    return {
        keys.COLLECTION_JSON: collection,
        keys.COLLECTION_DRAFT_JSON: drafts,
        keys.ID_MAP_JSON: merge_id_maps({c: outputs[c].ids for c in order}, record_dois(entries)),
        keys.ID_MAP_DRAFT_JSON: id_map_draft,
        keys.ALL_VERSIONS_JSON: all_versions(entries),
    }


def plan_index(
    records: Iterable[ConceptRecord],
    curation: Mapping[str, CurationDecl],
    config: CollectionConfig,
    url_of: UrlOf,
) -> IndexFiles:
    """All four index files from the concept records and the declared curation, checked
    against the models (the same planning `generate_index` does incrementally)."""
    empty = CurationDecl()
    outputs = {r.id: plan_concept(r, curation.get(r.id, empty), config, url_of) for r in records}
    files = assemble(config, outputs, url_of(keys.COLLECTION_JSON).rsplit("/", 1)[0])
    return IndexFiles(
        collection=CollectionJson.model_validate(files[keys.COLLECTION_JSON]),
        collection_draft=CollectionDraftJson.model_validate(files[keys.COLLECTION_DRAFT_JSON]),
        id_map={k: IdMapEntry.model_validate(v) for k, v in files[keys.ID_MAP_JSON].items()},
        id_map_draft={k: IdMapEntry.model_validate(v) for k, v in files[keys.ID_MAP_DRAFT_JSON].items()},
        all_versions=AllVersionsJson.model_validate(files[keys.ALL_VERSIONS_JSON]),
        versions={c: VersionsJson.model_validate(versions_file(o.entry)) for c, o in outputs.items()},
    )

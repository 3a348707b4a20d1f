"""What an import writes (pure): from what a source publishes and what the store holds
now, the concepts to create, the versions to add, mirror or replace, and what is refused
and why. `execute` does it."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal, cast

from ..description import summarize
from ..records.concept import ConceptRecord, DownloadCounts, ResourceType, VersionRecord
from ..records.imported import LegacyConcept
from .models import GitopsEntry, RunningItem, RunningSummary, RunningVersion
from .rdf_files import NamedFile, declared_sha256s, named_files

IMPORT_ACTOR = "import-collection"
"""The actor of everything an import writes (log entries, `published_by`)."""


@dataclass(frozen=True)
class LoadedVersion:
    """One version as the source publishes it."""

    entry: RunningVersion
    summary: RunningSummary | None
    reports: list[str]
    """File names of its reports (`<tool>_<tool_version>.json`)."""


@dataclass(frozen=True)
class LoadedItem:
    item: RunningItem
    versions: list[LoadedVersion]


@dataclass(frozen=True)
class VersionPlan:
    """A version to write (new, or replacing a changed one with `--update`)."""

    label: str
    rdf_content: dict[str, Any]
    source_url: str
    source_sha256: str
    files: list[NamedFile]
    reports: list[str]
    record: VersionRecord
    """Everything but what depends on the files (rdf sha256, remote files, compatibility)."""
    legacy_ids: list[str]
    replace: bool = False


Action = Literal["create", "extend", "mirror", "unchanged", "refused"]


@dataclass
class ConceptPlan:
    id: str
    type: str
    action: Action
    record: ConceptRecord | None = None
    """The concept as the import makes it (without versions; `create` only)."""
    versions: list[VersionPlan] = field(default_factory=list[VersionPlan])
    mirror: list[str] = field(default_factory=list[str])
    """Versions held already whose missing files or exact rdf a files run fetches."""
    notes: list[str] = field(default_factory=list[str])
    """One line each: a refused version, a change upstream."""


@dataclass(frozen=True)
class ImportPlan:
    source: str
    at: datetime
    concepts: list[ConceptPlan]
    gitops_unmatched: int
    """GitOps-era entries with no resource in the running collection (not imported)."""

    def count(self, action: Action) -> int:
        return sum(1 for c in self.concepts if c.action == action)


def nickname_of(item: RunningItem) -> str:
    return item.id.rsplit("/", 1)[-1]


def zenodo_doi(record_id: str) -> str:
    return record_id if record_id.startswith("10.") else f"10.5281/zenodo.{record_id}"


def _parse_time(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)


def _owners(first: LoadedItem, gitops: GitopsEntry | None) -> list[str]:
    out: list[str] = []
    for v in first.versions:
        uploader: Any = (v.summary.rdf_content.get("uploader") if v.summary else None) or {}
        email: Any = cast(dict[str, Any], uploader).get("email") if isinstance(uploader, dict) else None
        if isinstance(email, str) and "@" in email and email not in out:
            out.append(email)
    for o in gitops.owners if gitops else []:
        if f"zenodo|{o}" not in out:
            out.append(f"zenodo|{o}")
    return out


def _concept_record(loaded: LoadedItem, rtype: ResourceType, gitops: GitopsEntry | None, source: str, at: datetime) -> ConceptRecord:
    nickname = nickname_of(loaded.item)
    created = [t for v in loaded.versions if (t := v.entry.created_at) is not None]
    if gitops and (t := _parse_time(gitops.created)) is not None:
        created.append(t)
    ids = [loaded.item.id] if loaded.item.id != nickname else []
    concept_doi = gitops.id if gitops and gitops.id.startswith("10.") else None
    if concept_doi:
        ids.append(concept_doi)
    return ConceptRecord(
        id=nickname, type=rtype, created=min(created) if created else at, owners=_owners(loaded, gitops),
        concept_doi=concept_doi,
        legacy=LegacyConcept(source=source, imported=at, ids=ids, nickname_icon=gitops.nickname_icon if gitops else None),
        downloads=DownloadCounts(legacy=gitops.download_count) if gitops and gitops.download_count is not None else None,
    )


def _version_dois(versions: Sequence[tuple[str, set[str]]], gitops: GitopsEntry | None) -> dict[str, tuple[str | None, list[str]]]:
    """label -> (version DOI, older record DOIs). `versions`: (label, sha256s of its files), oldest first.

    A GitOps record becomes the oldest running version that shares a file with it (by the
    sha256s its rdf in `rdfs/` declares); without that evidence, the oldest running version
    (the running collection started from the GitOps era's newest records). The newest record
    of a version is its DOI, older ones resolve to it too."""
    out: dict[str, tuple[str | None, list[str]]] = {label: (None, []) for label, _ in versions}
    if gitops is None or not versions:
        return out
    for record in gitops.versions:  # newest first
        files = set(gitops.record_files.get(record, []))
        label = next((label for label, shas in versions if files & shas), versions[0][0])
        doi, older = out[label]
        if doi is None:
            out[label] = (zenodo_doi(record), older)
        else:
            older.append(zenodo_doi(record))
    return out


def _version_plan(cid: str, v: LoadedVersion, doi: str | None, older: list[str], replace: bool) -> VersionPlan:
    assert v.summary is not None
    summary = summarize(v.summary.rdf_content)
    summary.version = v.entry.version
    summary.nickname = summary.nickname or cid
    record = VersionRecord(version=v.entry.version, published=v.entry.created_at or datetime(1970, 1, 1, tzinfo=timezone.utc),
                           published_by=IMPORT_ACTOR, uploader=summary.uploader_email, summary=summary, doi=doi)
    return VersionPlan(v.entry.version, v.summary.rdf_content, v.entry.source, v.entry.sha256,
                       named_files(v.summary.rdf_content, v.entry.source), v.reports, record, older, replace)


def version_problem(v: LoadedVersion) -> str | None:
    """Why a version cannot be imported as published, or None."""
    if v.summary is None:
        return f"{v.entry.version}: refused: no summary.json (its rdf is not published)"
    if v.summary.rdf_yaml_sha256 and v.summary.rdf_yaml_sha256 != v.entry.sha256:
        return (f"{v.entry.version}: refused: summary.json's rdf has sha256 {v.summary.rdf_yaml_sha256[:12]}…, "
                f"index.json's {v.entry.sha256[:12]}…")
    if not v.summary.rdf_content:
        return f"{v.entry.version}: refused: summary.json has no rdf_content"
    return None


def plan_concept(loaded: LoadedItem, existing: ConceptRecord | None, gitops: GitopsEntry | None, *,
                 types: Sequence[str], source: str, at: datetime, files: bool, update: bool) -> ConceptPlan:
    cid = nickname_of(loaded.item)
    rtype = loaded.item.type
    plan = ConceptPlan(cid, rtype, "unchanged")
    if rtype not in types:
        plan.action = "refused"
        plan.notes.append(f"refused: type '{rtype}' is not one the collection holds ({', '.join(types)})")
        return plan
    if existing is not None and existing.legacy is None:
        plan.action = "refused"
        plan.notes.append(f"refused: id '{cid}' belongs to a concept of this collection that was not imported")
        return plan
    if existing is not None and existing.type != rtype:
        plan.action = "refused"
        plan.notes.append(f"refused: '{cid}' is held as a {existing.type}, the source says {rtype}")
        return plan
    good: list[LoadedVersion] = []
    for v in loaded.versions:
        problem = version_problem(v)
        if problem:
            plan.notes.append(problem)
        else:
            good.append(v)
    dois = _version_dois([(v.entry.version, declared_sha256s(v.summary.rdf_content) if v.summary else set[str]())
                          for v in loaded.versions], gitops)
    for v in good:
        broken = v.summary.rdf_content.get("error") if v.summary and len(v.summary.rdf_content) == 1 else None
        if isinstance(broken, str):
            plan.notes.append(f"{v.entry.version}: the running collection could not read its rdf "
                              f"({broken.splitlines()[0][:120]}); held as it is published there")
        doi, older = dois[v.entry.version]
        held = existing.versions.get(v.entry.version) if existing else None
        if held is None:
            plan.versions.append(_version_plan(cid, v, doi, older, False))
        elif held.legacy is None:
            plan.notes.append(f"{v.entry.version}: kept: published here, not imported")
        elif held.legacy.source_sha256 != v.entry.sha256:
            if update:
                plan.versions.append(_version_plan(cid, v, held.doi or doi, older, True))
                plan.notes.append(f"{v.entry.version}: changed upstream (sha256 {held.legacy.source_sha256[:12]}… -> {v.entry.sha256[:12]}…): updated")
            else:
                plan.notes.append(f"{v.entry.version}: changed upstream (sha256 {held.legacy.source_sha256[:12]}… -> "
                                  f"{v.entry.sha256[:12]}…): left as it is (--update takes it)")
        elif files and (held.legacy.remote_files or not held.legacy.rdf_exact):
            plan.mirror.append(v.entry.version)
    if existing is None:
        if not plan.versions:
            plan.action = "refused"
            return plan
        plan.action = "create"
        plan.record = _concept_record(loaded, rtype, gitops, source, at)  # pyright: ignore[reportArgumentType]  # checked against `types`
    elif plan.versions:
        plan.action = "extend"
    elif plan.mirror:
        plan.action = "mirror"
    return plan


def plan_import(items: Sequence[LoadedItem], gitops: Sequence[GitopsEntry], existing: Mapping[str, ConceptRecord | None], *,
                types: Sequence[str], source: str, at: datetime, files: bool, update: bool) -> ImportPlan:
    """What to write for `items` given the records the store holds (`existing`, by concept id)."""
    by_nickname = {g.nickname: g for g in gitops if g.nickname}
    concepts: list[ConceptPlan] = []
    seen: set[str] = set()
    for loaded in items:
        cid = nickname_of(loaded.item)
        if cid in seen:
            concepts.append(ConceptPlan(cid, loaded.item.type, "refused", notes=[f"refused: '{loaded.item.id}' is listed twice"]))
            continue
        seen.add(cid)
        concepts.append(plan_concept(loaded, existing.get(cid), by_nickname.get(cid), types=types, source=source, at=at,
                                     files=files, update=update))
    unmatched = sum(1 for n in by_nickname if n not in seen)
    return ImportPlan(source, at, concepts, unmatched)


def entry_name(source: str, cid: str, labels: Sequence[str]) -> str:
    """A stable name for the log entry of one concept's import (a re-run finds it)."""
    digest = hashlib.sha256("\n".join((source, cid, *labels)).encode()).hexdigest()[:16]
    return f"import-{digest}"

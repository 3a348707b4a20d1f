"""What an import writes (pure): from what a source publishes and what the store holds
now, the concepts to create, the versions to add, mirror or replace, and what is refused
and why. `execute` does it."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Literal, cast

from ..description import summarize
from ..errors import InvalidIdError
from ..records import keys
from ..records.concept import ConceptRecord, DownloadCounts, ResourceType, VersionRecord
from ..records.scoring import version_key
from ..records.imported import LegacyConcept, LegacyVersion
from .loaded import LoadedItem, LoadedVersion, nickname_of
from .models import GitopsEntry, RunningItem
from .owners import bot_addresses, named_owners, owners_of
from .rdf_files import NamedFile, declared_sha256s, named_files
from .restore import restore_json_losses

IMPORT_ACTOR = "import-collection"
"""The actor of everything an import writes (log entries, `published_by`)."""


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
    restored: list[str] = field(default_factory=list[str])
    """Where `rdf_content` had JSON's losses undone (written into the rdf only without the upstream file)."""


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
    refusals: list[str] = field(default_factory=list[str])
    """Why what was refused was refused, one short reason each (counted by reason in the summary)."""


@dataclass(frozen=True)
class ImportPlan:
    source: str
    at: datetime
    concepts: list[ConceptPlan]
    gitops_unmatched: int
    """GitOps-era entries with no resource in the running collection (not imported)."""
    gitops_without_nickname: int = 0
    """GitOps-era entries without a nickname (nothing to match them by; not imported)."""

    def count(self, action: Action) -> int:
        return sum(1 for c in self.concepts if c.action == action)


def id_problem(item: RunningItem) -> str | None:
    """Why an index item's id cannot be imported, or None: its nickname must pass the one id rule,
    and its workspace must be plain path segments (it names the folder its reports are read from)."""
    if any(part in ("", ".", "..") or part != part.strip() for part in item.id.split("/")[:-1]):
        return f"invalid index id {ascii(item.id)}: its workspace is not a plain folder name"
    try:
        keys.checked(nickname_of(item))
    except InvalidIdError as e:
        return str(e)
    return None


GITOPS_RDF_ID = re.compile(r"10\.5281/zenodo\.[0-9]+/[0-9]+")
"""The one DOI-like form an rdf's own `id` is taken in: the GitOps era's `<concept DOI>/<record id>`."""


def _rdf_id_taken(rdf_id: str) -> bool:
    """Whether an rdf's own `id` may become an old id: anything but a DOI, or the GitOps-era form.
    A bare DOI there is what the rdf's author wrote, and could be another concept's record DOI."""
    return bool(rdf_id) and (not rdf_id.startswith("10.") or GITOPS_RDF_ID.fullmatch(rdf_id) is not None)


def old_ids(item: RunningItem, rdf_ids: Sequence[str] = ()) -> list[str]:
    """The ids a resource of the running collection is known by besides its nickname: the index id
    `bioimage-io/<nickname>`; for a partner application `<partner>:<name>` also `<partner>/<name>`
    (the form of its rdf's `id` and of other resources' `links`); the rdfs' own ids
    (GitOps-era `<concept DOI>/<record id>` among them; no other DOI: DOIs come from the records)."""
    nickname = nickname_of(item)
    out = [item.id] if item.id != nickname else []
    if ":" in nickname:
        out.append(nickname.replace(":", "/", 1))
    out.extend(i for i in rdf_ids if _rdf_id_taken(i) and i != nickname)
    return list(dict.fromkeys(out))


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


def _id_emoji(loaded: LoadedItem) -> str | None:
    for v in reversed(loaded.versions):
        emoji: Any = v.summary.rdf_content.get("id_emoji") if v.summary else None
        if isinstance(emoji, str) and emoji.strip():
            return emoji
    return None


def _concept_record(loaded: LoadedItem, rtype: ResourceType, gitops: GitopsEntry | None, source: str, at: datetime,
                    bots: set[str]) -> ConceptRecord:
    nickname = nickname_of(loaded.item)
    created = [t for v in loaded.versions if (t := v.entry.created_at) is not None]
    if gitops and (t := _parse_time(gitops.created)) is not None and t <= at:
        created.append(t)
    rdf_ids = [i for v in loaded.versions if v.summary and isinstance(i := v.summary.rdf_content.get("id"), str)]
    ids = old_ids(loaded.item, rdf_ids)
    concept_doi = gitops.id if gitops and gitops.id.startswith("10.") else None
    if concept_doi:
        ids.append(concept_doi)
    return ConceptRecord(
        id=nickname, type=rtype, created=min(created) if created else at, owners=owners_of(loaded, gitops, bots),
        concept_doi=concept_doi,
        legacy=LegacyConcept(source=source, imported=at, ids=list(dict.fromkeys(ids)),
                             nickname_icon=gitops.nickname_icon if gitops else None,
                             id_emoji=_id_emoji(loaded), named_owners=named_owners(loaded)),
        downloads=DownloadCounts(legacy=gitops.download_count) if gitops and gitops.download_count is not None else None,
    )


def _version_dois(versions: Sequence[tuple[str, set[str]]], gitops: GitopsEntry | None) -> dict[str, tuple[str | None, list[str]]]:
    """label -> (version DOI, older record DOIs). `versions`: (label, sha256s of its files), oldest first.

    A GitOps record becomes the oldest running version that shares a file with it (by the
    sha256s its rdf in `rdfs/` declares); without that evidence, the oldest running version
    (the running collection started from the GitOps era's newest records). The newest record
    of a version is its DOI, older ones resolve to it too, and so does each record's GitOps-era
    rdf id `<concept DOI>/<record id>`."""
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
        if gitops.id.startswith("10."):
            older.append(f"{gitops.id}/{record}")  # the GitOps-era rdf id `<concept DOI>/<record id>`
    return out


def _newest_statuses(tests: Any) -> dict[str, str]:
    """The tests behind upstream's status: per tool, the status of its newest report (by tool version)."""
    out: dict[str, str] = {}
    if isinstance(tests, dict):
        for tool, by_version in cast(dict[str, Any], tests).items():
            if isinstance(by_version, dict) and by_version:
                listed = cast(dict[str, Any], by_version)
                newest: Any = listed[max(listed, key=lambda v: version_key(str(v)))]
                status: Any = cast(dict[str, Any], newest).get("status") if isinstance(newest, dict) else None
                if isinstance(status, str):
                    out[str(tool)] = status
    return out


def _version_plan(cid: str, v: LoadedVersion, doi: str | None, older: list[str], replace: bool) -> VersionPlan:
    assert v.summary is not None
    content, restored = restore_json_losses(v.summary.rdf_content)
    summary = summarize(content)
    summary.version = v.entry.version
    summary.nickname = summary.nickname or cid
    record = VersionRecord(version=v.entry.version, published=v.entry.created_at or datetime(1970, 1, 1, tzinfo=timezone.utc),
                           published_by=IMPORT_ACTOR, uploader=summary.uploader_email, summary=summary, doi=doi)
    record.legacy = LegacyVersion(source_url=v.entry.source, source_sha256=v.entry.sha256, rdf_exact=False,
                                  status=v.summary.status, status_tests=_newest_statuses(v.summary.tests),
                                  comment=v.entry.comment)
    return VersionPlan(v.entry.version, content, v.entry.source, v.entry.sha256,
                       named_files(content, v.entry.source), v.reports, record, older, replace, restored)


FUTURE_SKEW = timedelta(days=1)
"""How far after the import a published date may lie (clocks differ) before it is refused."""


def version_problem(v: LoadedVersion, at: datetime | None = None) -> tuple[str, str] | None:
    """(short reason, the note) why a version cannot be imported as published, or None. A version
    published after the import (`at`) is refused: versions are ordered by that date, and a date to
    come would make it the concept's latest for ever."""
    try:
        keys.checked_label(v.entry.version)
    except InvalidIdError as e:
        return "version label", f"{ascii(v.entry.version)}: refused: {e}"
    if at is not None and v.entry.created_at is not None and v.entry.created_at > at + FUTURE_SKEW:
        return "date to come", f"{v.entry.version}: refused: published {v.entry.created_at.isoformat()}, after this import"
    if v.problem is not None:
        return "unreadable summary.json", f"{v.entry.version}: refused: {v.problem}"
    if v.summary is None:
        return "no summary.json", f"{v.entry.version}: refused: no summary.json (its rdf is not published)"
    if v.summary.rdf_yaml_sha256 and v.summary.rdf_yaml_sha256 != v.entry.sha256:
        return "sha256 differs", (f"{v.entry.version}: refused: summary.json's rdf has sha256 {v.summary.rdf_yaml_sha256[:12]}…, "
                                  f"index.json's {v.entry.sha256[:12]}…")
    if not v.summary.rdf_content:
        return "no rdf_content", f"{v.entry.version}: refused: summary.json has no rdf_content"
    broken = v.summary.rdf_content.get("error") if len(v.summary.rdf_content) == 1 else None
    if broken is not None:
        first = str(broken).splitlines()[0][:120] if str(broken) else "no reason given"
        return "unreadable upstream rdf", (f"{v.entry.version}: refused: the running collection could not read its rdf "
                                           f"({first}); summary.json holds only that error")
    return None


def _refuse(plan: ConceptPlan, reason: str, note: str) -> ConceptPlan:
    plan.action = "refused"
    plan.refusals.append(reason)
    plan.notes.append(note)
    return plan


def plan_concept(loaded: LoadedItem, existing: ConceptRecord | None, gitops: GitopsEntry | None, *,
                 types: Sequence[str], source: str, at: datetime, files: bool, update: bool,
                 held_ids: Sequence[str] = (), bots: set[str] | None = None) -> ConceptPlan:
    """`held_ids`: ids the store holds (a case variant of one is refused)."""
    cid = nickname_of(loaded.item)
    rtype = loaded.item.type
    plan = ConceptPlan(cid, rtype, "unchanged")
    try:
        problem = id_problem(loaded.item)
        if problem is not None:
            raise InvalidIdError(problem)
        keys.checked(cid, held_ids)
    except InvalidIdError as e:
        plan.id = ascii(cid)[1:-1]  # shown and counted, never a key
        return _refuse(plan, "concept id", f"refused: {e}")
    if rtype not in types:
        return _refuse(plan, "type", f"refused: type '{rtype}' is not one the collection holds ({', '.join(types)})")
    if existing is not None and existing.legacy is None:
        return _refuse(plan, "id held here", f"refused: id '{cid}' belongs to a concept of this collection that was not imported")
    if existing is not None and existing.type != rtype:
        return _refuse(plan, "type", f"refused: '{cid}' is held as a {existing.type}, the source says {rtype}")
    good: list[LoadedVersion] = []
    for v in loaded.versions:
        problem = version_problem(v, at)
        if problem:
            plan.refusals.append(problem[0])
            plan.notes.append(problem[1])
        else:
            good.append(v)
    dois = _version_dois([(v.entry.version, declared_sha256s(v.summary.rdf_content) if v.summary else set[str]())
                          for v in loaded.versions], gitops)
    for v in good:
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
        plan.record = _concept_record(loaded, rtype, gitops, source, at, bots or set())  # pyright: ignore[reportArgumentType]  # checked against `types`
    elif plan.versions:
        plan.action = "extend"
    elif plan.mirror:
        plan.action = "mirror"
    return plan


def plan_import(items: Sequence[LoadedItem], gitops: Sequence[GitopsEntry], existing: Mapping[str, ConceptRecord | None], *,
                types: Sequence[str], source: str, at: datetime, files: bool, update: bool,
                held: Sequence[str] = (), mail_from: Sequence[str] = ()) -> ImportPlan:
    """What to write for `items` given the records the store holds (`existing`, by concept id;
    `held`: every id the store holds; `mail_from`: the collection's own sender address)."""
    by_nickname = {g.nickname: g for g in gitops if g.nickname}
    bots = bot_addresses(items, mail_from)
    concepts: list[ConceptPlan] = []
    seen: set[str] = set()
    folded = {h.casefold(): h for h in held}
    for loaded in items:
        cid = nickname_of(loaded.item)
        if cid in seen:
            concepts.append(ConceptPlan(cid, loaded.item.type, "refused", notes=[f"refused: '{loaded.item.id}' is listed twice"],
                                        refusals=["listed twice"]))
            continue
        seen.add(cid)
        cp = plan_concept(loaded, existing.get(cid), by_nickname.get(cid), types=types, source=source, at=at,
                          files=files, update=update, held_ids=[h] if (h := folded.get(cid.casefold())) else [], bots=bots)
        if cp.action != "refused":
            folded.setdefault(cid.casefold(), cid)
        concepts.append(cp)
    unmatched = sum(1 for n in by_nickname if n not in seen)
    return ImportPlan(source, at, concepts, unmatched, sum(1 for g in gitops if not g.nickname))


def entry_name(source: str, cid: str, labels: Sequence[str]) -> str:
    """A stable name for the log entry of one concept's import (a re-run finds it)."""
    digest = hashlib.sha256("\n".join((source, cid, *labels)).encode()).hexdigest()[:16]
    return f"import-{digest}"

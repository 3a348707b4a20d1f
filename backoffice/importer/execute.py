"""Doing an import plan. Per concept: the versions' files and rdfs, their reports (checked
as `ingest-reports` checks them) and compatibility, the provenance log entry, then ONE
commit of the concept document. Every write before the commit puts the same bytes under
the same key on a re-run, and the commit is create-if-absent (or an etag-guarded update),
so an import killed anywhere and run again ends with the store of one clean run."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import yaml

from ..context import Context
from ..errors import BackofficeError, ConflictError
from ..records import keys
from ..records.concept import ConceptRecord, VersionRecord
from ..records.imported import LegacyVersion, RemoteFile
from ..records.journal import LogEntry
from .files import Fetcher, Unreachable, all_remote, fetch_bytes, mirror_files
from .progress import refusal_lines
from .plan import IMPORT_ACTOR, ConceptPlan, ImportPlan, VersionPlan, entry_name
from .reports import check_reports, store_reports
from .sources import Reader

MAX_RDF_BYTES = 10 * 1024 * 1024


@dataclass(frozen=True)
class ImportOptions:
    files: bool
    """Mirror the files (else they stay remote)."""
    fetcher: Fetcher = field(default_factory=lambda: Fetcher(timeout=60.0))
    """Every request of the run (the guard, the time limit per file host, the progress)."""
    workers: int = 8
    max_file_bytes: int = 4 * 1024**3
    mark: bool = True
    """Write a change marker per concept for the next index run (a bulk import drops the index cache instead)."""


@dataclass
class ConceptOutcome:
    id: str
    action: str
    versions: list[str] = field(default_factory=list[str])
    reports: int = 0
    notes: list[str] = field(default_factory=list[str])
    remote_files: int = 0
    refusals: list[str] = field(default_factory=list[str])
    """One short reason per refused resource or version (the summary counts them by reason)."""


def rdf_from_content(content: dict[str, Any]) -> bytes:
    """An rdf.yaml written from summary.json's `rdf_content` (when the upstream file cannot be fetched);
    libyaml's emitter: ten times faster than ruamel's, which counts for an import of thousands."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
    return yaml.dump(content, Dumper=dumper, sort_keys=False, allow_unicode=True, width=4096).encode("utf-8")


def _rdf(vp: VersionPlan, opts: ImportOptions) -> tuple[bytes, bool, str | None]:
    """(rdf bytes, exact upstream file, why the files stay remote). Raises ValueError on a wrong sha256."""
    if not opts.files:
        return rdf_from_content(vp.rdf_content), False, "not mirrored (--no-files)"
    try:
        data = fetch_bytes(opts.fetcher, vp.source_url, MAX_RDF_BYTES)
    except Unreachable as e:
        return rdf_from_content(vp.rdf_content), False, f"host unreachable: {e}"
    got = hashlib.sha256(data).hexdigest()
    if got != vp.source_sha256:
        raise ValueError(f"{vp.label}: refused: the rdf at {vp.source_url} has sha256 {got[:12]}…, index.json says {vp.source_sha256[:12]}…")
    return data, True, None


def _with_remote_urls(record: VersionRecord, remote: dict[str, RemoteFile]) -> None:
    """Covers and documentation that stayed remote are shown from where they are."""
    s = record.summary
    s.covers = [remote[c].url if c in remote else c for c in s.covers]
    if s.documentation in remote:
        s.documentation = remote[s.documentation].url


def content_for(vp: VersionPlan, held: VersionRecord | None) -> str:
    """Where a version's files and reports are written (`keys.version_root`): a new version at its
    root; a replaced one (`--update`) beside what its record names now, in a folder named after the
    upstream rdf's sha256 (a re-run writes the same keys), never the one in use."""
    if not vp.replace or held is None:
        return ""
    return f"u{vp.source_sha256[:16]}"


def remove_replaced(ctx: Context, cid: str, label: str, old: str) -> None:
    """After the commit: the files and reports of a replaced version's earlier content."""
    if old:
        ctx.storage.delete_prefix(keys.version_root(cid, label, old))
        return
    for prefix in (keys.version_files(cid, label), keys.version_reports(cid, label)):
        ctx.storage.delete_prefix(prefix)


def write_version(ctx: Context, cid: str, vp: VersionPlan, opts: ImportOptions, content: str = "") -> VersionRecord:
    """Store a version's rdf and files under `content` (see `content_for`); its record (not committed).
    Nothing held is overwritten or deleted here. ValueError: refused."""
    rdf, exact, why_remote = _rdf(vp, opts)
    files_prefix = keys.version_files(cid, vp.label, content)
    if why_remote is None:
        remote = mirror_files(ctx.storage, files_prefix, vp.files, fetcher=opts.fetcher, max_bytes=opts.max_file_bytes,
                              workers=opts.workers)
    else:
        remote = all_remote(vp.files, why_remote)
    ctx.storage.put_bytes(files_prefix + "rdf.yaml", rdf, content_type="application/x-yaml")
    record = vp.record.model_copy(deep=True)
    record.rdf_sha256 = hashlib.sha256(rdf).hexdigest()
    planned = record.legacy or LegacyVersion(source_url=vp.source_url, source_sha256=vp.source_sha256, rdf_exact=exact)
    record.legacy = planned.model_copy(update={"rdf_exact": exact, "ids": vp.legacy_ids, "remote_files": remote,
                                               "restored": [] if exact else vp.restored, "content": content})
    _with_remote_urls(record, remote)
    return record


def _log(ctx: Context, plan: ImportPlan, cp: ConceptPlan, out: ConceptOutcome) -> None:
    entry = LogEntry(timestamp=plan.at, step="import", actor=IMPORT_ACTOR, subject="versions", run_url=ctx.settings.ci_run_url(),
                     message=f"imported from {plan.source} at {plan.at.isoformat()}: {cp.action} "
                             f"{', '.join(out.versions) or 'no version'}; {out.reports} reports",
                     details={"source": plan.source, "versions": out.versions, "notes": out.notes,
                              "remote_files": out.remote_files})
    ctx.log(cp.id).journal.append_once(entry.model_dump(mode="json"), plan.at, entry_name(plan.source, cp.id, [cp.action, *out.versions]))


def _marker(plan: ImportPlan, cp: ConceptPlan, labels: list[str]) -> str:
    return plan.at.strftime("%Y%m%dT%H%M%S.%fZ") + "-" + entry_name(plan.source, cp.id, [cp.action, *labels])


def _mark_before(ctx: Context, plan: ImportPlan, cp: ConceptPlan, out: ConceptOutcome, opts: ImportOptions) -> None:
    """The index's change marker, written before the commit too (the commit writes the same key again):
    a run killed between its commit and its marker still leaves the marker, and a re-run finds the
    concept committed and writes nothing more."""
    if opts.mark:
        ctx.concepts.mark_changed(cp.id, _marker(plan, cp, out.versions))


def _new_versions(ctx: Context, reader: Reader, cp: ConceptPlan, base: ConceptRecord, opts: ImportOptions,
                  version_dir: Callable[[str], str], out: ConceptOutcome) -> dict[str, VersionRecord]:
    made: dict[str, VersionRecord] = {}
    for vp in cp.versions:
        try:
            made[vp.label] = write_version(ctx, cp.id, vp, opts, content_for(vp, base.versions.get(vp.label)))
        except ValueError as e:
            out.notes.append(str(e))
            out.refusals.append("sha256 differs")
    draft = base.model_copy(deep=True)
    draft.versions.update(made)
    for vp in cp.versions:
        if vp.label not in made:
            continue
        checked = check_reports(ctx, reader, draft, vp.label, version_dir(vp.label), vp.reports)
        out.notes.extend(checked.refused)
        store_reports(ctx, draft, vp.label, checked.accepted)
        made[vp.label] = draft.versions[vp.label]
        out.reports += len(checked.accepted)
        out.remote_files += len(made[vp.label].legacy.remote_files) if made[vp.label].legacy else 0  # pyright: ignore[reportOptionalMemberAccess]
    out.versions = list(made)
    return made


def _mirror(ctx: Context, cp: ConceptPlan, record: ConceptRecord, opts: ImportOptions, out: ConceptOutcome) -> dict[str, VersionRecord]:
    """Fetch what earlier runs left remote: the exact rdf and the missing files."""
    done: dict[str, VersionRecord] = {}
    for label in cp.mirror:
        v = record.versions[label].model_copy(deep=True)
        assert v.legacy is not None
        try:
            data = fetch_bytes(opts.fetcher, v.legacy.source_url, MAX_RDF_BYTES)
        except Unreachable as e:
            out.notes.append(f"{label}: files stay remote: host unreachable: {e}")
            continue
        if hashlib.sha256(data).hexdigest() != v.legacy.source_sha256:
            out.notes.append(f"{label}: files stay remote: the rdf upstream changed (sha256 differs); --update takes it")
            continue
        from .rdf_files import NamedFile

        missing = [NamedFile(n, r.url, r.sha256) for n, r in v.legacy.remote_files.items()]
        still = mirror_files(ctx.storage, keys.version_files(cp.id, label, v.content), missing, fetcher=opts.fetcher,
                             max_bytes=opts.max_file_bytes, workers=opts.workers)
        if not v.legacy.rdf_exact:
            ctx.storage.put_bytes(keys.version_files(cp.id, label, v.content) + "rdf.yaml", data, content_type="application/x-yaml")
            v.rdf_sha256, v.legacy.rdf_exact, v.legacy.restored = v.legacy.source_sha256, True, []
        for name in v.legacy.remote_files:
            if name not in still:
                v.summary.covers = [name if c == v.legacy.remote_files[name].url else c for c in v.summary.covers]
                if v.summary.documentation == v.legacy.remote_files[name].url:
                    v.summary.documentation = name
        out.remote_files += len(still)
        if still == v.legacy.remote_files and v == record.versions[label]:
            continue  # nothing more could be fetched
        v.legacy.remote_files = still
        done[label] = v
    out.versions = list(done)
    return done


def import_concept(ctx: Context, reader: Reader, plan: ImportPlan, cp: ConceptPlan, opts: ImportOptions,
                   version_dir: Callable[[str], str]) -> ConceptOutcome:
    out = ConceptOutcome(cp.id, cp.action, notes=list(cp.notes), refusals=list(cp.refusals))
    if cp.action in ("refused", "unchanged"):
        return out
    if cp.action == "create":
        assert cp.record is not None
        made = _new_versions(ctx, reader, cp, cp.record, opts, version_dir, out)
        if not made:
            out.action = "refused"
            return out
        record = cp.record.model_copy(deep=True)
        record.versions = dict(sorted(made.items(), key=lambda kv: (kv[1].published, kv[0])))
        _log(ctx, plan, cp, out)
        _mark_before(ctx, plan, cp, out, opts)
        try:
            ctx.concepts.create(record, marker=_marker(plan, cp, out.versions), mark=opts.mark)
        except ConflictError:
            out.action = "refused"
            out.refusals.append("created meanwhile")
            out.notes.append(f"refused: '{cp.id}' was created by another run meanwhile; run the import again")
        return out
    current = ctx.concepts.get(cp.id)
    made = (_new_versions(ctx, reader, cp, current, opts, version_dir, out) if cp.action == "extend"
            else _mirror(ctx, cp, current, opts, out))
    if not made:
        out.action = "unchanged" if cp.action == "mirror" else out.action
        return out
    _log(ctx, plan, cp, out)
    _mark_before(ctx, plan, cp, out, opts)

    def mutate(record: ConceptRecord) -> None:
        record.versions.update(made)
        record.versions = dict(sorted(record.versions.items(), key=lambda kv: (kv[1].published, kv[0])))

    replaced = {label: current.versions[label].content for label, v in made.items()
                if label in current.versions and v.content != current.versions[label].content}
    ctx.concepts.update(cp.id, mutate, marker=_marker(plan, cp, out.versions))  # the one commit point
    for label, old in replaced.items():
        remove_replaced(ctx, cp.id, label, old)
    return out


def execute(ctx: Context, reader: Reader, plan: ImportPlan, opts: ImportOptions,
            version_dir: Callable[[str, str], str]) -> list[ConceptOutcome]:
    """Import every planned concept (several at once); `version_dir(concept id, version)` is the
    source folder of a version's summary and reports."""
    progress = opts.fetcher.progress

    def one(cp: ConceptPlan) -> ConceptOutcome:
        try:
            out = import_concept(ctx, reader, plan, cp, opts, lambda label: version_dir(cp.id, label))
        except (BackofficeError, ValueError, UnicodeError) as e:  # one resource refused with its reason; the import goes on
            out = ConceptOutcome(cp.id, "refused", notes=[*cp.notes, f"refused: {ascii(str(e))[1:-1]}"],
                                 refusals=[*cp.refusals, type(e).__name__])
        for line in refusal_lines(out.id, out.action, out.notes):  # as it happens, not at the end
            progress.refused(line)
        progress.advance(resources=1, versions=len(out.versions))
        return out

    progress.expect(resources=len(plan.concepts), versions=sum(len(cp.versions) for cp in plan.concepts))

    with ThreadPoolExecutor(max_workers=max(1, opts.workers)) as pool:
        return list(pool.map(one, plan.concepts))

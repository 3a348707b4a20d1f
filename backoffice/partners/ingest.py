"""`backoffice ingest-reports <partner> <file | folder | zip | URL>...`: accept a partner's
compatibility reports.

Reports are laid out as the running collection does, `<concept id>/<version>/<tool>_<tool_version>.json`
(optionally with a `reports/` folder before the file), as single files, folders, zip
archives (a workflow artifact) or http(s) URLs of either. EVERY report is checked before
anything is stored — format, size, tool name of the partner, published version, sha256 of
the rdf it checked — and a bad one is refused with one line naming the file and field:
then nothing is stored. Accepted reports are stored byte for byte next to the version's
other reports, each touched version is conflated once, and the partner's ledger and the
concept logs record what came in. The concept documents are read, the reports written
and the concepts conflated in parallel (`WORKERS` requests in flight).

What one hand-in costs in requests, for R reports on V versions of C concepts: C reads of
concept documents (for the checks), 1 write of the pending object
(`records/pending.py`), R report writes, per version one read and one write of
`compatibility.json` (the merge, `records/conflation.py`; only the write for a version
never conflated), per concept one log entry, one concept-document write (from the
document read for the checks) and one index marker; then the ledger entry, the removal of
the pending object, and one listing of `pending/conflation/`. No version's reports are
listed and no other report is read.
"""

from __future__ import annotations

import json
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from ..config.collection_config import Partner
from ..context import Context
from ..errors import BackofficeError, NotFoundError, ReportRejectedError
from ..log import logger
from ..records import keys, pending
from ..records.concept import ConceptRecord
from ..records.conflation import apply_brief, merge_reports
from ..records.scoring import Compatibility
from ..records.report_names import current_core_version
from ..records.tool_report import MAX_REPORT_BYTES, OWN_TOOL, ReportProblem, ToolReport, parse_report, report_file_name
from .ledger import Ledger, VersionRef

T = TypeVar("T")
MAX_ARCHIVE_BYTES = 200 * 1024 * 1024
"""Largest zip/download of reports accepted."""
MAX_REPORT_FILES = 2000
"""Most report files one hand-in may hold (all are checked, and held, before any is stored)."""
MAX_TOTAL_REPORT_BYTES = 64 * 1024 * 1024
"""Most bytes of report files one hand-in may hold, by their declared sizes before reading
and by what was read."""


@dataclass(frozen=True)
class Candidate:
    """One report file as handed in, before checks."""

    origin: str
    """Where it came from, for messages (path, URL or `archive.zip:member`)."""
    relative: str
    """`<concept id>/<version>/[reports/]<tool>_<tool_version>.json`."""
    read: Any
    """() -> bytes, reading at most MAX_REPORT_BYTES + 1 bytes."""


@dataclass(frozen=True)
class Accepted:
    concept_id: str
    version: str
    tool: str
    tool_version: str
    report: ToolReport
    data: bytes
    origin: str
    content: str = ""
    """The version's content folder (`keys.version_root`)."""

    @property
    def key(self) -> str:
        return keys.version_reports(self.concept_id, self.version, self.content) + report_file_name(self.tool, self.tool_version)


@dataclass(frozen=True)
class IngestResult:
    accepted: list[Accepted]
    versions: list[tuple[str, str]]
    """(concept id, version) conflated."""


def _reject(origin: str, field: str, message: str) -> ReportRejectedError:
    return ReportRejectedError(f"{origin}: {field}: {message}")


def _file_reader(path: Path) -> Any:
    def read() -> bytes:
        with path.open("rb") as f:
            return f.read(MAX_REPORT_BYTES + 1)
    return read


def _from_zip(path: Path, origin: str) -> Iterator[Candidate]:
    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise _reject(origin, "archive", f"not a readable zip file ({e})") from None
    members = [i for i in archive.infolist() if not i.is_dir() and i.filename.endswith(".json")]
    _check_bounds(origin, len(members), sum(i.file_size for i in members))
    for info in members:
        if info.filename.startswith("/") or ".." in info.filename.split("/"):
            raise _reject(f"{origin}:{info.filename}", "path", "absolute paths and '..' are not allowed")

        def read(info: zipfile.ZipInfo = info) -> bytes:
            with archive.open(info) as f:
                return f.read(MAX_REPORT_BYTES + 1)

        yield Candidate(f"{origin}:{info.filename}", info.filename, read)


def _check_bounds(origin: str, count: int, size: int) -> None:
    """Refuse a hand-in with too many report files, or too many bytes of them, before reading any."""
    if count > MAX_REPORT_FILES:
        raise _reject(origin, "archive", f"{count} report files, more than the {MAX_REPORT_FILES} one hand-in may hold")
    if size > MAX_TOTAL_REPORT_BYTES:
        raise _reject(origin, "archive", f"{size} bytes of report files, more than the {MAX_TOTAL_REPORT_BYTES} one hand-in may hold")


def _from_path(path: Path, origin: str) -> Iterator[Candidate]:
    if path.is_dir():
        files = sorted(path.rglob("*.json"))
        _check_bounds(origin, len(files), sum(f.stat().st_size for f in files if f.is_file()))
        for file in files:
            yield Candidate(str(file), file.relative_to(path).as_posix(), _file_reader(file))
    elif path.suffix == ".zip":
        yield from _from_zip(path, origin)
    elif path.is_file():
        yield Candidate(origin, path.as_posix(), _file_reader(path))
    else:
        raise _reject(origin, "path", "no such file or folder")


def collect(sources: Sequence[str], work_dir: Path, timeout: float = 60, allowed_hosts: Sequence[str] = ()) -> list[Candidate]:
    """Every report file in `sources` (paths, folders, zips, URLs); URLs are downloaded."""
    from ..stage.fetch import download, is_url

    out: list[Candidate] = []
    for i, source in enumerate(sources):
        if is_url(source):
            folder = work_dir / f"download-{i}"
            folder.mkdir()
            try:
                file = download(source, folder, max_bytes=MAX_ARCHIVE_BYTES, timeout=timeout, progress=False, allowed_hosts=allowed_hosts)
            except BackofficeError as e:
                raise _reject(source, "url", str(e)) from None
            path_part = source.split("?", 1)[0].split("#", 1)[0]
            if path_part.endswith(".zip") or (not path_part.endswith(".json") and zipfile.is_zipfile(file)):
                out.extend(_from_zip(file, source))
            else:  # a single report: its URL path gives <concept>/<version>/<file>
                out.append(Candidate(source, path_part.split("://", 1)[-1].split("/", 1)[-1], _file_reader(file)))
        else:
            out.extend(_from_path(Path(source), source))
    if not out:
        raise ReportRejectedError(f"no report files (*.json) in {', '.join(sources) or 'the arguments'}")
    _check_bounds("the reports handed in", len(out), 0)
    return out


def _target(relative: str) -> tuple[str, str, str]:
    """(concept id, version, file name) from `<concept>/<version>/[reports/]<file>` (the last parts)."""
    parts = [p for p in relative.split("/") if p]
    if len(parts) >= 4 and parts[-2] == "reports":
        parts = parts[:-2] + parts[-1:]
    if len(parts) < 3:
        raise ReportProblem("path", "must be <concept id>/<version>/<tool>_<tool_version>.json")
    return parts[-3], parts[-2], parts[-1]


def pinned_release(partner: Partner) -> str | None:
    """The release of the partner's tool its `script` environment pins (`<tool>==<version>`)."""
    if partner.script is None:
        return None
    for req in partner.script.environment:
        name, sep, version = req.partition("==")
        if sep and name.strip().lower() == partner.tool_name.lower():
            return version.strip()
    return None


def check(ctx: Context, partner: Partner, candidate: Candidate,
          records: dict[str, ConceptRecord | None] | None = None) -> Accepted:
    """One report checked against the partner and the collection; ReportRejectedError says why.
    `records` caches concept documents across the reports of one batch."""
    o = candidate.origin
    try:
        concept_id, version, name = _target(candidate.relative)
        data: bytes = candidate.read()
        if len(data) > MAX_REPORT_BYTES:
            raise ReportProblem("size", f"more than {MAX_REPORT_BYTES} bytes")
        tool, tool_version, report = parse_report(name, data)
    except ReportProblem as e:
        raise _reject(o, e.field, e.message) from None
    if tool.lower() != partner.tool_name.lower():
        raise _reject(o, "tool", f"'{tool}' is not the tool of partner '{partner.id}' ('{partner.tool_name}')")
    if partner.tool_name == OWN_TOOL and tool_version == current_core_version():
        raise _reject(o, "tool_version", f"{OWN_TOOL} {tool_version} is the release the backoffice reports on itself")
    cache = records if records is not None else {}
    if concept_id not in cache:
        cache[concept_id] = ctx.concepts.find(concept_id)
    record = cache[concept_id]
    if record is None:
        raise _reject(o, "concept", f"'{concept_id}' is not in the collection")
    v = record.versions.get(version)
    if v is None:
        raise _reject(o, "version", f"'{concept_id}' has no published version '{version}'")
    if record.type not in partner.resource_types:
        raise _reject(o, "type", f"partner '{partner.id}' does not check {record.type}s")
    extra = report.model_extra or {}
    claimed = extra.get("rdf_sha256", extra.get("sha256"))
    if claimed is not None and claimed != v.rdf_sha256:
        raise _reject(o, "rdf_sha256", f"the report checked an rdf with sha256 {str(claimed)[:16]}…, ours is {v.rdf_sha256[:16]}…")
    return Accepted(concept_id, version, tool, tool_version, report, data, o, v.content)  # the tool name as received


def load_expected(path: Path) -> dict[tuple[str, str], str]:
    """The resources a check was given (`plan-partner-check --out`): (concept, version) -> rdf sha256."""
    try:
        items: Any = json.loads(path.read_text(encoding="utf-8"))
        return {(str(i["id"]), str(i["version"])): str(i["sha256"]) for i in items}
    except RecursionError:
        raise ReportRejectedError(f"{path}: not a list of planned resources: JSON nested too deeply") from None
    except (OSError, ValueError, TypeError, KeyError) as e:
        raise ReportRejectedError(f"{path}: not a list of planned resources (id, version, sha256): {e}") from None


def _check_expected(a: Accepted, expected: Mapping[tuple[str, str], str]) -> None:
    """A report of a check our own workflow ran (uploaded code ran there too) must be about a
    resource that check was given, and name the rdf it checked."""
    sha = expected.get((a.concept_id, a.version))
    if sha is None:
        raise _reject(a.origin, "resource", f"{a.concept_id} {a.version} is not among the resources this check was given")
    extra = a.report.model_extra or {}
    if extra.get("rdf_sha256", extra.get("sha256")) != sha:
        raise _reject(a.origin, "rdf_sha256", "a planned check must name the sha256 of the rdf it was given")


WORKERS = 16
"""Requests in flight at once while ingesting (reads of concept documents, writes, conflations)."""


def _in_parallel(work: Callable[[T], object], items: Sequence[T]) -> None:
    """Run `work` on every item in a pool of threads; the first error is raised after all ran."""
    if not items:
        return
    with ThreadPoolExecutor(max_workers=min(WORKERS, len(items))) as pool:
        for _ in pool.map(work, items):
            pass


def _prefetch_records(ctx: Context, candidates: Sequence[Candidate]) -> dict[str, tuple[ConceptRecord, str] | None]:
    """The concept documents the candidates name with their etags, read in parallel (for
    `check`, and as the first attempt of the concept-document updates)."""
    ids: set[str] = set()
    for c in candidates:
        try:
            ids.add(_target(c.relative)[0])
        except ReportProblem:
            continue  # `check` refuses it with its reason
    records: dict[str, tuple[ConceptRecord, str] | None] = {}

    def read(cid: str) -> None:
        try:
            records[cid] = ctx.concepts.get_with_etag(cid)
        except NotFoundError:
            records[cid] = None

    _in_parallel(read, sorted(ids))
    return records


def _conflate_concept(ctx: Context, partner: Partner, cid: str, mine: list[Accepted], etags: Mapping[str, str],
                      known: tuple[ConceptRecord, str], actor: str | None) -> None:
    """Merge the reports just stored into each touched version's summary, log what came in,
    and note the briefs with one concept-document update (starting from the document read
    for the checks), whose index marker also covers the log entry."""
    versions = sorted({a.version for a in mine})
    briefs: dict[str, Compatibility] = {}
    for v in versions:
        held = known[0].versions.get(v)
        briefs[v] = merge_reports(ctx.storage, keys.version_reports(cid, v, held.content if held is not None else ""),
                                  {a.key: (a.report, etags[a.key]) for a in mine if a.version == v},
                                  None if held is None or held.compatibility is None else held.compatibility.revision)
    ctx.record_step(cid, "compatibility-report",
                    "; ".join(f"{a.version}: {a.tool} {a.tool_version} {a.report.status}" for a in mine),
                    actor=actor or f"partner:{partner.id}", subject=versions[0] if len(versions) == 1 else "versions",
                    details=[{"version": a.version, "tool": a.tool, "tool_version": a.tool_version, "status": a.report.status,
                              "score": a.report.score, "error": a.report.error} for a in mine], mark=False)

    def mutate(record: ConceptRecord) -> bool:
        for v, compat in briefs.items():
            apply_brief(record, v, None, compat)
        return any(v in record.versions and record.versions[v].compatibility is c for v, c in briefs.items())

    if not ctx.concepts.update(cid, mutate, known=known):
        ctx.concepts.mark_changed(cid)  # a newer brief was there already: the marker is the log entry's


def repair_interrupted(ctx: Context) -> int:
    """Repair what ingests that died left (`records/pending.py`): conflate their versions in
    full, append their ledger entries and remove their pending objects; how many there were."""
    left = pending.left_over(ctx.storage, ctx.settings.pending_repair_after)
    for p in left:
        repaired = pending.repair(ctx.storage, ctx.concepts, p)
        if repaired and p.partner in {q.id for q in ctx.config.partners}:
            Ledger(ctx.storage, p.partner).append("reported", [VersionRef(c, v, "") for c, v in repaired],
                                                  run_url=ctx.settings.ci_run_url(), note=f"repaired ({p.key})")
        pending.done(ctx.storage, p)
    return len(left)


def _known(records: Mapping[str, tuple[ConceptRecord, str] | None], cid: str) -> tuple[ConceptRecord, str]:
    got = records[cid]
    assert got is not None  # `check` accepted a report of it
    return got


def ingest(ctx: Context, partner_id: str, sources: Sequence[str], *, actor: str | None = None,
           expected: Mapping[tuple[str, str], str] | None = None) -> IngestResult:
    """Check every report, then store them all, conflate each touched version once, log.

    `expected`: the resources a check of ours was given (a `script` partner's run): any
    other report is refused, and a `script` partner's reports must carry the release its
    environment pins."""
    partner = ctx.config.partner(partner_id)
    with tempfile.TemporaryDirectory(prefix="backoffice-reports-") as tmp:
        candidates = collect(sources, Path(tmp), ctx.settings.download_timeout, ctx.settings.download_allowed_hosts)
        records = _prefetch_records(ctx, candidates)
        documents = {cid: None if got is None else got[0] for cid, got in records.items()}
        accepted: list[Accepted] = []
        held = 0
        for c in candidates:
            accepted.append(check(ctx, partner, c, documents))
            held += len(accepted[-1].data)
            if held > MAX_TOTAL_REPORT_BYTES:  # the declared sizes can lie
                raise _reject(c.origin, "archive", f"more than {MAX_TOTAL_REPORT_BYTES} bytes of report files in one hand-in")
    if partner.dispatch is not None and not partner.dispatch.reports_unsent:
        sent = Ledger(ctx.storage, partner.id).state().last_sent
        for a in accepted:
            if (a.concept_id, a.version) not in sent:
                raise _reject(a.origin, "resource", f"{a.concept_id} {a.version} was never sent to partner '{partner.id}'"
                              " (its config allows reports only on versions it was sent: dispatch.reports_unsent)")
    if expected is not None:
        pinned = pinned_release(partner)
        for a in accepted:
            _check_expected(a, expected)
            if pinned is not None and a.tool_version != pinned:
                raise _reject(a.origin, "tool_version", f"the check's environment pins {partner.tool_name} {pinned}, not {a.tool_version}")
    seen: dict[str, str] = {}
    for a in accepted:
        if a.key in seen:
            raise _reject(a.origin, "file name", f"the same report as {seen[a.key]}")
        seen[a.key] = a.origin
    repair_interrupted(ctx)  # what an ingest that died left, before this one's merges build on it
    # everything checked: announce, store (in parallel), then conflate each touched concept (in parallel)
    touched = sorted({(a.concept_id, a.version) for a in accepted})
    announced = pending.begin(ctx.storage, partner.id, touched, [a.key for a in accepted])
    etags: dict[str, str] = {}

    def store(a: Accepted) -> None:
        etags[a.key] = ctx.storage.put_bytes(a.key, a.data, content_type="application/json")

    _in_parallel(store, accepted)
    by_concept: dict[str, list[Accepted]] = {}
    for a in accepted:
        by_concept.setdefault(a.concept_id, []).append(a)
    _in_parallel(lambda cid: _conflate_concept(ctx, partner, cid, by_concept[cid], etags, _known(records, cid), actor),
                 sorted(by_concept))
    Ledger(ctx.storage, partner.id).append("reported", [VersionRef(a.concept_id, a.version, "") for a in accepted],
                                           run_url=ctx.settings.ci_run_url())
    pending.done(ctx.storage, announced)
    logger.info("partner %s: %d reports on %d versions ingested", partner.id, len(accepted), len(touched))
    return IngestResult(accepted, touched)

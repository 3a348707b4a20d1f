"""`backoffice stage`: package -> draft (staging -> unpacking -> unpacked).

Every check runs before anything is written. Files go to a fresh folder per
upload; the draft switches to it in one conditional write of the concept
document, so a failure at any point leaves the earlier draft as it was.
"""

from __future__ import annotations

import hashlib
import re
import tempfile
import uuid
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

from ..context import Context
from ..description import (
    declared_id,
    parse_description,
    resource_type,
    set_thumbnails,
    summarize,
    with_concept_id,
)
from ..errors import ConflictError, IllegalTransitionError, InvalidIdError, PackageError
from ..log import logger
from ..records import keys
from ..records.concept import ConceptRecord, DraftRecord, StagingRecord
from ..records.journal import utcnow
from ..records.manifest import FileEntry, files_digest, write_manifest
from ..records.snapshot import changes_since_latest
from ..records.status import DraftStatus, check_step
from .fetch import resolve_source
from .ownership import check_uploader, claim_id, queue_concept
from .package import Limits, PackagePlan, iter_entry_chunks, open_zip, plan_package
from .thumbnail_plan import ThumbnailLimits
from .thumbnails import ThumbnailResult, make_thumbnails
from .versions import default_version

VERSION = re.compile(r"^[0-9][0-9A-Za-z.+_-]*$")


@dataclass(frozen=True)
class StageResult:
    concept_id: str
    token: str
    version: str
    files: int
    bytes: int
    rdf_url: str
    version_assigned: bool = False
    """The description had no `version`; the backoffice gave it `version`."""


def new_token() -> str:
    return utcnow().strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


def check_version(version: str) -> str:
    if not VERSION.fullmatch(version):
        raise PackageError(f"version '{version}' must start with a digit and hold only letters, digits and . + _ -")
    try:
        return keys.checked_label(version)  # the one label rule under the upload's own pattern
    except InvalidIdError as e:
        raise PackageError(str(e)) from None


def stage(
    ctx: Context,
    source: str,
    *,
    concept_id: str | None = None,
    uploader: str | None = None,
    progress: bool = True,
    new_concept_only: bool = False,
) -> StageResult:
    """Stage the package at `source` (an http(s) URL or a local zip) as a draft. `new_concept_only`:
    refuse a concept that exists (the run is queued in no draft's group)."""
    s = ctx.settings
    check_uploader(uploader)
    if concept_id is not None:
        keys.checked(concept_id)  # '' too: no id is given by leaving the option out
    with tempfile.TemporaryDirectory(prefix="backoffice-stage-") as tmp:
        zip_path = resolve_source(source, Path(tmp), max_bytes=s.max_package_bytes, timeout=s.download_timeout, progress=progress,
                                  allowed_hosts=s.download_allowed_hosts)
        with open_zip(zip_path) as zf:
            plan, content = read_package(ctx, zf)
            rdf_name = plan.description.dest
            rtype = resource_type(content, rdf_name)
            summary = summarize(content)
            if summary.version is not None:
                check_version(summary.version)
            thumbs = _thumbnails(ctx, zf, plan, summary.covers)
            if not set_thumbnails(content, thumbs.mapping):
                thumbs = ThumbnailResult(warnings=[*thumbs.warnings, "covers: 'config' or 'config.bioimageio' is not a mapping; thumbnails not listed"])
            summary.thumbnails = dict(thumbs.mapping)
            cid, reserved = claim_id(ctx, concept_id or declared_id(content), rtype, uploader,
                                     create_only=new_concept_only)
            token = new_token()
            try:
                version, assigned = _version_for(ctx, cid, summary.version)
                if assigned:
                    summary = summary.model_copy(update={"version": version})
                rdf_bytes = with_concept_id(content, cid, version=version if assigned else None)
                _begin(ctx, cid, token, version, uploader, source)
                ctx.record_step(cid, "stage", f"staging {source}", actor=uploader)
                if assigned:
                    ctx.record_step(cid, "stage", f"the description has no version: staged as version {version}",
                                    actor=uploader, details={"version": version, "version_assigned": True})
                _step(ctx, cid, token, DraftStatus.UNPACKING)
                ctx.record_step(cid, "stage", f"unpacking {len(plan.entries)} files ({plan.total_size} bytes)", actor=uploader)
                files_prefix = keys.draft_files(cid, token)
                with Progress(TextColumn("unpacking"), BarColumn(), DownloadColumn(), disable=not progress, transient=True) as bar:
                    task = bar.add_task("unpack", total=plan.total_size)
                    manifest: list[FileEntry] = []
                    for entry in plan.entries:
                        if entry is plan.description:
                            ctx.storage.put_bytes(files_prefix + entry.dest, rdf_bytes, content_type="application/x-yaml")
                            manifest.append(_entry(entry.dest, rdf_bytes))
                        else:
                            digest = hashlib.sha256()
                            stream = _ChunkStream(iter_entry_chunks(zf, entry), digest)
                            ctx.storage.put_stream(files_prefix + entry.dest, stream)
                            manifest.append(FileEntry(name=entry.dest, size=stream.size, sha256=digest.hexdigest()))
                        bar.update(task, advance=entry.size)
                    for name, png in thumbs.files.items():
                        ctx.storage.put_bytes(files_prefix + name, png, content_type="image/png")
                        manifest.append(_entry(name, png))
                    write_manifest(ctx.storage, files_prefix, manifest)
                changes = changes_since_latest(ctx.storage, ctx.concepts.get(cid), rdf_bytes, manifest)
                draft = DraftRecord(
                    token=token,
                    status=DraftStatus.UNPACKED,
                    uploader=uploader,
                    source=source,
                    rdf_name=rdf_name,
                    rdf_sha256=hashlib.sha256(rdf_bytes).hexdigest(),
                    files_sha256=files_digest(manifest),
                    summary=summary,
                    warnings=thumbs.warnings,
                    version_assigned=assigned,
                    changes=changes,
                )
                for warning in thumbs.warnings:
                    ctx.record_step(cid, "stage", f"warning: {warning}", actor=uploader)
                previous = _commit(ctx, cid, draft, uploader)
            except BaseException:
                _abandon(ctx, cid, token, reserved)
                raise
    ctx.record_step(cid, "stage", f"unpacked version {version} as draft {token}", actor=uploader)
    if previous is not None:
        try:
            ctx.storage.delete_prefix(keys.draft_root(cid, previous))
        except Exception as e:  # the old files are unreferenced now; leftovers are harmless
            logger.warning("could not remove files of the replaced draft %s: %s", previous, e)
    return StageResult(cid, token, version, len(plan.entries), plan.total_size, ctx.storage.public_url(files_prefix + rdf_name),
                       version_assigned=assigned)


def read_package(ctx: Context, zf: zipfile.ZipFile) -> tuple[PackagePlan, dict[str, Any]]:
    """The package's plan (every entry checked) and its parsed description (size-limited)."""
    s = ctx.settings
    plan = plan_package(zf, Limits(s.max_package_entries, s.max_unpacked_bytes, s.max_compression_ratio))
    if plan.description.size > s.max_description_bytes:
        raise PackageError(f"{plan.description.dest} is larger than {s.max_description_bytes} bytes"
                           " (BACKOFFICE_MAX_DESCRIPTION_BYTES)")
    return plan, parse_description(b"".join(iter_entry_chunks(zf, plan.description)), plan.description.dest)


def draft_concept(ctx: Context, source: str, concept_id: str | None = None, uploader: str | None = None) -> str | None:
    """The concept a staging of `source` by `uploader` (verified by the caller) will write to,
    when known before staging and new or the uploader's to stage: `concept_id`, else the id its
    description names (None: a new concept, or one the uploader may not stage). The workflows
    queue the staging job in that draft's concurrency group; nothing is written."""
    if concept_id:
        return queue_concept(ctx, keys.checked(concept_id), uploader)
    s = ctx.settings
    with tempfile.TemporaryDirectory(prefix="backoffice-stage-") as tmp:
        zip_path = resolve_source(source, Path(tmp), max_bytes=s.max_package_bytes, timeout=s.download_timeout, progress=False,
                                  allowed_hosts=s.download_allowed_hosts)
        with open_zip(zip_path) as zf:
            _, content = read_package(ctx, zf)
    declared = declared_id(content)
    return queue_concept(ctx, keys.checked(declared), uploader) if declared else None


def _version_for(ctx: Context, cid: str, given: str | None) -> tuple[str, bool]:
    """(version, whether it was assigned): the given one, else the next after the newest published."""
    if given is not None:
        return given, False
    return default_version(list(ctx.concepts.get(cid).versions)), True


def _thumbnails(ctx: Context, zf: zipfile.ZipFile, plan: PackagePlan, covers: list[str]) -> ThumbnailResult:
    """Thumbnails of the package's covers (problems become warnings, never errors)."""
    s = ctx.settings
    limits = ThumbnailLimits(
        s.thumbnail_max_width, s.thumbnail_max_height, s.thumbnail_max_bytes, s.thumbnail_max_pixels, s.thumbnail_max_source_bytes
    )
    by_path = {e.dest: e for e in plan.entries}
    return make_thumbnails(
        covers, {p: e.size for p, e in by_path.items()}, lambda p: b"".join(iter_entry_chunks(zf, by_path[p])), limits,
        s.secret_values(), s.sandbox_user,
    )


def _check_can_stage(record: ConceptRecord, version: str) -> None:
    """A new upload may not reuse a published version nor replace a draft being published."""
    if version in record.versions:
        raise ConflictError(f"version {version} of '{record.id}' is published already; give the description a new version")
    if record.draft is not None and record.draft.status == DraftStatus.ACCEPTED:
        raise IllegalTransitionError(f"the draft of '{record.id}' is accepted and being published; stage after that")


def _begin(ctx: Context, cid: str, token: str, version: str, uploader: str | None, source: str) -> None:
    def mutate(record: ConceptRecord) -> None:
        _check_can_stage(record, version)
        record.staging = StagingRecord(token=token, uploader=uploader, source=source)

    ctx.concepts.update(cid, mutate, mark=False)  # an upload in progress is in no index


def _step(ctx: Context, cid: str, token: str, new: DraftStatus) -> None:
    def mutate(record: ConceptRecord) -> None:
        if record.staging is None or record.staging.token != token:
            raise ConflictError(f"another upload to '{cid}' started meanwhile")
        check_step(record.staging.status, new, what=f"upload to '{cid}'")
        record.staging.status = new

    ctx.concepts.update(cid, mutate, mark=False)


def _commit(ctx: Context, cid: str, draft: DraftRecord, uploader: str | None) -> str | None:
    """Make `draft` the concept's draft; return the token of the draft it replaces."""

    def mutate(record: ConceptRecord) -> str | None:
        if record.staging is None or record.staging.token != draft.token:
            raise ConflictError(f"another upload to '{cid}' started meanwhile")
        check_step(record.staging.status, DraftStatus.UNPACKED, what=f"upload to '{cid}'")
        _check_can_stage(record, draft.summary.version or "")  # again: unpacking took a while
        previous = record.draft.token if record.draft is not None else None
        record.draft = draft
        record.staging = None
        if uploader and not record.owners:
            record.owners.append(uploader)
        return previous

    return ctx.concepts.update(cid, mutate)


def _abandon(ctx: Context, cid: str, token: str, reserved: bool) -> None:
    """Best effort: remove what this upload wrote; the earlier draft stands."""
    try:
        ctx.storage.delete_prefix(keys.draft_root(cid, token))

        def mutate(record: ConceptRecord) -> None:
            if record.staging is not None and record.staging.token == token:
                record.staging = None

        ctx.concepts.update(cid, mutate, mark=False)
        if reserved:
            record = ctx.concepts.get(cid)
            if record.draft is None and record.staging is None and not record.versions:
                ctx.storage.delete_prefix(keys.log_prefix(cid))
                ctx.storage.delete(keys.concept_doc(cid))
                ctx.concepts.forget_changes(cid)  # nothing of the id remains, not even an index marker
    except Exception as e:
        logger.warning("cleanup after the failed upload to %s was incomplete: %s", cid, e)


def _entry(name: str, data: bytes) -> FileEntry:
    return FileEntry(name=name, size=len(data), sha256=hashlib.sha256(data).hexdigest())


class _ChunkStream:
    """File-like adapter over an iterator of byte chunks (hashing them on the way)."""

    def __init__(self, chunks: Iterator[bytes], digest: Any = None) -> None:
        self._chunks = chunks
        self._buf = b""
        self._digest = digest
        self.size = 0

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buf) < n:
            try:
                chunk = next(self._chunks)
            except StopIteration:
                break
            self._buf += chunk
            self.size += len(chunk)
            if self._digest is not None:
                self._digest.update(chunk)
        if n < 0:
            out, self._buf = self._buf, b""
        else:
            out, self._buf = self._buf[:n], self._buf[n:]
        return out


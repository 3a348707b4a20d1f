"""`backoffice publish`: draft -> published version, around one commit point.

1. the draft becomes `accepted` (conditional write; a second reviewer racing
   here continues as a resume of the same publication);
2. its files and reports are copied to `<id>/<version>/` — not listed anywhere yet;
3. COMMIT: one conditional write of the concept document adds the version and
   removes the draft. Before it, the draft stands and publish can run again;
   after it, the version is complete;
4. cleanup: the draft's files are deleted (leftovers are unreferenced).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..context import Context
from ..errors import ConflictError, IllegalTransitionError
from ..log import logger
from ..records import keys
from ..records.concept import ConceptRecord, DraftRecord, VersionRecord
from ..records.journal import utcnow
from ..records.manifest import files_digest, hash_files
from ..records.status import DraftStatus, check_step
from ..storage.base import ObjectNotFound
from .request_changes import require_reviewer


@dataclass(frozen=True)
class PublishResult:
    concept_id: str
    version: str
    rdf_url: str
    resumed: bool


def _not_reviewed(cid: str, draft: DraftRecord, now: str, reviewed: str) -> ConflictError:
    hint = (" (that is its rdf's sha256: --draft-sha256 takes the draft sha256 of every file, which the review page"
            " and `backoffice status` show)" if reviewed == draft.rdf_sha256 else "")
    return ConflictError(f"the draft of '{cid}' is not the one reviewed: its draft sha256 is {now[:12]}…,"
                         f" the review saw {reviewed[:12]}…{hint}; nothing was published")


def check_reviewed(cid: str, draft: DraftRecord, draft_sha256: str | None) -> None:
    """Refuse a draft other than the one the reviewer saw (re-staged since the review), by the
    draft sha256 recorded at staging."""
    if draft_sha256 is not None and draft.files_sha256 and draft.files_sha256 != draft_sha256:
        raise _not_reviewed(cid, draft, draft.files_sha256, draft_sha256)


def draft_digest(ctx: Context, cid: str, draft: DraftRecord) -> str:
    """The draft sha256 of the files stored now (each file read and hashed)."""
    return files_digest(hash_files(ctx.storage, keys.draft_files(cid, draft.token)).files)


def check_reviewed_files(ctx: Context, cid: str, draft: DraftRecord, draft_sha256: str) -> None:
    """Refuse a draft whose files are not those reviewed (a file swapped in the store after the
    review): every file is read and hashed, before anything is written."""
    now = draft_digest(ctx, cid, draft)
    if now != draft_sha256:
        raise _not_reviewed(cid, draft, now, draft_sha256)


def _no_draft(record: ConceptRecord) -> IllegalTransitionError:
    published = ", ".join(record.versions) or "none"
    return IllegalTransitionError(f"'{record.id}' has no draft to publish (published versions: {published})")


def _accept(ctx: Context, cid: str, reviewer: str, draft_sha256: str | None) -> tuple[DraftRecord, bool]:
    """Move the draft to `accepted`; returns (draft, whether it was accepted before)."""

    def mutate(record: ConceptRecord) -> tuple[DraftRecord, bool]:
        if record.draft is None:  # a concurrent publish came first
            raise _no_draft(record)
        draft = record.draft
        check_reviewed(cid, draft, draft_sha256)  # in the conditional write: no re-stage slips in between
        if draft.status == DraftStatus.ACCEPTED:
            return draft.model_copy(), True
        check_step(draft.status, DraftStatus.ACCEPTED, what=f"draft of '{cid}'")
        version = draft.summary.version or ""
        if version in record.versions:
            raise ConflictError(f"version {version} of '{cid}' is published already; stage a new version")
        record.set_draft_status(DraftStatus.ACCEPTED)
        draft.reviewer = reviewer
        return draft.model_copy(), False

    return ctx.concepts.update(cid, mutate)


def _copy_files(ctx: Context, cid: str, draft: DraftRecord, version: str) -> int:
    src_root = keys.draft_root(cid, draft.token)
    dst_root = keys.version_root(cid, version)
    n = 0
    for key in ctx.storage.list_keys(src_root):
        try:
            ctx.storage.copy(key, dst_root + key[len(src_root):])
        except ObjectNotFound:
            record = ctx.concepts.get(cid)
            if record.draft is None or record.draft.token != draft.token:  # a concurrent publish took it
                raise _no_draft(record) from None
            raise
        n += 1
    return n


def _commit(ctx: Context, cid: str, draft: DraftRecord, version: str, reviewer: str) -> bool:
    """Add the version and drop the draft in one write; False if it was committed before."""

    def mutate(record: ConceptRecord) -> bool:
        existing = record.versions.get(version)
        if existing is not None:
            if existing.draft_token == draft.token:
                return False
            raise ConflictError(f"version {version} of '{cid}' is published already")
        current = record.draft
        if current is None:
            raise _no_draft(record)
        if current.token != draft.token:
            raise ConflictError(f"the draft of '{cid}' was replaced by a new upload meanwhile")
        if current.status != DraftStatus.ACCEPTED:
            raise IllegalTransitionError(f"draft of '{cid}' is '{current.status.value}', not 'accepted'")
        record.versions[version] = VersionRecord(
            version=version,
            published=utcnow(),
            published_by=reviewer,
            uploader=current.uploader,
            rdf_name=current.rdf_name,
            rdf_sha256=current.rdf_sha256,
            summary=current.summary,
            tests=current.tests,
            compatibility=current.compatibility,
            draft_token=current.token,
            version_assigned=current.version_assigned,
            weight_scan=current.weight_scan,
        )
        record.draft = None
        return True

    return ctx.concepts.update(cid, mutate)


def publish(ctx: Context, cid: str, reviewer: str, draft_sha256: str | None = None) -> PublishResult:
    """Publish the draft of `cid` (reviewers only, from `awaiting review`).

    `draft_sha256`: the draft sha256 the reviewer approved (every file, `manifest.files_digest`;
    the review page and `status` show it); a draft re-staged since, or whose files changed in
    the store since, is refused and nothing changes. None: not checked (a local run by a maintainer)."""
    record = ctx.concepts.get(cid)
    require_reviewer(ctx, reviewer)
    if record.draft is None:
        raise _no_draft(record)
    draft = record.draft
    version = draft.summary.version
    if not version:
        raise IllegalTransitionError(f"draft of '{cid}' has no version")
    check_reviewed(cid, draft, draft_sha256)
    if draft.status not in (DraftStatus.AWAITING_REVIEW, DraftStatus.ACCEPTED):
        check_step(draft.status, DraftStatus.ACCEPTED, what=f"draft of '{cid}'")
    if draft_sha256 is not None:
        check_reviewed_files(ctx, cid, draft, draft_sha256)
    draft, resumed = _accept(ctx, cid, reviewer, draft_sha256)
    if not resumed:
        ctx.record_step(cid, "accept", f"accepted version {version}", actor=reviewer)
    _copy_files(ctx, cid, draft, version)
    committed = _commit(ctx, cid, draft, version, reviewer)
    if committed:
        ctx.record_step(cid, "publish", f"published version {version}", actor=reviewer, subject=version)
    try:
        ctx.storage.delete_prefix(keys.draft_root(cid, draft.token))
    except Exception as e:
        logger.warning("published, but the draft files of %s were not all removed: %s", cid, e)
    rdf_url = ctx.storage.public_url(keys.version_files(cid, version) + draft.rdf_name)
    return PublishResult(cid, version, rdf_url, resumed or not committed)

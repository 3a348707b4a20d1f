"""Which concept id an upload goes to, and whether the uploader may use it.
A new id is reserved atomically (create-if-absent of the concept document)."""

from __future__ import annotations

import re

from ..resource_types import ResourceType
from ..context import Context
from ..errors import ConflictError, InvalidIdError, PermissionDeniedError
from ..ids import check_id, random_id
from ..log import logger
from ..records import keys
from ..records.concept import ConceptRecord

UPLOADER = re.compile(r"^(github\|[0-9]+|[^@\s|]+@[^@\s]+\.[^@\s]+)$")


def check_uploader(uploader: str | None) -> None:
    if uploader is not None and not UPLOADER.fullmatch(uploader):
        raise InvalidIdError(f"uploader '{uploader}' is neither 'github|<number>' nor an e-mail address")


OWNER_FORMS: tuple[tuple[str, str], ...] = (
    ("github|", "may stage new versions (a verified GitHub account)"),
    ("zenodo|", "cannot act here (a Zenodo user id of the GitOps era; no login proves it)"),
    ("github-user|", "cannot act here (an rdf maintainer's GitHub login; its numeric id is not known)"),
    ("", "may stage new versions and gets the mail of its uploads (an e-mail address)"),
)
"""Each form an owner is written in (prefix, what it may do); the first matching prefix counts."""


def owner_rights(owner: str) -> str:
    """What an owner of this form may do (`backoffice status` shows it per owner)."""
    return next(what for prefix, what in OWNER_FORMS if owner.startswith(prefix))


def may_upload(ctx: Context, record: ConceptRecord, uploader: str | None) -> bool:
    """The first uploader and other owners, owners declared in `collection/`, and reviewers."""
    if uploader is None:
        return False
    return (
        uploader in record.owners
        or uploader in ctx.curation_of(record.id).extra_owners
        or ctx.config.is_reviewer(uploader)
    )


def queue_concept(ctx: Context, wanted: str | None, uploader: str | None) -> str | None:
    """The concept whose draft concurrency group a staging of `wanted` by `uploader` (verified)
    may wait in: `wanted` if that concept exists and `uploader` may stage it, else None (the
    run queues alone, under its own id, and stages only into a concept it creates: it can
    neither join nor cancel the queued runs of another's draft).

    A concept not found answers None too: GitHub compares group names without regard to
    case, so a new `Chatty-Frog` would share the group of someone's `chatty-frog`; and a
    document that could not be read (a refused public read looks missing) must not open
    a group either. Two uploads of one new concept then race, and the second is told the
    id was just taken."""
    if wanted is None:
        return None
    existing = ctx.concepts.find(wanted)
    if existing is None:
        logger.info("'%s' is not a concept (yet): this run queues on its own", wanted)
        return None
    if may_upload(ctx, existing, uploader):
        return wanted
    logger.warning("'%s' belongs to other uploaders (%s is none of them): this run queues on its own", wanted, uploader or "anonymous")
    return None


def claim_id(ctx: Context, wanted: str | None, rtype: ResourceType, uploader: str | None,
             create_only: bool = False) -> tuple[str, bool]:
    """Return (concept id, whether this call reserved it). `create_only`: an existing `wanted`
    is refused (the run is not queued in its draft group)."""
    if wanted is not None:
        existing = ctx.concepts.find(wanted)
        if existing is not None and create_only:
            if not may_upload(ctx, existing, uploader):
                raise PermissionDeniedError(f"id '{wanted}' belongs to another uploader; {uploader or 'an anonymous uploader'} may not stage it")
            raise ConflictError(f"'{wanted}' exists, but this run was not queued in its draft group (its owners were not"
                                " confirmed before it started); stage again")
        if existing is None or existing.legacy is None:  # an imported concept keeps its old id as it is
            check_id(ctx.config, wanted, rtype)
        if existing is None:
            record = ConceptRecord(id=wanted, type=rtype, owners=[uploader] if uploader else [])
            try:
                ctx.concepts.create(record)
            except ConflictError:
                raise ConflictError(f"id '{wanted}' was just taken by another upload; stage again") from None
            return wanted, True
        if existing.type != rtype:
            raise InvalidIdError(f"'{wanted}' is a {existing.type}, the package is a {rtype}")
        if not may_upload(ctx, existing, uploader):
            who = uploader or "an anonymous uploader"
            raise PermissionDeniedError(f"id '{wanted}' belongs to another uploader; {who} may not stage it")
        return wanted, False

    for _ in range(20):
        candidate = random_id(ctx.config, rtype, lambda c: ctx.storage.exists(keys.concept_doc(c)))
        try:
            ctx.concepts.create(ConceptRecord(id=candidate, type=rtype, owners=[uploader] if uploader else []))
            return candidate, True
        except ConflictError:
            continue
    raise ConflictError(f"could not reserve a new {rtype} id")

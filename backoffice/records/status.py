"""The draft lifecycle as data (`DraftStatus` in order, `ALLOWED_STEPS`: this module is its
description; `docs/workflows.md` says which workflow takes each step), and the one check every
step goes through."""

from __future__ import annotations

from enum import Enum

from ..errors import IllegalTransitionError


class DraftStatus(str, Enum):
    """Status of a draft, in lifecycle order."""

    STAGING = "staging"
    UNPACKING = "unpacking"
    UNPACKED = "unpacked"
    TESTING = "testing"
    AWAITING_REVIEW = "awaiting review"
    CHANGES_REQUESTED = "changes requested"
    ACCEPTED = "accepted"


class VersionStatus(str, Enum):
    """Status of a published version (blocking is declared in `collection/`)."""

    PUBLISHED = "published"
    BACKED_UP = "backed up"


S = DraftStatus
ALLOWED_STEPS: dict[DraftStatus, frozenset[DraftStatus]] = {
    S.STAGING: frozenset({S.UNPACKING}),
    S.UNPACKING: frozenset({S.UNPACKED}),
    S.UNPACKED: frozenset({S.TESTING}),
    S.TESTING: frozenset({S.TESTING, S.AWAITING_REVIEW, S.CHANGES_REQUESTED}),  # static validation failed
    S.AWAITING_REVIEW: frozenset({S.TESTING, S.CHANGES_REQUESTED, S.ACCEPTED}),
    S.CHANGES_REQUESTED: frozenset({S.TESTING}),
    S.ACCEPTED: frozenset(),
}
"""Which status may follow which. A new upload always starts a fresh draft at `staging`."""


def check_step(current: DraftStatus, new: DraftStatus, *, what: str = "draft") -> None:
    """Raise IllegalTransitionError unless `current -> new` is an allowed step."""
    if new not in ALLOWED_STEPS[current]:
        allowed = ", ".join(sorted(f"'{s.value}'" for s in ALLOWED_STEPS[current])) or "nothing (final)"
        raise IllegalTransitionError(
            f"{what} is '{current.value}' and cannot become '{new.value}' (allowed next: {allowed})"
        )


VERSION_STEPS: dict[VersionStatus, frozenset[VersionStatus]] = {
    VersionStatus.PUBLISHED: frozenset({VersionStatus.BACKED_UP}),
    VersionStatus.BACKED_UP: frozenset(),
}
"""A published version may become `backed up` once (its DOIs never change)."""


def check_version_step(current: VersionStatus, new: VersionStatus, *, what: str = "version") -> None:
    """Raise IllegalTransitionError unless `current -> new` is an allowed step of a published version."""
    if new not in VERSION_STEPS[current]:
        raise IllegalTransitionError(f"{what} is '{current.value}' and cannot become '{new.value}'")

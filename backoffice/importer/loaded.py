"""A resource of the running collection as an import has read it (before anything is planned)."""

from __future__ import annotations

from dataclasses import dataclass

from .models import RunningItem, RunningSummary, RunningVersion


@dataclass(frozen=True)
class LoadedVersion:
    """One version as the source publishes it."""

    entry: RunningVersion
    summary: RunningSummary | None
    reports: list[str]
    """File names of its reports (`<tool>_<tool_version>.json`)."""
    problem: str | None = None
    """Why its summary.json could not be read (not JSON, too large or deep, not a summary): refused with it."""


@dataclass(frozen=True)
class LoadedItem:
    item: RunningItem
    versions: list[LoadedVersion]


def nickname_of(item: RunningItem) -> str:
    return item.id.rsplit("/", 1)[-1]

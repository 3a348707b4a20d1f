"""The published formats an import reads, as lenient pydantic models (unknown fields kept)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)


class RunningVersion(_Lenient):
    """One version in the running collection's `index.json`."""

    version: str
    """Its label, `v0`, `v1`, ..."""
    sha256: str
    """sha256 of its rdf.yaml as served."""
    source: str
    """URL of its rdf.yaml on the collection's file host."""
    created_at: datetime | None = None
    comment: str | None = None

    @field_validator("created_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        """A time without a zone is UTC (as the GitOps era's dates): one naive date among aware ones
        must not end the whole import in a comparison error."""
        return value.replace(tzinfo=timezone.utc) if value is not None and value.tzinfo is None else value


class RunningItem(_Lenient):
    """One resource in the running collection's `index.json`."""

    id: str
    """`<workspace>/<nickname>`, e.g. `bioimage-io/affable-shark`."""
    type: str
    versions: list[RunningVersion] = Field(default_factory=list)


class RunningIndex(_Lenient):
    """The running collection's `index.json`."""

    items: list[RunningItem]
    timestamp: str | None = None


class RunningSummary(_Lenient):
    """`reports/<workspace>/<nickname>/<version>/summary.json` (only what the import reads)."""

    rdf_content: dict[str, Any] = Field(default_factory=dict)
    """The rdf as the running collection parsed it."""
    rdf_yaml_sha256: str = ""
    """sha256 of the rdf.yaml file it was parsed from."""
    tests: Any = None
    """Every tool's reports, `{tool: {version: report}}` (names the report files of a URL source)."""
    status: str | None = None
    """The running collection's own test status of the version (`passed`, `failed`)."""


class GitopsEntry(_Lenient):
    """One entry of the GitOps-era `collection.json` (`collection` list)."""

    id: str
    """Zenodo concept DOI (`10.5281/zenodo.5764892`) or a partner id."""
    nickname: str | None = None
    nickname_icon: str | None = None
    owners: list[int | str] = Field(default_factory=list)
    """Zenodo user ids."""
    download_count: int | None = Field(default=None, ge=0)
    versions: list[str] = Field(default_factory=list)
    """Zenodo record ids, newest first."""
    created: str | None = None
    type: str | None = None
    record_files: dict[str, list[str]] = Field(default_factory=dict)
    """Record id -> the sha256s of the files its rdf declares (read from `rdfs/` beside
    collection.json, where present): which running version a record became."""

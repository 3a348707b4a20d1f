"""The models of `all_versions.json` and `<concept>/versions.json` (part of the index
format, `models.py`; documented in docs/collection_json.md)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict

from ..resource_types import ResourceType


class Out(BaseModel):
    """Base of the index file models: no unknown fields, field docstrings as descriptions."""

    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ConceptVersionInfo(Out):
    """One version in all_versions.json."""

    v: str
    """Version."""
    created: datetime
    """When it was published."""
    doi: str | None = None
    """Version DOI, once backed up."""
    source: str
    """URL of its description."""
    sha256: str
    """SHA-256 of its description."""
    yanked: str | None = None
    """Why it is yanked (the key is present only for a yanked version)."""


class ConceptVersions(Out):
    """One concept in all_versions.json."""

    concept: str
    """Concept id."""
    type: ResourceType
    """Resource type."""
    concept_doi: str | None = None
    """Concept DOI, once backed up."""
    versions: list[ConceptVersionInfo]
    """Listed versions, newest first."""


class AllVersionsJson(Out):
    """all_versions.json: every listed concept with its versions and DOIs."""

    entries: list[ConceptVersions]
    """One per listed concept, sorted by id."""


class VersionInfo(Out):
    """One version in `<concept>/versions.json`."""

    v: str
    """Version."""
    created: datetime
    """When it was published."""
    doi: str | None = None
    """Version DOI, once backed up."""
    yanked: str | None = None
    """Why it is yanked (the key is present only for a yanked version)."""


class VersionsJson(Out):
    """`<concept>/versions.json`: the listed versions of one concept, newest first."""

    concept_doi: str | None = None
    """Concept DOI, once backed up."""
    versions: list[VersionInfo]
    """Listed versions, newest first."""

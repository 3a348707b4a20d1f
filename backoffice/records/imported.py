"""What a concept and its versions carried over from an earlier collection (`import-collection`).

Kept on the concept document, so the index can resolve old ids and show old counts
without reading anything else.
"""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field


class _Record(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)


class LegacyConcept(_Record):
    """A concept brought in from an earlier collection."""

    source: str
    """Where it was imported from (the running collection's folder/zip/URL)."""
    imported: datetime
    """When the import that brought it in started."""
    ids: list[str] = Field(default_factory=list)
    """Earlier ids that resolve to the latest version (`bioimage-io/<nickname>`, the Zenodo concept DOI)."""
    nickname_icon: str | None = None
    """Emoji of the legacy nickname (GitOps era)."""
    id_emoji: str | None = None
    """The `id_emoji` of the newest imported rdf that has one (shown instead of one from our word lists)."""
    named_owners: list[str] = Field(default_factory=list)
    """Owners upstream knows that cannot act here (rdf maintainers' `github_user` logins, whose
    numeric GitHub ids are not known): shown, never matched against an uploader, never mailed."""


class RemoteFile(_Record):
    """A file an imported rdf names that is not (yet) in our storage."""

    url: str
    """Where it is served today."""
    reason: str
    """One line: why it stayed remote (`--no-files`, host unreachable, wrong sha256, ...)."""
    sha256: str | None = None
    """The sha256 the rdf declares for it, if any."""


class LegacyVersion(_Record):
    """A version brought in from an earlier collection."""

    source_url: str
    """Where the rdf was served upstream."""
    source_sha256: str
    """sha256 of the upstream rdf (the running collection's index.json); an upstream change shows as a new value."""
    rdf_exact: bool
    """Whether our `rdf.yaml` is the upstream file byte for byte; False: written from `rdf_content`
    because the upstream file could not be fetched (a later run with files replaces it)."""
    ids: list[str] = Field(default_factory=list)
    """Earlier ids resolving to this version (older GitOps-era record DOIs)."""
    remote_files: dict[str, RemoteFile] = Field(default_factory=dict)
    """Files of the rdf not in our storage, by their name relative to the rdf."""
    content: str = ""
    """Sub-folder of the version's root holding its files and reports ("": the root itself); set by
    `import-collection --update`, which writes the new content beside the old (see `keys.version_root`)."""
    status: str | None = None
    """The running collection's own test status (summary.json `status`): shown until our own test runs."""
    status_tests: dict[str, str] = Field(default_factory=dict)
    """The tests behind it: the newest report's status per tool (`{tool: status}`, from summary.json `tests`)."""
    comment: str | None = None
    """The version's `comment` in the running collection's index.json."""
    restored: list[str] = Field(default_factory=list)
    """Where the rdf written from `rdf_content` had JSON's losses undone (`inputs[0].data_range[0]: -inf`)."""

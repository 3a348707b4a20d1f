"""The concept document: one JSON object per concept holding its type, owners,
current draft and published versions.

It is changed only by `ConceptStore.update`, a read-modify-write guarded by the
object's etag (replace-if-unchanged) and retried when another writer won: two
jobs writing the same concept at once never lose each other's change.
Id reservation is the create-if-absent of this document.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ConflictError, NotFoundError
from ..resource_types import ResourceType
from ..storage.base import ObjectNotFound, PreconditionFailed, Storage
from . import keys
from .changes import VersionDiff
from .imported import LegacyConcept, LegacyVersion
from .index_inputs import mark_changed
from .journal import utcnow
from .scoring import Compatibility
from .weight_scan import WeightScan
from .status import DraftStatus, VersionStatus, check_step

T = TypeVar("T")


class _Record(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)


class PersonSummary(_Record):
    """An author as the description gives it (display fields only; no e-mail)."""

    name: str
    affiliation: str | None = None
    orcid: str | None = None
    github_user: str | None = None


class BadgeSummary(_Record):
    """A badge the description shows (`badges`: label, icon, link)."""

    label: str
    icon: str | None = None
    """Icon URL, or a file name relative to the files folder."""
    url: str | None = None
    """Where the badge links to."""


class ResourceSummary(_Record):
    """Display fields taken from a description when it is staged."""

    name: str = ""
    description: str = ""
    version: str | None = None
    tags: list[str] = Field(default_factory=list)
    authors: list[str] = Field(default_factory=list)
    """Author names."""
    covers: list[str] = Field(default_factory=list)
    """Cover file names, relative to the files folder."""
    license: str | None = None
    documentation: str | None = None
    """Documentation file name, relative to the files folder."""
    weight_formats: list[str] = Field(default_factory=list)
    """Weight formats of a model, in the description's order."""
    weight_files: list[str] = Field(default_factory=list)
    """File names of the weights (relative to the files folder): reading one counts as a download."""
    format_version: str | None = None
    """bioimageio.spec format version of the description."""
    uploader_email: str | None = None
    """E-mail of the uploader from the description (first maintainer/author with one)."""
    thumbnails: dict[str, str] = Field(default_factory=dict)
    """Cover -> its thumbnail, both relative to the files folder (made at staging)."""
    author_details: list[PersonSummary] = Field(default_factory=list)
    """Authors with affiliation, ORCID and GitHub user (`authors` holds their names)."""
    uploader_name: str | None = None
    """`uploader.name` of the description."""
    badges: list[BadgeSummary] = Field(default_factory=list)
    """The description's `badges`."""
    icon: str | None = None
    """The description's `icon`: an emoji, a URL or a file name relative to the files folder."""
    links: list[str] = Field(default_factory=list)
    """Ids/URLs of related resources (`links`)."""
    training_data: str | None = None
    """Id of the dataset the model was trained on (`training_data.id`)."""
    source: str | None = None
    """The description's `source` (e.g. a notebook's file or URL)."""
    declared_id: str | None = None
    """The `id` the description gave before staging set the concept id (kept as an id_map alias)."""
    nickname: str | None = None
    """Legacy nickname from `config.bioimageio.nickname`."""
    nickname_icon: str | None = None
    """Legacy nickname icon from `config.bioimageio.nickname_icon`."""


class ReportBrief(_Record):
    """Outcome of one report (static validation, one dynamic test, a partner check)."""

    status: Literal["passed", "warning", "failed", "valid-format", "skipped"]
    """`warning`: a weight format that runs but does not reproduce its test outputs."""
    report: str
    """Report name, e.g. `bioimageio.core_0.11.0_onnx` or a partner id."""
    tool: str = ""
    """What produced it: `bioimageio.spec`, `bioimageio.core` or a partner id."""
    weight_format: str | None = None
    """Weight format a dynamic test ran."""
    runs: bool | None = None
    """Dynamic test: the weights load and infer on the test inputs (None: not known / not reached)."""
    reproduces: bool | None = None
    """Dynamic test: the outputs match the expected ones within the tolerance (integer outputs: exactly)."""
    hardware: str | None = None
    """Dynamic test: what the latest run ran on (`CPU: <model>`, `GPU: <name>`)."""
    by_hardware: dict[str, str] = Field(default_factory=dict)
    """Dynamic test: the outcome (`passed`, `warning`, `failed`) each hardware gave, latest run per hardware."""
    timestamp: datetime = Field(default_factory=utcnow)


class StagingRecord(_Record):
    """An upload in progress (the previous draft stands until it completes)."""

    token: str
    status: DraftStatus = DraftStatus.STAGING
    uploader: str | None = None
    source: str = ""
    started: datetime = Field(default_factory=utcnow)


class DraftRecord(_Record):
    """The current draft of a concept."""

    token: str
    """Identifies this upload; its files live under `<id>/drafts/<token>/`."""
    status: DraftStatus
    uploader: str | None = None
    source: str = ""
    """Package URL or path it was staged from."""
    created: datetime = Field(default_factory=utcnow)
    updated: datetime = Field(default_factory=utcnow)
    rdf_name: str = "rdf.yaml"
    """Name of the description file in the files folder."""
    rdf_sha256: str = ""
    files_sha256: str = ""
    """The draft sha256: the digest of every file of the draft (`manifest.files_digest`), made at
    staging; what the reviewer approves and `publish --draft-sha256` pins. Empty for a draft
    staged before it existed (`backoffice status` then hashes the files)."""
    summary: ResourceSummary = Field(default_factory=ResourceSummary)
    tests: dict[str, ReportBrief] = Field(default_factory=dict)
    """Outcomes so far, keyed by report name."""
    expected_tests: list[str] = Field(default_factory=list)
    """Weight formats whose dynamic test results the draft waits for."""
    reviewer: str | None = None
    """Reviewer who accepted or requested changes."""
    warnings: list[str] = Field(default_factory=list)
    """Problems found at staging that did not stop it (e.g. a cover without a thumbnail, and why)."""
    compatibility: Compatibility | None = None
    """Every compatibility report of the draft conflated (scores, tags, reports)."""
    version_assigned: bool = False
    """The description had no `version`: the backoffice gave it `summary.version` (written into its rdf)."""
    weight_scan: WeightScan | None = None
    """The weight safety scan of its pickles (made by `validate-format`)."""
    changes: VersionDiff | None = None
    """What it changes against the latest published version when it was staged (description and
    files; clipped). None for a first version."""


class VersionRecord(_Record):
    """A published version (its files never change)."""

    version: str
    status: VersionStatus = VersionStatus.PUBLISHED
    published: datetime = Field(default_factory=utcnow)
    published_by: str | None = None
    uploader: str | None = None
    rdf_name: str = "rdf.yaml"
    rdf_sha256: str = ""
    summary: ResourceSummary = Field(default_factory=ResourceSummary)
    tests: dict[str, ReportBrief] = Field(default_factory=dict)
    draft_token: str = ""
    """Token of the draft it was published from (makes publish idempotent)."""
    doi: str | None = None
    """Version DOI once backed up to Zenodo."""
    zenodo_deposition_id: int | None = None
    """Zenodo deposition of this version, recorded as soon as it exists (lets an interrupted backup resume)."""
    backed_up: datetime | None = None
    """When the Zenodo version was published."""
    compatibility: Compatibility | None = None
    """Every compatibility report of the version conflated (scores, tags, reports)."""
    version_assigned: bool = False
    """The description had no `version`: the backoffice gave it this one (written into its rdf)."""
    weight_scan: WeightScan | None = None
    """The weight safety scan of its pickles (from its draft, or a later `validate-format`)."""
    legacy: LegacyVersion | None = None
    """Set when the version was imported from an earlier collection (upstream sha256, files left remote)."""

    @property
    def content(self) -> str:
        """Where under its root the version's files and reports are (`keys.version_root`)."""
        return self.legacy.content if self.legacy is not None else ""


class DownloadCounts(_Record):
    """Downloads of a concept: the earlier collection's count plus those counted from the
    storage's access logs by `count-downloads` (which writes everything but `legacy`)."""

    legacy: int = Field(default=0, ge=0)
    """Downloads counted by the earlier collection (set by an import; kept by counting)."""
    counted: int = 0
    """Downloads counted from the access logs, all time."""
    versions: dict[str, int] = Field(default_factory=dict)
    """Counted downloads per version."""
    tools: dict[str, int] = Field(default_factory=dict)
    """Counted downloads per consuming tool (`bioimageio`, `deepimagej`, `ilastik`, `browser`, `other`)."""
    daily: dict[str, int] = Field(default_factory=dict)
    """Counted downloads per UTC day (`YYYY-MM-DD`), the last 90 days of the logs; days without are absent."""
    until: str | None = None
    """Newest day of the logs counted so far."""

    @property
    def total(self) -> int:
        return self.legacy + self.counted


class ConceptRecord(_Record):
    """Everything the pipeline keeps about one concept."""

    id: str
    type: ResourceType
    created: datetime = Field(default_factory=utcnow)
    owners: list[str] = Field(default_factory=list)
    """Uploaders allowed to stage new versions (the first uploader first)."""
    concept_doi: str | None = None
    """Zenodo concept DOI (shared by all versions), once the first version is backed up."""
    zenodo_concept_id: str | None = None
    """Zenodo concept record id (`conceptrecid`)."""
    zenodo_latest_id: int | None = None
    """Zenodo deposition of the latest backed-up version (new versions are made from it)."""
    staging: StagingRecord | None = None
    draft: DraftRecord | None = None
    versions: dict[str, VersionRecord] = Field(default_factory=dict)
    """Published versions in publication order."""
    legacy: LegacyConcept | None = None
    """Set when the concept was imported from an earlier collection (old ids, download count, provenance)."""
    downloads: DownloadCounts | None = None
    """Download counts (None: nothing known yet)."""

    def require_draft(self) -> DraftRecord:
        if self.draft is None:
            raise NotFoundError(f"concept '{self.id}' has no draft")
        return self.draft

    def set_draft_status(self, new: DraftStatus) -> DraftRecord:
        draft = self.require_draft()
        check_step(draft.status, new, what=f"draft of '{self.id}'")
        draft.status = new
        draft.updated = utcnow()
        return draft


def _dump(record: ConceptRecord) -> bytes:
    return json.dumps(record.model_dump(mode="json"), indent=1, ensure_ascii=False).encode()


class ConceptStore:
    """Reads and writes concept documents with conditional writes."""

    max_attempts = 50

    def __init__(self, storage: Storage) -> None:
        self.storage = storage

    def get(self, concept_id: str) -> ConceptRecord:
        return self.get_with_etag(concept_id)[0]

    def get_with_etag(self, concept_id: str) -> tuple[ConceptRecord, str]:
        try:
            data, etag = self.storage.get(keys.concept_doc(concept_id))
        except ObjectNotFound:
            raise NotFoundError(f"concept '{concept_id}' does not exist") from None
        return ConceptRecord.model_validate_json(data), etag

    def find(self, concept_id: str) -> ConceptRecord | None:
        try:
            return self.get(concept_id)
        except NotFoundError:
            return None

    def create(self, record: ConceptRecord, *, marker: str | None = None, mark: bool = True) -> None:
        """Reserve the id: fails with ConflictError if the concept exists already.
        `marker`: a fixed name for the index's change marker (a re-run writes the same key);
        `mark=False`: none (a bulk import drops the index cache instead: the next index run reads everything)."""
        try:
            self.storage.put_bytes(keys.concept_doc(record.id), _dump(record), if_none_match=True)
        except PreconditionFailed:
            raise ConflictError(f"id '{record.id}' is taken already") from None
        if mark:
            self.mark_changed(record.id, marker)

    def save(self, record: ConceptRecord) -> None:
        """Write a record unconditionally (migrations, benchmarks, repairs)."""
        self.storage.put_bytes(keys.concept_doc(record.id), _dump(record))
        self.mark_changed(record.id)

    def mark_changed(self, concept_id: str, marker: str | None = None) -> None:
        """Tell the next index run that this concept changed (written after the change)."""
        mark_changed(self.storage, concept_id, marker)

    def update(self, concept_id: str, mutate: Callable[[ConceptRecord], T], *, mark: bool = True,
               marker: str | None = None, known: tuple[ConceptRecord, str] | None = None) -> T:
        """Apply `mutate` to the current record and store it if nobody changed it meanwhile.

        `mutate` may raise to abort (nothing is written); it is re-run on a fresh copy
        whenever another writer came first. `mark=False` for changes no index shows (an
        upload in progress): no "look again" marker. `known`: the record and its etag as
        the caller read them moments ago: the first attempt starts from a copy of it
        instead of reading again (one write when nobody wrote in between); a `mutate` that
        changes nothing on that copy returns without reading (fit for changes that only
        ever raise a revision, as `conflation.apply_brief`).
        """
        for attempt in range(self.max_attempts):
            if attempt == 0 and known is not None:
                record, etag = known[0].model_copy(deep=True), known[1]
            else:
                record, etag = self.get_with_etag(concept_id)
            before = record.model_dump()
            result = mutate(record)
            if record.model_dump() == before:
                return result  # nothing changed: no write, no index marker
            try:
                self.storage.put_bytes(keys.concept_doc(concept_id), _dump(record), if_match=etag)
            except PreconditionFailed:
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))
                continue
            if mark:
                self.mark_changed(concept_id, marker)
            return result
        raise ConflictError(f"concept '{concept_id}' kept changing; gave up after {self.max_attempts} attempts")

    def forget_changes(self, concept_id: str) -> None:
        """Remove the index's change markers of a concept that is gone again (an id reserved by
        an upload that was refused): the store is as it was before."""
        self.storage.delete_prefix(keys.dirty_prefix(concept_id))

    def list_ids(self) -> list[str]:
        out: list[str] = []
        for key in self.storage.list_keys(keys.CONCEPTS_PREFIX):
            cid = keys.concept_id_from_doc(key)
            if cid:
                out.append(cid)
        return out

"""What a step works on: the draft or a published version of a concept, with its
storage prefixes, and a local copy of its files for the libraries to read."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import NotFoundError
from ..storage.base import Storage
from ..storage.local import LocalStorage
from ..storage.public import PublicStorage
from . import keys
from .concept import ConceptRecord, ConceptStore, ResourceSummary


@dataclass(frozen=True)
class Target:
    """The draft (`subject == "draft"`) or one published version of a concept."""

    record: ConceptRecord
    subject: str
    files_prefix: str
    reports_prefix: str
    rdf_name: str
    summary: ResourceSummary
    draft_token: str | None

    @property
    def concept_id(self) -> str:
        return self.record.id

    @property
    def rdf_key(self) -> str:
        return self.files_prefix + self.rdf_name


def resolve_target(concepts: ConceptStore, concept_id: str, which: str = "draft") -> Target:
    """The draft (`which == "draft"`) or the published version `which` of a concept."""
    record = concepts.get(concept_id)
    if which == "draft":
        d = record.require_draft()
        return Target(record, "draft", keys.draft_files(record.id, d.token), keys.draft_reports(record.id, d.token),
                      d.rdf_name, d.summary, d.token)
    v = record.versions.get(which)
    if v is None:
        known = ", ".join(record.versions) or "none"
        raise NotFoundError(f"'{concept_id}' has no published version {which} (published: {known})")
    return Target(record, which, keys.version_files(record.id, which, v.content), keys.version_reports(record.id, which, v.content),
                  v.rdf_name, v.summary, None)


@contextmanager
def local_files(storage: Storage, target: Target) -> Generator[Path, None, None]:
    """A local folder holding the target's files (the store itself for local storage)."""
    if isinstance(storage, LocalStorage):
        yield storage.root / target.files_prefix
        return
    tmp = Path(tempfile.mkdtemp(prefix="backoffice-files-"))
    try:
        for key in storage.list_keys(target.files_prefix):
            dest = tmp / key[len(target.files_prefix):]
            dest.parent.mkdir(parents=True, exist_ok=True)
            with storage.open(key) as src, dest.open("wb") as out:
                shutil.copyfileobj(src, out, 1024 * 1024)
        yield tmp
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@contextmanager
def rdf_source(storage: Storage, target: Target) -> Generator[Path | str, None, None]:
    """What the libraries read the description from: its public URL when the storage is
    the read-only public one (no credentials, no copy), else a local copy of the files."""
    if isinstance(storage, PublicStorage):
        yield storage.public_url(target.rdf_key)
        return
    with local_files(storage, target) as folder:
        yield folder / target.rdf_name

"""What a backup run has to do: pure functions, tested on their own."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..config.curation import CurationDecl
from ..errors import NotFoundError
from ..records.concept import ConceptRecord
from .zenodo import RemoteFile


def pending_versions(record: ConceptRecord, decl: CurationDecl, version: str | None = None) -> list[str]:
    """Published, unblocked versions without a DOI, in publication order.

    Zenodo versions follow one another, so asking for one version also backs up the
    earlier pending ones first."""
    if version is not None and version not in record.versions:
        published = ", ".join(record.versions) or "none"
        raise NotFoundError(f"'{record.id}' has no published version {version} (published: {published})")
    out: list[str] = []
    for v in record.versions.values():
        if v.doi is None and not decl.is_blocked(v.version):
            out.append(v.version)
        if v.version == version:
            break
    if version is not None and version not in out:
        return []
    return out


@dataclass(frozen=True)
class LocalFile:
    """A file of the published version in storage."""

    name: str
    """Path relative to the version's files folder (the name on Zenodo)."""
    key: str
    size: int
    etag: str


@dataclass(frozen=True)
class FilePlan:
    keep: list[str]
    """Names already uploaded with the right size and checksum."""
    delete: list[RemoteFile]
    """Files in the draft that are not this version's (left by an earlier version or a broken upload)."""
    upload: list[LocalFile]


def needs_checksum(local: Iterable[LocalFile], remote: Iterable[RemoteFile]) -> list[LocalFile]:
    """Local files whose MD5 must be known to decide: a remote file of that name and size exists."""
    by_name = {r.name: r for r in remote}
    return [f for f in local if (r := by_name.get(f.name)) is not None and r.size == f.size]


def plan_files(local: list[LocalFile], remote: list[RemoteFile], md5: Mapping[str, str]) -> FilePlan:
    """Reuse remote files whose name, size and MD5 match; delete every other remote file;
    upload what is missing. `md5` maps local names to their MD5 (see `needs_checksum`)."""
    wanted = {f.name: f for f in local}
    keep: list[str] = []
    delete: list[RemoteFile] = []
    for r in remote:
        f = wanted.get(r.name)
        if f is not None and r.name not in keep and r.size == f.size and md5.get(f.name) == r.md5.lower():
            keep.append(r.name)
        else:
            delete.append(r)
    upload = [f for f in local if f.name not in keep]
    return FilePlan(keep=keep, delete=delete, upload=upload)



"""`files.json`: every file of a draft or version with its size and sha256.

Staging writes it while it unpacks (the bytes pass through once); publishing copies it
with the draft's files. The weight scan reads it to know which files there are (the
job without secrets cannot list the store), and `diff` compares two of them. A version
without one (taken over from the earlier collection) is listed and hashed instead.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..storage.base import ObjectNotFound, Storage
from . import keys


class FileEntry(BaseModel):
    """One file of a package."""

    model_config = ConfigDict(frozen=True, use_attribute_docstrings=True)

    name: str
    """Path relative to the files folder."""
    size: int
    """Bytes."""
    sha256: str
    """Hex digest of its content."""


class Manifest(BaseModel):
    """The files of a draft or version, by name."""

    model_config = ConfigDict(use_attribute_docstrings=True)

    files: list[FileEntry] = Field(default_factory=list[FileEntry])
    """Every file, sorted by name."""

    def by_name(self) -> dict[str, FileEntry]:
        return {f.name: f for f in self.files}


def files_digest(entries: Iterable[FileEntry]) -> str:
    """The digest of a whole draft (its *draft sha256*): the sha256 of the UTF-8 text with one
    line `<name><TAB><sha256 of the file>\n` per file, sorted by name. Any file added,
    removed, renamed or changed changes it; `publish --draft-sha256` pins it."""
    lines = "".join(f"{e.name}\t{e.sha256}\n" for e in sorted(entries, key=lambda e: e.name))
    return hashlib.sha256(lines.encode("utf-8")).hexdigest()


def write_manifest(storage: Storage, files_prefix: str, entries: list[FileEntry]) -> None:
    manifest = Manifest(files=sorted(entries, key=lambda f: f.name))
    storage.put_bytes(keys.files_manifest(files_prefix), manifest.model_dump_json().encode("utf-8"),
                      content_type="application/json")


def read_manifest(storage: Storage, files_prefix: str) -> Manifest | None:
    """The stored manifest, or None when there is none (or it is unreadable)."""
    try:
        return Manifest.model_validate(json.loads(storage.get_bytes(keys.files_manifest(files_prefix))))
    except (ObjectNotFound, ValueError, ValidationError):
        return None


def hash_files(storage: Storage, files_prefix: str) -> Manifest:
    """List the files and hash each (a version staged before manifests existed)."""
    entries: list[FileEntry] = []
    for info in storage.list(files_prefix):
        digest = hashlib.sha256()
        size = 0
        with storage.open(info.key) as f:
            while chunk := f.read(1024 * 1024):
                digest.update(chunk)
                size += len(chunk)
        entries.append(FileEntry(name=info.key[len(files_prefix):], size=size, sha256=digest.hexdigest()))
    return Manifest(files=sorted(entries, key=lambda f: f.name))


def manifest_of(storage: Storage, files_prefix: str) -> Manifest:
    """The stored manifest, else the files listed and hashed (needs a storage that lists)."""
    return read_manifest(storage, files_prefix) or hash_files(storage, files_prefix)

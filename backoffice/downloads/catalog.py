"""Which object reads are downloads: a published version's weights file or its package zip.

Reads of the description, covers, thumbnails, documentation, test tensors, drafts and
index files are not. The catalog is made from the concept documents before counting.
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterable
from dataclasses import dataclass

from ..records import keys
from ..records.concept import ConceptRecord, VersionRecord
from ..resource_types import has_weights

WEIGHT_SUFFIXES: tuple[str, ...] = (".pt", ".pth", ".onnx", ".h5", ".hdf5", ".keras", ".pb", ".ckpt", ".safetensors", ".zip")
"""Weights files by name, for versions published before their weight file names were recorded."""


@dataclass(frozen=True)
class Catalog:
    """The published versions of the collection and their weights files."""

    prefix: str
    """Key prefix of the collection inside the bucket (`BACKOFFICE_S3_PREFIX`, with a trailing `/`)."""
    versions: dict[str, dict[str, frozenset[str] | None]]
    """Concept -> version -> weights file names (None: not recorded; told by suffix)."""

    def download_of(self, key: str) -> tuple[str, str] | None:
        """(concept, version) if reading `key` (a bucket key) is a download, else None."""
        if not key.startswith(self.prefix):
            return None
        parts = key[len(self.prefix):].split("/", 2)
        if len(parts) != 3:
            return None
        cid, version, rest = parts
        weights = self.versions.get(cid, {}).get(version, ...)
        if weights is ...:
            return None  # not a published version (a draft, an index file, another concept)
        if keys.version_package(cid, version) == f"{cid}/{version}/{rest}":
            return cid, version
        if not rest.startswith("files/"):
            return None
        name = rest[len("files/"):]
        if weights is None:
            return (cid, version) if name.lower().endswith(WEIGHT_SUFFIXES) else None
        return (cid, version) if name in weights else None


def _clean(name: str) -> str:
    """A file name as its key under `files/` has it (`./weights.pt` is `weights.pt`)."""
    return posixpath.normpath(name).lstrip("/")


def weights_of(rtype: str, v: VersionRecord) -> frozenset[str] | None:
    """The weights files of a published version (None: not recorded; told by suffix).

    The names come from the uploaded description, so they are checked: a type without
    weights has none, and the description, covers, thumbnails, documentation and icon are
    never weights, whatever the description says (else a crafted `weights: ...: source:
    cover.png` would make every website card's read a download)."""
    s = v.summary
    if not has_weights(rtype):
        return frozenset()
    if not s.weight_files:
        return None
    shown = {_clean(n) for n in (v.rdf_name, *s.covers, *s.thumbnails, *s.thumbnails.values(), s.documentation, s.icon) if n}
    return frozenset(n for n in map(_clean, s.weight_files) if n not in shown)


def catalog_of(records: Iterable[ConceptRecord], prefix: str) -> Catalog:
    """The catalog of these concepts' published versions."""
    return Catalog(prefix=prefix, versions={r.id: {v.version: weights_of(r.type, v) for v in r.versions.values()} for r in records})

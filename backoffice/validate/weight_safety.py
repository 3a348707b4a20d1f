"""The weight safety scan of a draft or version, before any test loads its weights.

Runs where `validate-format` runs (in the workflow: the job without secrets, which reads
the files from their public URLs). Every file of the package is looked at; each that
holds a pickle is scanned (`pickle_scan.py`) and never loaded. The result joins the
static validation's summary as one more detail: a global that is not known to be harmless
(dangerous or merely unknown) fails the validation (no test is planned, a draft goes back
to its uploader) and is named, so that a reviewer can judge it.
"""

from __future__ import annotations

import posixpath
import re
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, cast

from ..records.manifest import read_manifest
from ..records.snapshot import rdf_data
from ..records.target import Target
from ..records.weight_scan import FileScan, WeightScan, assess, scan_detail
from ..errors import StorageError
from ..storage.base import ObjectNotFound, Storage, check_key
from ..storage.local import LocalStorage
from ..storage.public import PublicStorage
from .pickle_scan import HEAD_BYTES, scan_file, scanner_name, sniff


FILE_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*(/[A-Za-z0-9_][A-Za-z0-9_.+-]*)*$")
"""What a file name in a description looks like (no spaces, no `..`, relative)."""


def _referenced(value: Any) -> Iterator[str]:
    """Relative file names a description mentions (for a version without `files.json`)."""
    if isinstance(value, Mapping):
        for v in cast(Mapping[Any, Any], value).values():
            yield from _referenced(v)
    elif isinstance(value, list):
        for v in cast(list[Any], value):
            yield from _referenced(v)
    elif isinstance(value, str) and FILE_NAME.match(value) and "." in value:
        try:
            yield check_key(value)
        except StorageError:
            pass


def file_names(storage: Storage, target: Target, rdf: Mapping[str, Any]) -> list[str]:
    """The files to look at: `files.json`, else a listing, else (public storage) what the rdf names."""
    manifest = read_manifest(storage, target.files_prefix)
    if manifest is not None:
        return [f.name for f in manifest.files]
    if not isinstance(storage, PublicStorage):
        return [k[len(target.files_prefix):] for k in storage.list_keys(target.files_prefix)]
    return sorted(set(_referenced(rdf)))


def weight_files(rdf: Mapping[str, Any]) -> dict[str, str]:
    """File name -> the weight format whose weights it is."""
    weights: Any = rdf.get("weights")
    out: dict[str, str] = {}
    entries = cast(dict[str, Any], weights) if isinstance(weights, dict) else {}
    for wf, entry in entries.items():
        source: Any = cast(dict[str, Any], entry).get("source") if isinstance(entry, dict) else None
        if isinstance(source, str):
            out[source] = str(wf)
    return out


PICKLE_FORMATS = frozenset({"pytorch_state_dict", "torchscript"})
"""Weight formats whose loaders unpickle: their weights are scanned whatever their name or first bytes."""


def _package_path(source: str) -> str | None:
    """The weights' path in the package, or None: a URL, or a path leaving the package."""
    if "://" in source or source.startswith("/"):
        return None
    path = posixpath.normpath(source)
    return None if path == ".." or path.startswith("../") else path


def _outside(by_file: Mapping[str, str], names: list[str]) -> list[FileScan]:
    """Pickle-based weights that are no file of the package: never scanned, and free to change after review."""
    held = set(names)
    return [FileScan(file=source, kind="pickle", weight_format=wf,
                     error=f"the {wf} weights {source} are not a file of the package; they cannot be scanned")
            for source, wf in by_file.items() if wf in PICKLE_FORMATS and _package_path(source) not in held]


def _scan_one(storage: Storage, key: str, name: str, tmp: Path, weights: bool) -> FileScan | None | bool:
    """The file's scan; None: no pickle in it; False: it is not there."""
    if isinstance(storage, LocalStorage):
        path = storage.root / key
        return scan_file(path, name, weights) if path.is_file() else False
    try:
        with storage.open(key) as f:
            head = f.read(HEAD_BYTES)
        if sniff(name, head, weights) is None:
            return None
        path = tmp / "file"
        with storage.open(key) as src, path.open("wb") as out:
            shutil.copyfileobj(src, out, 1024 * 1024)
    except ObjectNotFound:
        return False
    return scan_file(path, name, weights)


def scan_target(storage: Storage, target: Target) -> WeightScan:
    """Scan every file of the draft or version for pickles (downloaded one at a time)."""
    rdf = rdf_data(storage.get_bytes(target.rdf_key))
    by_file = weight_files(rdf)
    by_path = {p: wf for source, wf in by_file.items() if (p := _package_path(source)) is not None}
    names = file_names(storage, target, rdf)
    files: list[FileScan] = []
    checked = 0
    with tempfile.TemporaryDirectory(prefix="backoffice-scan-") as tmp:
        for name in names:
            scanned = _scan_one(storage, target.files_prefix + name, name, Path(tmp), by_path.get(name) in PICKLE_FORMATS)
            if scanned is False:
                names = [n for n in names if n != name]
                continue
            checked += 1
            if isinstance(scanned, FileScan):
                files.append(scanned.model_copy(update={"weight_format": by_path.get(name)}))
    if target.subject == "draft":  # a version taken over from the earlier collection may name its mirrored weights by URL
        files += _outside(by_file, names)
    return assess(scanner_name(), files, target.summary.weight_formats, checked)


def with_scan(status: str, summary: dict[str, Any], markdown: str, scan: WeightScan) -> tuple[str, dict[str, Any], str]:
    """The validation's (status, summary, markdown) with the scan joined in."""
    from ..records.weight_scan import scan_lines

    details: Any = summary.get("details")
    summary = {**summary, "details": [*(cast(list[Any], details) if isinstance(details, list) else []), scan_detail(scan)]}
    if scan.status == "failed":
        status = "failed"
        summary["status"] = "failed"
    lines = "\n".join(f"- {line.strip()}" for line in scan_lines(scan)[1:])
    icon = {"passed": "✔️", "warning": "⚠️", "failed": "❌"}[scan.status]
    markdown += f"\n\n## {icon} {scan_lines(scan)[0]}\n\n{lines}\n"
    return status, summary, markdown

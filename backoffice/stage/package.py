"""Check a package zip before anything is written: safe entry names, limits
against zip bombs, exactly one description. Pure inspection; nothing is extracted."""

from __future__ import annotations

import re
import stat
import zipfile
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ..errors import PackageError

DESCRIPTION_NAMES = ("rdf.yaml", "bioimageio.yaml")


@dataclass(frozen=True)
class Limits:
    """Limits a package must keep."""

    max_entries: int
    max_total_bytes: int
    max_ratio: float
    ratio_floor_bytes: int = 1024 * 1024
    """Entries smaller than this are not ratio-checked (tiny files compress well)."""


@dataclass(frozen=True)
class Entry:
    """One file to unpack."""

    name: str
    """Name in the zip."""
    dest: str
    """Relative path in the draft's files folder."""
    size: int


@dataclass(frozen=True)
class PackagePlan:
    """What staging will unpack."""

    entries: list[Entry]
    description: Entry

    @property
    def total_size(self) -> int:
        return sum(e.size for e in self.entries)


_DRIVE = re.compile(r"^[A-Za-z]:")


def check_entry_name(name: str) -> str:
    """Refuse absolute, drive, backslash and `..` paths."""
    if "\\" in name or _DRIVE.match(name):
        raise PackageError(f"package entry '{name}' has a Windows drive or backslash path")
    if name.startswith("/"):
        raise PackageError(f"package entry '{name}' is an absolute path")
    parts = name.split("/")
    if ".." in parts:
        raise PackageError(f"package entry '{name}' points outside the package ('..')")
    if any(p in ("", ".") for p in (parts[:-1] if name.endswith("/") else parts)):
        raise PackageError(f"package entry '{name}' has an empty or '.' path segment")
    if "\x00" in name:
        raise PackageError("package entry name contains a NUL character")
    return name


def open_zip(path: Path) -> zipfile.ZipFile:
    if not zipfile.is_zipfile(path):
        raise PackageError(f"{path.name} is not a zip file")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError) as e:
        raise PackageError(f"{path.name} is not a readable zip file: {e}") from None


def plan_package(zf: zipfile.ZipFile, limits: Limits) -> PackagePlan:
    """Inspect every entry; return what to unpack or raise PackageError."""
    infos = zf.infolist()
    if len(infos) > limits.max_entries:
        raise PackageError(f"package has {len(infos)} entries, more than the limit of {limits.max_entries}")
    files: list[zipfile.ZipInfo] = []
    total = 0
    for info in infos:
        check_entry_name(info.filename)
        mode = info.external_attr >> 16
        if stat.S_ISLNK(mode):
            raise PackageError(f"package entry '{info.filename}' is a symbolic link")
        if info.is_dir():
            continue
        if info.flag_bits & 0x1:
            raise PackageError(f"package entry '{info.filename}' is encrypted")
        total += info.file_size
        if total > limits.max_total_bytes:
            raise PackageError(f"package unpacks to more than the limit of {limits.max_total_bytes} bytes")
        if info.file_size > limits.ratio_floor_bytes:
            ratio = info.file_size / max(info.compress_size, 1)
            if ratio > limits.max_ratio:
                raise PackageError(
                    f"package entry '{info.filename}' expands {ratio:.0f}-fold, more than the limit of "
                    f"{limits.max_ratio:.0f} (zip bomb?)"
                )
        files.append(info)
    if not files:
        raise PackageError("package is empty")

    # the description: at the root, or in the one top folder that holds everything
    tops = {i.filename.split("/", 1)[0] for i in files}
    strip = ""
    if len(tops) == 1 and all("/" in i.filename for i in files):
        strip = next(iter(tops)) + "/"
    candidates = [
        i for i in files if i.filename.startswith(strip) and i.filename[len(strip):] in DESCRIPTION_NAMES
    ]
    if not candidates:
        raise PackageError("package has no rdf.yaml or bioimageio.yaml at its root")
    if len(candidates) > 1:
        raise PackageError("package has more than one description (" + ", ".join(i.filename for i in candidates) + ")")

    entries: list[Entry] = []
    seen: set[str] = set()
    for i in files:
        dest = i.filename[len(strip):]
        if not dest or dest in seen:
            raise PackageError(f"package entry '{i.filename}' is duplicated")
        seen.add(dest)
        entries.append(Entry(i.filename, dest, i.file_size))
    parents = {"/".join(e.dest.split("/")[:k]) for e in entries for k in range(1, e.dest.count("/") + 1)}
    if clash := sorted(parents & seen):
        raise PackageError(f"package entry '{clash[0]}' is both a file and a folder")
    description = next(e for e in entries if e.name == candidates[0].filename)
    return PackagePlan(entries=entries, description=description)


class BoundedReader:
    """Reads an entry and refuses more bytes than its header declared (lying headers)."""

    def __init__(self, raw: IO[bytes], limit: int, name: str) -> None:
        self.raw, self.limit, self.name, self.count = raw, limit, name, 0

    def read(self, n: int = -1) -> bytes:
        data = self.raw.read(n)
        self.count += len(data)
        if self.count > self.limit:
            raise PackageError(f"package entry '{self.name}' is larger than its header says")
        return data


def iter_entry_chunks(zf: zipfile.ZipFile, entry: Entry, chunk: int = 1024 * 1024) -> Iterator[bytes]:
    """The entry's bytes; a corrupt, truncated or unsupported entry is a PackageError."""
    try:
        with zf.open(entry.name) as raw:
            reader = BoundedReader(raw, entry.size, entry.name)
            while data := reader.read(chunk):
                yield data
    except (zipfile.BadZipFile, zlib.error, EOFError, NotImplementedError) as e:
        raise PackageError(f"package entry '{entry.name}' cannot be read: {e}") from None

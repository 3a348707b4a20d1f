"""Reading a source: a folder, a zip or an http(s) base URL of the running collection, or a
GitOps-era `collection.json`. Nothing is written here."""

from __future__ import annotations

import json
import os
import re
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

from pydantic import ValidationError

from ..errors import BackofficeError, DownloadError, ImportSourceError
from ..util.fetch import get_bytes
from ..util.yaml_guard import YamlRefused, load_yaml
from .models import GitopsEntry, RunningIndex, RunningItem, RunningSummary
from .rdf_files import declared_sha256s

MAX_JSON_BYTES = 50 * 1024 * 1024
"""Largest index, summary or collection.json read."""
MAX_JSON_DEPTH = 100
"""Deepest nesting of JSON read (an rdf needs fewer than 15 levels; Python's parser ends in a
RecursionError near 1000, and everything after it recurses too)."""


class Reader(Protocol):
    """Files of one published folder, by relative path."""

    name: str

    def read(self, rel: str) -> bytes | None:
        """The file's bytes, or None if it is not there."""
        ...

    def list(self, rel_dir: str) -> list[str] | None:
        """File names directly in `rel_dir`, or None where a source cannot list (a URL)."""
        ...


def _checked_rel(name: str, rel: str) -> PurePosixPath:
    """`rel` as a path inside the source: no absolute path, no `..`, no backslash (a path built
    from an index's ids must not leave the folder it names)."""
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts or "\\" in rel or "\0" in rel:
        raise ImportSourceError(f"{name}: refused: '{rel}' leaves the collection's folder")
    return path


@dataclass
class FolderReader:
    """A folder of the running collection's files. Every path stays inside `root`, and no
    symbolic link is followed (a link could lead anywhere on this machine)."""

    root: Path
    name: str

    def _path(self, rel: str) -> Path:
        path = self.root
        for part in _checked_rel(self.name, rel).parts:
            path = path / part
            if path.is_symlink():
                raise ImportSourceError(f"{self.name}: refused: {rel} is or passes a symbolic link; links are not followed")
        return path

    def read(self, rel: str) -> bytes | None:
        path = self._path(rel)
        if not path.is_file():
            return None
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0))
        with open(fd, "rb") as f:
            return f.read(MAX_JSON_BYTES + 1)

    def list(self, rel_dir: str) -> list[str] | None:
        folder = self._path(rel_dir)
        return sorted(p.name for p in folder.iterdir() if p.is_file() and not p.is_symlink()) if folder.is_dir() else []


@dataclass
class ZipReader:
    archive: zipfile.ZipFile
    name: str
    prefix: str = ""
    _names: set[str] = field(default_factory=set[str])

    def __post_init__(self) -> None:
        self._names = {n for n in self.archive.namelist() if not n.endswith("/")}
        tops = [n for n in self._names if n.endswith("index.json") and n.count("/") <= 1]
        if tops and "index.json" not in self._names:
            self.prefix = min(tops, key=len)[: -len("index.json")]  # a zip of the folder itself

    def read(self, rel: str) -> bytes | None:
        name = self.prefix + rel
        if name not in self._names:
            return None
        with self.archive.open(name) as f:
            return f.read(MAX_JSON_BYTES + 1)

    def list(self, rel_dir: str) -> list[str] | None:
        prefix = self.prefix + rel_dir.rstrip("/") + "/"
        return sorted(n[len(prefix):] for n in self._names if n.startswith(prefix) and "/" not in n[len(prefix):])


@dataclass
class UrlReader:
    """Files of a running collection at an http(s) base URL, each read through the one guarded
    fetch (public hosts only, every redirect checked; `allowed_hosts` as for staging) in a
    stream that stops at MAX_JSON_BYTES."""

    base: str
    name: str
    timeout: float = 60.0
    allowed_hosts: tuple[str, ...] = ()

    def read(self, rel: str) -> bytes | None:
        url = self.base.rstrip("/") + "/" + str(_checked_rel(self.name, rel))
        try:
            return get_bytes(url, max_bytes=MAX_JSON_BYTES, timeout=self.timeout, allowed_hosts=self.allowed_hosts,
                             missing=(404,))
        except DownloadError as e:
            raise ImportSourceError(f"refused: {e}") from None

    def list(self, rel_dir: str) -> list[str] | None:
        return None


def open_reader(source: str, timeout: float = 60.0, allowed_hosts: tuple[str, ...] = ()) -> Reader:
    """A reader for a running collection's folder, zip or base URL."""
    if source.startswith(("http://", "https://")):
        base = source[: -len("/index.json")] if source.endswith("/index.json") else source
        return UrlReader(base, source, timeout, allowed_hosts)
    if "://" in source:
        raise ImportSourceError(f"{source}: only http(s) URLs, folders and zip files can be imported")
    path = Path(source)
    if path.is_dir():
        return FolderReader(path, source)
    if path.is_file() and zipfile.is_zipfile(path):
        return ZipReader(zipfile.ZipFile(path), source)
    if path.is_file() and path.name == "index.json":
        return FolderReader(path.parent, source)
    raise ImportSourceError(f"{source}: no such folder, zip file or URL")


def _json(reader: Reader, rel: str) -> object:
    data = reader.read(rel)
    if data is None:
        raise ImportSourceError(f"{reader.name}: no {rel}")
    if len(data) > MAX_JSON_BYTES:
        raise ImportSourceError(f"{reader.name}/{rel}: more than {MAX_JSON_BYTES} bytes")
    if _nests_deeper(data, MAX_JSON_DEPTH):
        raise ImportSourceError(f"{reader.name}/{rel}: refused: nests lists or objects more than {MAX_JSON_DEPTH} levels deep")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:
        raise ImportSourceError(f"{reader.name}/{rel}: not JSON ({type(e).__name__})") from None


_JSON_TOKENS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]')


def _nests_deeper(data: bytes, limit: int) -> bool:
    """Whether brackets outside JSON strings nest deeper than `limit` (one pass, before parsing)."""
    if data.count(b"[") + data.count(b"{") <= limit:
        return False
    depth = 0
    for m in _JSON_TOKENS.finditer(data):
        c = m.group()
        if c in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif c in (b"]", b"}"):
            depth -= 1
    return False


def is_gitops_collection(source: str) -> bool:
    """A GitOps-era `collection.json` (a file path or URL ending in collection.json)."""
    return source.rstrip("/").endswith("collection.json")


def load_index(reader: Reader) -> RunningIndex:
    try:
        return RunningIndex.model_validate(_json(reader, "index.json"))
    except ValidationError as e:
        raise ImportSourceError(f"{reader.name}/index.json: not the running collection's index ({e.errors()[0]['msg']})") from None


def version_dir(item: RunningItem, version: str) -> str:
    """`reports/<workspace>/<folder>/<version>/` of a version (index ids are `<workspace>/<nickname>`;
    the running collection keeps a partner application `bioimage-io/imjoy:vizarr` under `imjoy_vizarr`)."""
    workspace, _, nickname = item.id.rpartition("/")
    folder = nickname.replace(":", "_")
    return f"reports/{workspace}/{folder}/{version}/" if workspace else f"reports/{folder}/{version}/"


def load_summary(reader: Reader, item: RunningItem, version: str) -> RunningSummary | None:
    rel = version_dir(item, version) + "summary.json"
    if reader.read(rel) is None:
        return None
    try:
        return RunningSummary.model_validate(_json(reader, rel))
    except ValidationError as e:
        raise ImportSourceError(f"{reader.name}/{rel}: not a summary ({e.errors()[0]['msg']})") from None


def report_names(reader: Reader, item: RunningItem, version: str, summary: RunningSummary | None) -> list[str]:
    """File names of a version's reports: listed where the source can, else named by summary.json's `tests`."""
    listed = reader.list(version_dir(item, version) + "reports")
    if listed is not None:
        return [n for n in listed if n.endswith(".json")]
    tests = summary.tests if summary is not None else None
    if not isinstance(tests, dict):
        return []
    names: list[str] = []
    for tool, versions in tests.items():  # pyright: ignore[reportUnknownVariableType]
        if isinstance(versions, dict):
            names.extend(f"{tool}_{v}.json" for v in versions)  # pyright: ignore[reportUnknownVariableType]
    return sorted(names)


def load_gitops(source: str, timeout: float = 60.0, allowed_hosts: tuple[str, ...] = ()) -> list[GitopsEntry]:
    """The entries of a GitOps-era collection.json (path or URL)."""
    if source.startswith(("http://", "https://")):
        reader: Reader = UrlReader(source.rsplit("/", 1)[0], source, timeout, allowed_hosts)
    else:
        reader = FolderReader(Path(source).parent, source)
    raw = _json(reader, PurePosixPath(source).name)
    items = raw.get("collection") if isinstance(raw, dict) else None  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
    if not isinstance(items, list):
        raise ImportSourceError(f"{source}: no `collection` list (not a GitOps-era collection.json)")
    out: list[GitopsEntry] = []
    for i, e in enumerate(items):  # pyright: ignore[reportUnknownVariableType, reportUnknownArgumentType]
        try:
            entry = GitopsEntry.model_validate(e)
        except ValidationError as err:
            raise ImportSourceError(f"{source}: collection[{i}]: {err.errors()[0]['msg']}") from None
        if entry.nickname:
            entry.record_files = _record_files(reader, entry)
        out.append(entry)
    return out


def _record_files(reader: Reader, entry: GitopsEntry) -> dict[str, list[str]]:
    """sha256s of the files each record's rdf in `rdfs/<concept doi>/<record id>/rdf.yaml` declares."""
    out: dict[str, list[str]] = {}
    for record in entry.versions:
        data = reader.read(f"rdfs/{entry.id}/{record}/rdf.yaml")
        if data is None:
            continue
        try:
            rdf: object = load_yaml(data, f"{reader.name}/rdfs/{entry.id}/{record}/rdf.yaml")
        except YamlRefused:
            continue  # an unreadable (or refused) old rdf only loses the evidence, not the import
        out[record] = sorted(declared_sha256s(rdf))
    return out


def iter_versions(index: RunningIndex) -> Iterator[tuple[RunningItem, str]]:
    for item in index.items:
        for v in item.versions:
            yield item, v.version


def wrap(e: BackofficeError, source: str) -> ImportSourceError:
    return ImportSourceError(f"{source}: {e}")

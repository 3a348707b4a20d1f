"""Reading a source: a folder, a zip or an http(s) base URL of the running collection, or a
GitOps-era `collection.json`. Nothing is written here."""

from __future__ import annotations

import json
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Protocol

import requests
import yaml
from pydantic import ValidationError

from ..errors import BackofficeError, ImportSourceError
from .models import GitopsEntry, RunningIndex, RunningItem, RunningSummary
from .rdf_files import declared_sha256s

MAX_JSON_BYTES = 50 * 1024 * 1024
"""Largest index, summary or collection.json read."""


class Reader(Protocol):
    """Files of one published folder, by relative path."""

    name: str

    def read(self, rel: str) -> bytes | None:
        """The file's bytes, or None if it is not there."""
        ...

    def list(self, rel_dir: str) -> list[str] | None:
        """File names directly in `rel_dir`, or None where a source cannot list (a URL)."""
        ...


@dataclass
class FolderReader:
    root: Path
    name: str

    def read(self, rel: str) -> bytes | None:
        path = self.root / rel
        return path.read_bytes() if path.is_file() else None

    def list(self, rel_dir: str) -> list[str] | None:
        folder = self.root / rel_dir
        return sorted(p.name for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []


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
    base: str
    name: str
    timeout: float = 60.0
    session: requests.Session = field(default_factory=requests.Session)

    def read(self, rel: str) -> bytes | None:
        url = self.base.rstrip("/") + "/" + rel
        try:
            r = self.session.get(url, timeout=self.timeout)
        except requests.RequestException as e:
            raise ImportSourceError(f"{url}: could not be reached ({type(e).__name__})") from None
        if r.status_code == 404:
            return None
        if r.status_code != 200:
            raise ImportSourceError(f"{url} answered HTTP {r.status_code}")
        return r.content

    def list(self, rel_dir: str) -> list[str] | None:
        return None


def open_reader(source: str, timeout: float = 60.0) -> Reader:
    """A reader for a running collection's folder, zip or base URL."""
    if source.startswith(("http://", "https://")):
        base = source[: -len("/index.json")] if source.endswith("/index.json") else source
        return UrlReader(base, source, timeout)
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
    try:
        return json.loads(data)
    except ValueError as e:
        raise ImportSourceError(f"{reader.name}/{rel}: not JSON ({e})") from None


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


def load_gitops(source: str, timeout: float = 60.0) -> list[GitopsEntry]:
    """The entries of a GitOps-era collection.json (path or URL)."""
    if source.startswith(("http://", "https://")):
        reader: Reader = UrlReader(source.rsplit("/", 1)[0], source, timeout)
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
            rdf: object = yaml.safe_load(data)
        except yaml.YAMLError:
            continue  # an unreadable old rdf only loses the evidence, not the import
        out[record] = sorted(declared_sha256s(rdf))
    return out


def iter_versions(index: RunningIndex) -> Iterator[tuple[RunningItem, str]]:
    for item in index.items:
        for v in item.versions:
            yield item, v.version


def wrap(e: BackofficeError, source: str) -> ImportSourceError:
    return ImportSourceError(f"{source}: {e}")

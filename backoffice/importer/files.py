"""Fetching what an import stores: the upstream rdf and the files it names, streamed into
storage in parallel and checked against the sha256 the rdf declares. What cannot be
fetched stays remote with a one-line reason."""

from __future__ import annotations

import hashlib
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

from ..records.imported import RemoteFile
from ..storage.base import Storage
from .rdf_files import NamedFile

_CHUNK = 1024 * 1024


class Unreachable(Exception):
    """The host did not answer (or not with the file): one line why."""


def fetch_bytes(url: str, timeout: float, max_bytes: int) -> bytes:
    """A small file (an rdf) in memory; Unreachable says why not."""
    try:
        with requests.get(url, timeout=timeout, stream=True) as r:
            if r.status_code != 200:
                raise Unreachable(f"{url} answered HTTP {r.status_code}")
            data = r.raw.read(max_bytes + 1, decode_content=True)
    except requests.RequestException as e:
        raise Unreachable(f"{url} could not be reached ({type(e).__name__})") from None
    if len(data) > max_bytes:
        raise Unreachable(f"{url} is larger than {max_bytes} bytes")
    return data


def _mirror_one(storage: Storage, key: str, f: NamedFile, timeout: float, max_bytes: int) -> RemoteFile | None:
    """Store one file; a RemoteFile (why not) when it could not be fetched or its sha256 is wrong."""
    h = hashlib.sha256()
    size = 0
    with tempfile.NamedTemporaryFile(prefix="backoffice-import-") as tmp:
        try:
            with requests.get(f.url, timeout=timeout, stream=True) as r:
                if r.status_code != 200:
                    return RemoteFile(url=f.url, reason=f"HTTP {r.status_code}", sha256=f.sha256)
                for chunk in r.iter_content(_CHUNK):
                    size += len(chunk)
                    if size > max_bytes:
                        return RemoteFile(url=f.url, reason=f"larger than {max_bytes} bytes", sha256=f.sha256)
                    h.update(chunk)
                    tmp.write(chunk)
        except requests.RequestException as e:
            return RemoteFile(url=f.url, reason=f"could not be fetched ({type(e).__name__})", sha256=f.sha256)
        got = h.hexdigest()
        if f.sha256 and got != f.sha256.lower():
            return RemoteFile(url=f.url, reason=f"sha256 {got[:12]}… differs from the rdf's {f.sha256[:12]}…", sha256=f.sha256)
        tmp.flush()
        storage.put_file(key, Path(tmp.name))
    return None


def mirror_files(storage: Storage, files_prefix: str, files: Sequence[NamedFile], *, timeout: float,
                 max_bytes: int, workers: int = 8) -> dict[str, RemoteFile]:
    """Store each file under `files_prefix`; returns those that stayed remote, by name."""
    if not files:
        return {}
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(files)))) as pool:
        def one(f: NamedFile) -> RemoteFile | None:
            return _mirror_one(storage, files_prefix + f.name, f, timeout, max_bytes)

        results = list(pool.map(one, files))
    return {f.name: r for f, r in zip(files, results, strict=True) if r is not None}


def all_remote(files: Sequence[NamedFile], reason: str) -> dict[str, RemoteFile]:
    return {f.name: RemoteFile(url=f.url, reason=reason, sha256=f.sha256) for f in files}

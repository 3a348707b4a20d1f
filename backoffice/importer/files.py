"""Fetching what an import stores: the upstream rdf and the files it names, streamed into
storage in parallel and checked against the sha256 the rdf declares. Every request goes
through the one guarded fetch (`util/fetch.py`: public hosts only, every redirect checked,
a byte cap read in a stream). What cannot be fetched stays remote with a one-line reason,
and so does everything of a file host that has used up its time (`HostClock`)."""

from __future__ import annotations

import hashlib
import tempfile
import threading
import time
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

from ..errors import DownloadError
from ..records.imported import RemoteFile
from ..storage.base import Storage
from ..util.fetch import TooLarge, guarded_get, iter_capped
from .progress import ImportProgress
from .rdf_files import NamedFile


class Unreachable(Exception):
    """The host did not answer (or not with the file), or the guard refused it: one line why."""


class HostClock:
    """A whole-import time limit per file host: the time an import spends waiting on a host
    without an answer (a connection or a read that timed out or broke off, counted from the
    request or from the last piece of data) adds up per host; an answer from the host starts
    its account again (a slow but working host is no dead one). Once a host's account reaches
    `limit` seconds, every further file of it stays remote with the reason, without a request:
    an unanswering host costs the import at most about `limit` seconds, however many files it
    holds. Time spent on other hosts never counts."""

    def __init__(self, limit: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.now = clock
        self._waited: dict[str, float] = {}
        self._lock = threading.Lock()

    @staticmethod
    def host(url: str) -> str:
        return urlsplit(url).netloc.lower()

    def left(self, url: str) -> float:
        """Seconds the host of `url` may still keep the import waiting (0: its time is up)."""
        with self._lock:
            return max(0.0, self.limit - self._waited.get(self.host(url), 0.0))

    def waited(self, url: str, seconds: float) -> None:
        """The host of `url` kept a request waiting `seconds` for nothing."""
        with self._lock:
            self._waited[self.host(url)] = self._waited.get(self.host(url), 0.0) + max(0.0, seconds)

    def answered(self, url: str) -> None:
        """The host answered: its account starts again (unless its time is already up)."""
        with self._lock:
            if self._waited.get(self.host(url), 0.0) < self.limit:
                self._waited[self.host(url)] = 0.0

    def spent_reason(self) -> str:
        return f"the host used up the import's time limit of {self.limit:g} s per file host"


class Fetcher:
    """The import's fetch settings, shared by every request of one run."""

    def __init__(self, *, timeout: float, allowed_hosts: Collection[str] = (), clock: HostClock | None = None,
                 progress: ImportProgress | None = None) -> None:
        self.timeout = timeout
        self.allowed_hosts = tuple(allowed_hosts)
        self.clock = clock or HostClock(float("inf"))
        self.progress = progress or ImportProgress()

    def stream(self, url: str, max_bytes: int, sink: Callable[[bytes], None]) -> None:
        """Stream `url` into `sink`; Unreachable (one line) for any failure, refusal or time-out."""
        left = self.clock.left(url)
        if left <= 0:
            raise Unreachable(self.clock.spent_reason())
        since = self.clock.now()
        try:
            with guarded_get(url, timeout=min(self.timeout, left), allowed_hosts=self.allowed_hosts) as r:
                self.clock.answered(url)
                if r.status_code != 200:
                    raise Unreachable(f"HTTP {r.status_code}")
                for chunk in iter_capped(r, max_bytes, url, chunk=256 * 1024):
                    since = self.clock.now()
                    sink(chunk)
                    self.progress.advance(bytes=len(chunk))
        except TooLarge:
            raise Unreachable(f"larger than {max_bytes} bytes") from None
        except DownloadError as e:  # refused, unreachable, timed out or broken off: the wait counts
            self.clock.waited(url, self.clock.now() - since)
            raise Unreachable(f"could not be fetched: {e}") from None


def fetch_bytes(fetcher: Fetcher, url: str, max_bytes: int) -> bytes:
    """A small file (an rdf) in memory; Unreachable says why not."""
    parts: list[bytes] = []
    try:
        fetcher.stream(url, max_bytes, parts.append)
    except Unreachable as e:
        raise Unreachable(f"{url}: {e}") from None
    return b"".join(parts)


def _mirror_one(storage: Storage, key: str, f: NamedFile, fetcher: Fetcher, max_bytes: int) -> RemoteFile | None:
    """Store one file; a RemoteFile (why not) when it could not be fetched or its sha256 is wrong."""
    h = hashlib.sha256()
    with tempfile.NamedTemporaryFile(prefix="backoffice-import-") as tmp:

        def sink(chunk: bytes) -> None:
            h.update(chunk)
            tmp.write(chunk)

        try:
            fetcher.stream(f.url, max_bytes, sink)
        except Unreachable as e:
            return RemoteFile(url=f.url, reason=str(e), sha256=f.sha256)
        finally:
            fetcher.progress.advance(files=1)
        got = h.hexdigest()
        if f.sha256 and got != f.sha256.lower():
            return RemoteFile(url=f.url, reason=f"sha256 {got[:12]}… differs from the rdf's {f.sha256[:12]}…", sha256=f.sha256)
        tmp.flush()
        storage.put_file(key, Path(tmp.name))
    return None


def mirror_files(storage: Storage, files_prefix: str, files: Sequence[NamedFile], *, fetcher: Fetcher,
                 max_bytes: int, workers: int = 8) -> dict[str, RemoteFile]:
    """Store each file under `files_prefix`; returns those that stayed remote, by name."""
    if not files:
        return {}
    fetcher.progress.expect(files=len(files))
    with ThreadPoolExecutor(max_workers=max(1, min(workers, len(files)))) as pool:
        def one(f: NamedFile) -> RemoteFile | None:
            return _mirror_one(storage, files_prefix + f.name, f, fetcher, max_bytes)

        results = list(pool.map(one, files))
    return {f.name: r for f, r in zip(files, results, strict=True) if r is not None}


def all_remote(files: Sequence[NamedFile], reason: str) -> dict[str, RemoteFile]:
    return {f.name: RemoteFile(url=f.url, reason=reason, sha256=f.sha256) for f in files}

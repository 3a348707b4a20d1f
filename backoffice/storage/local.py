"""The embedded default backend: a local folder.

Writes go to a temporary file that is renamed into place, so readers never see
half-written objects. Conditional writes hold an exclusive `flock` on a lock file
per key, which makes compare-and-swap safe across processes on one machine.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import tempfile
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO
from urllib.parse import quote

from ..errors import StorageError
from .base import ByteStream, ObjectInfo, ObjectNotFound, PreconditionFailed, Storage, check_key, etag_of, normalize_prefix

INTERNAL = ".backoffice-internal"
"""Folder under the root for lock files and temporary files; never listed."""

_CHUNK = 1024 * 1024


class LocalStorage(Storage):
    """Objects as files under `root`."""

    def __init__(self, root: Path, public_base_url: str) -> None:
        self.root = root.absolute()
        self.public_base_url = public_base_url.rstrip("/")
        if self.root.exists() and not self.root.is_dir():
            raise StorageError(f"the local store root {self.root} (BACKOFFICE_LOCAL_ROOT) is not a folder")
        try:
            (self.root / INTERNAL / "locks").mkdir(parents=True, exist_ok=True)
            (self.root / INTERNAL / "tmp").mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StorageError(f"cannot use {self.root} (BACKOFFICE_LOCAL_ROOT) as the local store: {e.strerror or e}") from None
        self._etags: dict[tuple[int, int, int, int], str] = {}

    # --- helpers -----------------------------------------------------------
    def _path(self, key: str) -> Path:
        check_key(key)
        if key.split("/", 1)[0] == INTERNAL:
            raise StorageError(f"invalid storage key {key!r}")
        return self.root / key

    @contextmanager
    def _lock(self, key: str) -> Generator[None, None, None]:
        """An exclusive lock per key; its lock file is removed again on release.

        The file is unlinked while the lock is held, so a waiter that then gets the lock
        holds it on a removed file: it sees that (the path is gone or names another
        inode) and starts over on the current file.
        """
        path = self.root / INTERNAL / "locks" / hashlib.sha256(key.encode()).hexdigest()
        while True:
            path.parent.mkdir(parents=True, exist_ok=True)
            f = open(path, "a+b")  # noqa: SIM115 - closed below or on release
            try:
                fcntl.flock(f, fcntl.LOCK_EX)
                current = os.stat(path).st_ino
            except FileNotFoundError:
                f.close()
                continue
            except BaseException:
                f.close()
                raise
            if current == os.fstat(f.fileno()).st_ino:
                break
            f.close()
        try:
            yield
        finally:
            try:
                path.unlink(missing_ok=True)
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)
                f.close()

    def _etag_of(self, path: Path, *, cached: bool = True) -> str:
        st = path.stat()
        cache_key = (st.st_ino, st.st_mtime_ns, st.st_ctime_ns, st.st_size)  # ctime: not settable by utime
        etag = self._etags.get(cache_key) if cached else None
        if etag is None:
            h = hashlib.md5(usedforsecurity=False)
            with path.open("rb") as f:
                while chunk := f.read(_CHUNK):
                    h.update(chunk)
            etag = h.hexdigest()
            self._etags[cache_key] = etag
        return etag

    def _write_atomic(self, path: Path, stream: ByteStream) -> str:
        h = hashlib.md5(usedforsecurity=False)
        fd, tmp = tempfile.mkstemp(dir=self.root / INTERNAL / "tmp")
        try:
            with os.fdopen(fd, "wb") as out:
                while chunk := stream.read(_CHUNK):
                    h.update(chunk)
                    out.write(chunk)
            for attempt in range(5):
                path.parent.mkdir(parents=True, exist_ok=True)
                try:
                    os.replace(tmp, path)
                    break
                except FileNotFoundError:  # a concurrent delete removed the emptied folder
                    if attempt == 4:
                        raise
        except OSError as e:
            Path(tmp).unlink(missing_ok=True)
            raise StorageError(f"cannot write {path.relative_to(self.root)}: {e.strerror or e}") from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return h.hexdigest()

    # --- writing -----------------------------------------------------------
    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
        content_type: str | None = None,
    ) -> str:
        import io

        path = self._path(key)
        if not if_none_match and if_match is None:
            return self._write_atomic(path, io.BytesIO(data))
        with self._lock(key):
            if if_none_match and path.exists():
                raise PreconditionFailed(f"{key} exists already")
            if if_match is not None:
                # hash afresh: inodes are reused and mtimes can be coarse, so the cache may be stale
                try:
                    current = self._etag_of(path, cached=False)
                except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
                    raise PreconditionFailed(f"{key} does not exist (expected etag {if_match})") from None
                if current != if_match:
                    raise PreconditionFailed(f"{key} was changed by another writer")
            return self._write_atomic(path, io.BytesIO(data))

    def put_stream(self, key: str, stream: ByteStream, *, content_type: str | None = None) -> str:
        return self._write_atomic(self._path(key), stream)

    def copy(self, src: str, dst: str) -> None:
        s = self._path(src)
        if not s.is_file():
            raise ObjectNotFound(f"no object {src}")
        with s.open("rb") as f:
            self._write_atomic(self._path(dst), f)

    def delete(self, key: str) -> None:
        path = self._path(key)
        try:
            path.unlink(missing_ok=True)
        except (IsADirectoryError, NotADirectoryError):
            return  # a 'folder' or a path through a file: no such object
        # drop now-empty folders up to the root
        parent = path.parent
        while parent != self.root:
            try:
                parent.rmdir()
            except OSError:
                break
            parent = parent.parent

    # --- reading -----------------------------------------------------------
    def get(self, key: str) -> tuple[bytes, str]:
        path = self._path(key)
        try:
            data = path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(f"no object {key}") from None
        return data, etag_of(data)

    def open(self, key: str) -> BinaryIO:
        try:
            return self._path(key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(f"no object {key}") from None

    def head(self, key: str) -> ObjectInfo | None:
        path = self._path(key)
        if not path.is_file():
            return None
        return self._info(key, path)

    def _info(self, key: str, path: Path) -> ObjectInfo:
        st = path.stat()
        return ObjectInfo(
            key=key,
            size=st.st_size,
            etag=self._etag_of(path),
            last_modified=datetime.fromtimestamp(st.st_mtime, tz=timezone.utc),
        )

    def _walk(self, prefix: str) -> list[tuple[str, Path]]:
        """(key, path) of every file whose key starts with `prefix`, sorted by key."""
        # walk the deepest folder the prefix names, then filter by the prefix
        base_dir = prefix.rsplit("/", 1)[0] if "/" in prefix else ""
        start = self.root / base_dir if base_dir else self.root
        if not start.is_dir():
            return []
        found: list[tuple[str, Path]] = []
        for dirpath, dirnames, filenames in os.walk(start):
            if Path(dirpath) == self.root and INTERNAL in dirnames:
                dirnames.remove(INTERNAL)
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in filenames:
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix):
                    found.append((key, Path(dirpath) / name))
        return sorted(found)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        for key, path in self._walk(prefix):
            try:
                yield self._info(key, path)
            except FileNotFoundError:
                continue  # deleted meanwhile

    def list_keys(self, prefix: str = "") -> list[str]:
        return [key for key, _ in self._walk(prefix)]

    def list_folders(self, prefix: str = "") -> list[str]:
        prefix = normalize_prefix(prefix)
        folder = self.root / prefix if prefix else self.root
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and p.name != INTERNAL)

    # --- addressing --------------------------------------------------------
    def public_url(self, key: str) -> str:
        return f"{self.public_base_url}/{quote(check_key(key))}"

    def describe(self) -> str:
        return f"local folder {self.root}"

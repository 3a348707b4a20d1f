"""The storage interface the pipeline runs on: objects under string keys.

Keys are `/`-separated, relative, without `..`. Every backend offers the same
operations, including conditional writes:

- `if_none_match=True`: create the key only if it does not exist yet;
- `if_match=<etag>`: replace the key only if it still has that etag.

A failed condition raises `PreconditionFailed`; a missing key `ObjectNotFound`.
"""

from __future__ import annotations

import hashlib
import posixpath
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO, Protocol

from ..errors import ConflictError, NotFoundError, StorageError


class ByteStream(Protocol):
    """What `Storage.put_stream` reads from: a binary file or any other object with `read`."""

    def read(self, n: int = -1, /) -> bytes: ...


class PreconditionFailed(ConflictError):
    """A conditional write found the key in another state than required."""


class ObjectNotFound(NotFoundError):
    """The key does not exist."""


@dataclass(frozen=True)
class ObjectInfo:
    """Metadata of one stored object."""

    key: str
    size: int
    etag: str
    last_modified: datetime


def etag_of(data: bytes) -> str:
    """The etag both backends give an object written in one piece: the MD5 of its bytes."""
    return hashlib.md5(data, usedforsecurity=False).hexdigest()


def plain_md5(etag: str) -> str | None:
    """The etag if it is a plain MD5 (local storage; S3 objects written in one part), else None."""
    e = etag.strip('"').lower()
    return e if len(e) == 32 and all(c in "0123456789abcdef" for c in e) else None


def check_key(key: str) -> str:
    """Return `key` if it is a safe relative key, else raise StorageError."""
    if not key or key.startswith("/") or "\\" in key:
        raise StorageError(f"invalid storage key {key!r}")
    parts = key.split("/")
    if any(p in ("", ".", "..") for p in parts[:-1]) or parts[-1] in (".", ".."):
        raise StorageError(f"invalid storage key {key!r}")
    return key


def join_key(*parts: str) -> str:
    """Join key parts with `/` (no normalisation beyond dropping empty parts)."""
    return posixpath.join(*[p.strip("/") for p in parts if p.strip("/")])


class Storage(ABC):
    """Object storage used by every pipeline step."""

    # --- writing ---------------------------------------------------------
    @abstractmethod
    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
        content_type: str | None = None,
    ) -> str:
        """Store `data` under `key`; return the new etag."""

    def put_if_unchanged(self, key: str, data: bytes, etag: str | None, *, content_type: str | None = None) -> str | None:
        """Store `data` under `key` only if it still has `etag` (still absent when `etag` is None);
        return the new etag, or None when another writer came first (read again and retry)."""
        try:
            if etag is None:
                return self.put_bytes(key, data, if_none_match=True, content_type=content_type)
            return self.put_bytes(key, data, if_match=etag, content_type=content_type)
        except PreconditionFailed:
            return None

    @abstractmethod
    def put_stream(self, key: str, stream: ByteStream, *, content_type: str | None = None) -> str:
        """Store a (possibly large) stream under `key` without holding it in memory."""

    def put_file(self, key: str, path: Path, *, content_type: str | None = None) -> str:
        """Store a local file under `key` (streamed)."""
        with path.open("rb") as f:
            return self.put_stream(key, f, content_type=content_type)

    @abstractmethod
    def copy(self, src: str, dst: str) -> None:
        """Copy object `src` to `dst` (server side where possible)."""

    @abstractmethod
    def delete(self, key: str) -> None:
        """Delete `key`; deleting a missing key is not an error."""

    def delete_many(self, keys: list[str]) -> None:
        """Delete these keys (missing ones are not an error)."""
        for k in keys:
            self.delete(k)

    def delete_prefix(self, prefix: str) -> int:
        """Delete every key under `prefix`; return how many."""
        keys = self.list_keys(prefix)
        self.delete_many(keys)
        return len(keys)

    # --- reading ---------------------------------------------------------
    @abstractmethod
    def get(self, key: str) -> tuple[bytes, str]:
        """Return the content of `key` and its etag."""

    def get_bytes(self, key: str) -> bytes:
        """Return the content of `key`."""
        return self.get(key)[0]

    @abstractmethod
    def open(self, key: str) -> BinaryIO:
        """Open `key` for streamed reading (caller closes)."""

    @abstractmethod
    def head(self, key: str) -> ObjectInfo | None:
        """Metadata of `key`, or None if it does not exist."""

    def exists(self, key: str) -> bool:
        """Whether `key` exists."""
        return self.head(key) is not None

    @abstractmethod
    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        """All objects whose key starts with `prefix`, sorted by key."""

    def list_keys(self, prefix: str = "") -> list[str]:
        """Keys starting with `prefix`, sorted (cheaper than `list` where a backend must work out etags)."""
        return [o.key for o in self.list(prefix)]

    @abstractmethod
    def list_folders(self, prefix: str = "") -> list[str]:
        """Names of the 'folders' directly under `prefix` (keys with a further `/`)."""

    # --- addressing ------------------------------------------------------
    @abstractmethod
    def public_url(self, key: str) -> str:
        """URL under which `key` is public."""

    @abstractmethod
    def describe(self) -> str:
        """Human readable location (no secrets)."""


def normalize_prefix(prefix: str) -> str:
    """`a/b` -> `a/b/`; empty stays empty."""
    prefix = prefix.strip("/")
    return prefix + "/" if prefix else ""

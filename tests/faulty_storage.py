"""A storage proxy that fails at the n-th call (fault injection), delegating otherwise."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, BinaryIO

from backoffice.errors import StorageError
from backoffice.storage.base import ObjectInfo, Storage


class InjectedFault(StorageError):
    """The failure a test injected."""


class FaultyStorage(Storage):
    """Counts storage calls; the counted call numbered `fail_at` (0-based) raises.

    `only`: count only these operations (e.g. `("put_stream",)`); all others pass.
    A failing `put_stream` reads part of its stream first, as a write that breaks
    half-way would. `written` lists the keys written successfully.
    """

    def __init__(self, inner: Storage, fail_at: int | None = None, *, only: tuple[str, ...] | None = None) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.only = only
        self.calls: list[str] = []
        self.written: list[str] = []

    def _tick(self, what: str, stream: BinaryIO | None = None) -> None:
        if self.only is not None and what.split(" ", 1)[0] not in self.only:
            return
        n = len(self.calls)
        self.calls.append(what)
        if self.fail_at is not None and n == self.fail_at:
            if stream is not None:
                stream.read(1024)
            raise InjectedFault(f"injected storage failure at call {n} ({what})")

    def __getattr__(self, name: str) -> Any:  # public_base_url etc.
        return getattr(self.inner, name)

    def put_bytes(self, key: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None,
                  content_type: str | None = None) -> str:
        self._tick(f"put_bytes {key}")
        etag = self.inner.put_bytes(key, data, if_none_match=if_none_match, if_match=if_match, content_type=content_type)
        self.written.append(key)
        return etag

    def put_stream(self, key: str, stream: BinaryIO, *, content_type: str | None = None) -> str:
        self._tick(f"put_stream {key}", stream)
        etag = self.inner.put_stream(key, stream, content_type=content_type)
        self.written.append(key)
        return etag

    def copy(self, src: str, dst: str) -> None:
        self._tick(f"copy {src} -> {dst}")
        self.inner.copy(src, dst)

    def delete(self, key: str) -> None:
        self._tick(f"delete {key}")
        self.inner.delete(key)

    def delete_prefix(self, prefix: str) -> int:
        self._tick(f"delete_prefix {prefix}")
        return self.inner.delete_prefix(prefix)

    def get(self, key: str) -> tuple[bytes, str]:
        self._tick(f"get {key}")
        return self.inner.get(key)

    def open(self, key: str) -> BinaryIO:
        self._tick(f"open {key}")
        return self.inner.open(key)

    def head(self, key: str) -> ObjectInfo | None:
        self._tick(f"head {key}")
        return self.inner.head(key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self._tick(f"list {prefix}")
        return self.inner.list(prefix)

    def list_folders(self, prefix: str = "") -> list[str]:
        self._tick(f"list_folders {prefix}")
        return self.inner.list_folders(prefix)

    def public_url(self, key: str) -> str:
        return self.inner.public_url(key)

    def describe(self) -> str:
        return "faulty " + self.inner.describe()

"""Streaming upload bodies: read from the storage backend chunk by chunk, hash on the
way and report progress; a file is never held whole in memory."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import BinaryIO

CHUNK = 1024 * 1024

Progress = Callable[[int, int], None]
"""Called with (bytes sent so far, total bytes)."""


class UploadBody:
    """A file-like request body of known length (requests sends it with Content-Length)."""

    def __init__(self, raw: BinaryIO, size: int, progress: Progress | None = None) -> None:
        self.raw = raw
        self.size = size
        self.sent = 0
        self.progress = progress
        self._md5 = hashlib.md5(usedforsecurity=False)

    def __len__(self) -> int:
        return self.size

    def read(self, n: int = -1, /) -> bytes:
        chunk = self.raw.read(CHUNK if n < 0 or n > CHUNK else n)
        if chunk:
            self._md5.update(chunk)
            self.sent += len(chunk)
            if self.progress is not None:
                self.progress(self.sent, self.size)
        return chunk

    def __iter__(self) -> Iterator[bytes]:
        while chunk := self.read(CHUNK):
            yield chunk

    def md5(self) -> str:
        """MD5 of what was read so far (all of it once the upload went through)."""
        return self._md5.hexdigest()

    def close(self) -> None:
        self.raw.close()


def md5_of_stream(raw: BinaryIO) -> str:
    """MD5 of a stream, read in chunks (closes it)."""
    h = hashlib.md5(usedforsecurity=False)
    try:
        while chunk := raw.read(CHUNK):
            h.update(chunk)
    finally:
        raw.close()
    return h.hexdigest()


class ProgressLog:
    """Turns byte counts into a few log lines per file (every `step` of the total)."""

    def __init__(self, name: str, say: Callable[[str], None], step: float = 0.25) -> None:
        self.name = name
        self.say = say
        self.step = step
        self.next_mark = step

    def __call__(self, sent: int, total: int) -> None:
        if total <= 0:
            return
        while sent / total >= self.next_mark and self.next_mark <= 1.0 + 1e-9:
            self.say(f"uploading {self.name}: {_size(sent)} of {_size(total)} ({sent * 100 // total} %)")
            self.next_mark += self.step


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "KiB", "MiB"):
        if value < 1024:
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"

"""Take files over from a sandboxed run (`scripts/sandbox.sh run --out PATH`, issue 26).

The sandbox user's `tar` packs what its run left at PATH (it reads as that user, so a link
reaches nothing the run could not read anyway); we unpack it, and take regular files and
folders only. A symbolic or hard link, a device or pipe, a name outside the target folder
(absolute, `..`) and whatever exceeds the byte budget are refused, each named with why. We
never follow a link on our side either: every folder and file is opened relative to its
parent with `O_NOFOLLOW`.
"""

from __future__ import annotations

import os
import tarfile
from collections.abc import Generator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import IO

from ..errors import InvalidArgumentError

MAX_TAKE_OVER_BYTES = 256 * 1024**2
"""Most bytes taken over from one run, all files together (a test's hand-over is at most a few MiB)."""
_CHUNK = 1024**2


@dataclass
class TakenOver:
    files: list[str] = field(default_factory=list[str])
    """Relative paths written."""
    refused: list[str] = field(default_factory=list[str])
    """`<name>: <why>`, one per entry not taken."""


def refusal(member: tarfile.TarInfo) -> str | None:
    """Why an entry of the sandbox's archive is not taken over, or None."""
    name = PurePosixPath(member.name)
    if name.is_absolute() or not name.parts or any(p in ("..", "") for p in name.parts):
        return "a name outside the folder"
    if member.issym():
        return "a symbolic link"
    if member.islnk():
        return "a hard link"
    if not (member.isreg() or member.isdir()):
        return "not a regular file or folder (a device, pipe or socket)"
    return None


@contextmanager
def _folder_fd(into: Path, parts: tuple[str, ...], create: bool) -> Generator[int]:
    """A descriptor of into/parts..., each step opened without following a link (and made if `create`)."""
    fd = os.open(into, os.O_RDONLY | os.O_DIRECTORY)
    try:
        for part in parts:
            if create:
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
            nxt = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        yield fd
    finally:
        os.close(fd)


def _write(source: IO[bytes], into: Path, parts: tuple[str, ...], budget: int) -> int:
    """Write one regular file (never through a link); the bytes written. Raises ValueError past `budget`."""
    with _folder_fd(into, parts[:-1], create=True) as parent:
        try:
            os.unlink(parts[-1], dir_fd=parent)  # a file of an earlier entry, never what a link points to
        except FileNotFoundError:
            pass
        out = os.open(parts[-1], os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o644, dir_fd=parent)
        written = 0
        try:
            while chunk := source.read(_CHUNK):
                written += len(chunk)
                if written > budget:
                    raise ValueError("over the byte budget")
                os.write(out, chunk)
        finally:
            os.close(out)
        if written > budget:
            os.unlink(parts[-1], dir_fd=parent)
        return written


def take_over(stream: IO[bytes], into: Path, max_bytes: int = MAX_TAKE_OVER_BYTES) -> TakenOver:
    """Unpack the tar `stream` into the folder `into`: regular files and folders only."""
    if not into.is_dir() or into.is_symlink():
        raise InvalidArgumentError(f"--into {into}: not a folder")
    done = TakenOver()
    left = max_bytes
    try:
        with tarfile.open(fileobj=stream, mode="r|") as archive:
            for member in archive:
                name = member.name
                why = refusal(member)
                if why is None and member.isreg() and member.size > left:
                    why = f"{member.size} bytes, more than the {max_bytes} bytes a run may hand over"
                if why is not None:
                    done.refused.append(f"{name}: {why}")
                    continue
                parts = PurePosixPath(name).parts
                try:
                    if member.isdir():
                        with _folder_fd(into, parts, create=True):
                            pass
                        continue
                    source = archive.extractfile(member)
                    assert source is not None  # a regular file
                    left -= _write(source, into, parts, left)
                    done.files.append(PurePosixPath(*parts).as_posix())
                except (OSError, ValueError) as e:
                    reason = "a link or another kind of file is in its way" if isinstance(e, OSError) else str(e)
                    done.refused.append(f"{name}: {reason}")
    except tarfile.TarError as e:
        raise InvalidArgumentError(f"the run's output is not a readable tar stream ({e})") from None
    return done


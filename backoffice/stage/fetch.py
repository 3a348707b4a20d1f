"""Get the package to a local file: a path as is, or an http(s) URL downloaded through the
one guarded fetch (`util/fetch.py`) in a stream with a progress bar and a size limit."""

from __future__ import annotations

import tempfile
from collections.abc import Collection
from pathlib import Path

from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from ..errors import DownloadError, PackageError
from ..log import logger
from ..util.fetch import TooLarge, guarded_get, is_url, iter_capped


def download(url: str, dest_dir: Path, *, max_bytes: int, timeout: float, progress: bool = True,
             allowed_hosts: Collection[str] = ()) -> Path:
    """Stream `url` into a file in `dest_dir`; refuse more than `max_bytes`, and any non-public
    address but the `allowed_hosts` of the URL itself (see `util/fetch.py`)."""
    response = guarded_get(url, timeout=timeout, allowed_hosts=allowed_hosts)
    with response:
        if response.status_code != 200:
            raise DownloadError(f"{url} answered HTTP {response.status_code}")
        declared = int(response.headers.get("Content-Length") or 0)
        if declared > max_bytes:
            raise PackageError(f"package is {declared} bytes, more than the limit of {max_bytes}")
        fd, name = tempfile.mkstemp(suffix=".zip", dir=dest_dir)
        path = Path(name)
        received = 0
        with open(fd, "wb") as out, Progress(
            TextColumn("downloading"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
            disable=not progress, transient=True,
        ) as bar:
            task = bar.add_task("download", total=declared or None)
            try:
                for chunk in iter_capped(response, max_bytes, url):
                    received += len(chunk)
                    out.write(chunk)
                    bar.update(task, advance=len(chunk))
            except TooLarge:
                raise PackageError(f"package exceeds the limit of {max_bytes} bytes") from None
    logger.info("downloaded %s (%d bytes)", url, received)
    return path


def resolve_source(source: str, work_dir: Path, *, max_bytes: int, timeout: float, progress: bool = True,
                   allowed_hosts: Collection[str] = ()) -> Path:
    """A local file holding the package."""
    if is_url(source):
        return download(source, work_dir, max_bytes=max_bytes, timeout=timeout, progress=progress, allowed_hosts=allowed_hosts)
    path = Path(source)
    if not path.is_file():
        raise PackageError(f"no such file: {source}")
    if path.stat().st_size > max_bytes:
        raise PackageError(f"package is {path.stat().st_size} bytes, more than the limit of {max_bytes}")
    return path

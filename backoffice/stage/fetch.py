"""Get the package to a local file: a path as is, or an http(s) URL downloaded
in a stream with a progress bar and a size limit."""

from __future__ import annotations

import tempfile
from pathlib import Path
from urllib.parse import urlparse

import requests
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from ..errors import DownloadError, PackageError
from ..log import logger

_CHUNK = 1024 * 1024


def is_url(source: str) -> bool:
    return "://" in source


def check_url(url: str) -> None:
    """Only http(s) URLs with a host are allowed."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise DownloadError(f"only http(s) URLs can be staged, not '{parsed.scheme}://' ({url})")
    if not parsed.hostname:
        raise DownloadError(f"URL has no host: {url}")


def download(url: str, dest_dir: Path, *, max_bytes: int, timeout: float, progress: bool = True) -> Path:
    """Stream `url` into a file in `dest_dir`; refuse more than `max_bytes`."""
    check_url(url)
    try:
        response = requests.get(url, stream=True, timeout=timeout, allow_redirects=True)
    except requests.RequestException as e:
        raise DownloadError(f"could not reach {url}: {type(e).__name__}") from None
    with response:
        if response.status_code != 200:
            raise DownloadError(f"{url} answered HTTP {response.status_code}")
        if urlparse(response.url).scheme not in ("http", "https"):
            raise DownloadError(f"{url} redirected to a non-http(s) URL")
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
                for chunk in response.iter_content(_CHUNK):
                    received += len(chunk)
                    if received > max_bytes:
                        raise PackageError(f"package exceeds the limit of {max_bytes} bytes")
                    out.write(chunk)
                    bar.update(task, advance=len(chunk))
            except requests.RequestException as e:
                raise DownloadError(f"download of {url} broke off: {type(e).__name__}") from None
    logger.info("downloaded %s (%d bytes)", url, received)
    return path


def resolve_source(source: str, work_dir: Path, *, max_bytes: int, timeout: float, progress: bool = True) -> Path:
    """A local file holding the package."""
    if is_url(source):
        return download(source, work_dir, max_bytes=max_bytes, timeout=timeout, progress=progress)
    path = Path(source)
    if not path.is_file():
        raise PackageError(f"no such file: {source}")
    if path.stat().st_size > max_bytes:
        raise PackageError(f"package is {path.stat().st_size} bytes, more than the limit of {max_bytes}")
    return path

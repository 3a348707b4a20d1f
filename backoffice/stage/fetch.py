"""Get the package to a local file: a path as is, or an http(s) URL downloaded
in a stream with a progress bar and a size limit."""

from __future__ import annotations

import ipaddress
import socket
import tempfile
from collections.abc import Collection
from pathlib import Path
from urllib.parse import urljoin, urlparse

import requests
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from ..errors import DownloadError, PackageError
from ..log import logger

_CHUNK = 1024 * 1024
MAX_REDIRECTS = 10


def is_url(source: str) -> bool:
    return "://" in source


def check_url(url: str) -> None:
    """Only http(s) URLs with a host are allowed."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise DownloadError(f"only http(s) URLs can be staged, not '{parsed.scheme}://' ({url})")
    if not parsed.hostname:
        raise DownloadError(f"URL has no host: {url}")


def check_public_address(url: str, allowed_hosts: Collection[str] = ()) -> None:
    """`url`'s host must resolve to public addresses only (no loopback, link-local, private or
    reserved one: the cloud metadata service, the runner's own services), unless the host (or
    `host:port`) is in `allowed_hosts`."""
    parsed = urlparse(url)
    host = parsed.hostname or ""
    try:
        port = parsed.port or (443 if parsed.scheme == "https" else 80)
    except ValueError:
        raise DownloadError(f"URL has an invalid port: {url}") from None
    if host in allowed_hosts or f"{host}:{port}" in allowed_hosts:
        return
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise DownloadError(f"could not resolve the host of {url}") from None
    for info in infos:
        ip = ipaddress.ip_address(str(info[4][0]).split("%", 1)[0])
        if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
            ip = ip.ipv4_mapped
        if not ip.is_global:
            raise DownloadError(f"{url} leads to {ip}, a loopback, link-local or private address; only public hosts are fetched")


def _get(url: str, timeout: float, allowed_hosts: Collection[str]) -> requests.Response:
    """GET `url`, following at most MAX_REDIRECTS redirects itself: every hop must be http(s)
    and public; a redirect never leads to an allowed non-public host (only a given URL may)."""
    check_url(url)
    check_public_address(url, allowed_hosts)
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = requests.get(url, stream=True, timeout=timeout, allow_redirects=False)
        except requests.RequestException as e:
            raise DownloadError(f"could not reach {url}: {type(e).__name__}") from None
        if not response.is_redirect:
            return response
        target = urljoin(url, response.headers.get("Location", ""))
        response.close()
        if urlparse(target).scheme not in ("http", "https"):
            raise DownloadError(f"{url} redirected to a non-http(s) URL")
        check_url(target)
        check_public_address(target)
        url = target
    raise DownloadError(f"{url}: more than {MAX_REDIRECTS} redirects")


def download(url: str, dest_dir: Path, *, max_bytes: int, timeout: float, progress: bool = True,
             allowed_hosts: Collection[str] = ()) -> Path:
    """Stream `url` into a file in `dest_dir`; refuse more than `max_bytes`, and any non-public
    address but the `allowed_hosts` of the URL itself (see `check_public_address`)."""
    response = _get(url, timeout, allowed_hosts)
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

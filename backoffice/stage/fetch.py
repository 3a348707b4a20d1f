"""Get the package to a local file: a path as is, or an http(s) URL downloaded
in a stream with a progress bar and a size limit."""

from __future__ import annotations

import ipaddress
import socket
import tempfile
from collections.abc import Collection
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlparse

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from ..errors import DownloadError, PackageError
from ..log import logger

_CHUNK = 1024 * 1024
MAX_REDIRECTS = 10
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


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
        _check_ip(str(info[4][0]), url)


def _check_ip(address: str, url: str) -> None:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address):  # an IPv4 address inside: mapped, 6to4, NAT64
        nat64 = ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF) if ip in _NAT64 else None
        ip = ip.ipv4_mapped or ip.sixtofour or nat64 or ip
    if not ip.is_global:
        raise DownloadError(f"{url} leads to {ip}, a loopback, link-local or private address; only public hosts are fetched")


def _peer_checked(base: type[HTTPConnection], allowed: Collection[str]) -> type[HTTPConnection]:
    """`base` checking the address it actually connected to: a name looked up again by the
    connection (DNS rebinding) cannot lead elsewhere than the check saw."""

    class Checked(base):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            sock = super()._new_conn()
            if self.host not in allowed and f"{self.host}:{self.port}" not in allowed:
                try:
                    _check_ip(str(sock.getpeername()[0]), f"http(s)://{self.host}:{self.port}")
                except DownloadError:
                    sock.close()
                    raise
            return sock

    return Checked


class _PublicOnly(HTTPAdapter):
    """Connections only to public addresses (or the `allowed` hosts), checked on the socket."""

    def __init__(self, allowed: Collection[str]) -> None:
        self._allowed = allowed
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        super().init_poolmanager(connections, maxsize, block, **pool_kwargs)
        http_cls, https_cls = _peer_checked(HTTPConnection, self._allowed), _peer_checked(HTTPSConnection, self._allowed)
        pools = {"http": type("Pool", (HTTPConnectionPool,), {"ConnectionCls": http_cls}),
                 "https": type("Pool", (HTTPSConnectionPool,), {"ConnectionCls": https_cls})}
        self.poolmanager.pool_classes_by_scheme = pools  # pyright: ignore[reportAttributeAccessIssue]


def _request(url: str, timeout: float, allowed: Collection[str]) -> requests.Response:
    with requests.Session() as session:
        session.trust_env = False  # no proxy from the environment: the socket's peer is the host
        adapter = _PublicOnly(allowed)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session.get(url, stream=True, timeout=timeout, allow_redirects=False)


def _get(url: str, timeout: float, allowed_hosts: Collection[str]) -> requests.Response:
    """GET `url`, following at most MAX_REDIRECTS redirects itself: every hop must be http(s)
    and public; a redirect never leads to an allowed non-public host (only a given URL may)."""
    check_url(url)
    check_public_address(url, allowed_hosts)
    allowed = allowed_hosts
    for _ in range(MAX_REDIRECTS + 1):
        try:
            response = _request(url, timeout, allowed)
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
        url, allowed = target, ()
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

"""The one guarded HTTP GET of the package: every URL that comes from outside (a package or
report URL given to staging or ingest, a collection or file host given to import-collection,
a file an imported rdf names) is fetched here and nowhere else (`tests/test_outbound.py`
proves it; `docs/security.md` lists the few clients of configured endpoints beside it).

The guard: only http(s) URLs with a host; only public addresses (no loopback, link-local,
private or reserved one, IPv4 inside IPv6 included), checked on the name and again on the
connected socket (DNS rebinding); every redirect followed here, hop by hop, under the same
check, and never to an allowed non-public host (`allowed_hosts` admits a URL as given, e.g.
the test suite's servers on 127.0.0.1, not a redirect's target); no proxy from the
environment; a timeout on every connect and read; bodies read in a stream with a byte cap."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Collection, Iterator
from typing import Any
from urllib.parse import urljoin, urlparse

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from ..errors import DownloadError

CHUNK = 1024 * 1024
MAX_REDIRECTS = 10
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")

Response = requests.Response


class TooLarge(DownloadError):
    """A body over its byte cap (read in a stream: no more than the cap plus one chunk is held)."""


def is_url(source: str) -> bool:
    return "://" in source


def check_url(url: str) -> None:
    """Only http(s) URLs with a host are allowed."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https"):
        raise DownloadError(f"only http(s) URLs are fetched, not '{parsed.scheme}://' ({url})")
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


def guarded_get(url: str, *, timeout: float, allowed_hosts: Collection[str] = ()) -> requests.Response:
    """GET `url` in a stream (the caller closes the response), following at most MAX_REDIRECTS
    redirects itself: every hop must be http(s) and public; a redirect never leads to an allowed
    non-public host (only a given URL may). DownloadError (one line) when refused or unreachable."""
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


def iter_capped(response: requests.Response, max_bytes: int, url: str, chunk: int = CHUNK) -> Iterator[bytes]:
    """The body in chunks; TooLarge once more than `max_bytes` came (or were announced), before
    they are held; DownloadError when the transfer breaks off."""
    length = response.headers.get("Content-Length", "")
    declared = int(length) if length.isdigit() else 0
    if declared > max_bytes:
        raise TooLarge(f"{url} is {declared} bytes, more than the limit of {max_bytes}")
    received = 0
    try:
        for part in response.iter_content(chunk):
            received += len(part)
            if received > max_bytes:
                raise TooLarge(f"{url} is larger than the limit of {max_bytes} bytes")
            yield part
    except requests.RequestException as e:
        raise DownloadError(f"the transfer of {url} broke off: {type(e).__name__}") from None


def get_bytes(url: str, *, max_bytes: int, timeout: float, allowed_hosts: Collection[str] = (),
              missing: Collection[int] = ()) -> bytes | None:
    """A small body in memory, read in a stream with a cap; None for a status in `missing`
    (e.g. 404); DownloadError for any other status but 200."""
    with guarded_get(url, timeout=timeout, allowed_hosts=allowed_hosts) as response:
        if response.status_code in missing:
            return None
        if response.status_code != 200:
            raise DownloadError(f"{url} answered HTTP {response.status_code}")
        return b"".join(iter_capped(response, max_bytes, url, chunk=64 * 1024))

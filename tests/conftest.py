"""Shared fixtures: a network guard, a local moto S3 server and the two storage backends."""

from __future__ import annotations

import ipaddress
import socket
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backoffice.storage.base import Storage
from backoffice.storage.local import LocalStorage

pytest_plugins = ["backoffice_fixtures", "browser_fixtures"]

# --------------------------------------------------------------------------
# network guard
# --------------------------------------------------------------------------

_real_connect = socket.socket.connect
_real_connect_ex = socket.socket.connect_ex
_real_create_connection = socket.create_connection


def _is_loopback_host(host: Any) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if not isinstance(host, str):
        return False
    host = host.strip("[]").split("%", 1)[0]  # "[::1]", "fe80::1%eth0"
    if host.lower() in ("localhost", "localhost.localdomain", "ip6-localhost"):
        return True
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return False  # any other host name would need DNS: not allowed
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def _allowed(family: int, address: Any) -> bool:
    if family == getattr(socket, "AF_UNIX", object()):
        return True
    if isinstance(address, (str, bytes)):  # a path: AF_UNIX-like
        return family not in (socket.AF_INET, socket.AF_INET6)
    if isinstance(address, tuple) and address:
        return _is_loopback_host(address[0])
    return False


def _guarded_connect(self: socket.socket, address: Any) -> None:
    if not _allowed(self.family, address):
        raise RuntimeError(f"unplanned network access to {address!r}")
    return _real_connect(self, address)


def _guarded_connect_ex(self: socket.socket, address: Any) -> int:
    if not _allowed(self.family, address):
        raise RuntimeError(f"unplanned network access to {address!r}")
    return _real_connect_ex(self, address)


def _guarded_create_connection(address: Any, *args: Any, **kwargs: Any) -> socket.socket:
    # checked before the DNS lookup create_connection would do
    if not (isinstance(address, tuple) and address and _is_loopback_host(address[0])):
        raise RuntimeError(f"unplanned network access to {address!r}")
    return _real_create_connection(address, *args, **kwargs)


@pytest.fixture(autouse=True)
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any connection to a non-loopback address fails (in every thread)."""
    monkeypatch.setattr(socket.socket, "connect", _guarded_connect)
    monkeypatch.setattr(socket.socket, "connect_ex", _guarded_connect_ex)
    monkeypatch.setattr(socket, "create_connection", _guarded_create_connection)


# --------------------------------------------------------------------------
# fake AWS + moto server
# --------------------------------------------------------------------------

_FAKE_AWS_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_SECURITY_TOKEN": "testing",
    "AWS_SESSION_TOKEN": "testing",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": "/nonexistent/aws-config",
    "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
}


@pytest.fixture(scope="session", autouse=True)
def fake_aws_credentials() -> Iterator[None]:
    """boto3 only ever sees fake credentials and never asks instance metadata."""
    with pytest.MonkeyPatch.context() as mp:
        for name, value in _FAKE_AWS_ENV.items():
            mp.setenv(name, value)
        mp.delenv("AWS_PROFILE", raising=False)
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        mp.delenv("AWS_ENDPOINT_URL_S3", raising=False)
        yield


class _Serialized:
    """WSGI middleware: one request at a time."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ: Any, start_response: Any) -> Any:
        with self.lock:
            result = self.app(environ, start_response)
            # materialise the body inside the lock (moto answers with complete bodies)
            try:
                return [b"".join(result)]
            finally:
                close = getattr(result, "close", None)
                if close is not None:
                    close()


@pytest.fixture(scope="session")
def moto_server(fake_aws_credentials: None) -> Iterator[str]:
    """Endpoint URL of a moto S3 server on a free loopback port."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    # moto checks If-Match/If-None-Match and then writes without holding a lock, and
    # concurrent overwrites make it fail with 500s ("I/O operation on closed file"):
    # under contention it loses updates that real S3 would reject. Serving one request
    # at a time gives the atomic per-request behaviour of S3; clients still race freely.
    wsgi_server: Any = server._server  # pyright: ignore[reportPrivateUsage]
    wsgi_server.app = _Serialized(wsgi_server.app)
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture
def s3_storage(moto_server: str) -> Storage:
    """An S3Storage on a fresh bucket of the moto server."""
    import boto3

    from backoffice.storage.s3 import S3Storage

    bucket = f"test-{uuid.uuid4().hex[:24]}"
    client = boto3.client(  # pyright: ignore[reportUnknownMemberType]
        "s3",
        endpoint_url=moto_server,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=bucket)
    return S3Storage(
        bucket=bucket,
        prefix="collection-test",
        endpoint_url=moto_server,
        access_key_id="testing",
        secret_access_key="testing",
    )


@pytest.fixture
def local_storage(tmp_path: Path) -> Storage:
    """A LocalStorage in a fresh folder."""
    return LocalStorage(tmp_path / "store", "http://127.0.0.1:8765")


@pytest.fixture(params=["local", "s3"])
def storage(request: pytest.FixtureRequest) -> Storage:
    """Each backend in turn."""
    return request.getfixturevalue(f"{request.param}_storage")

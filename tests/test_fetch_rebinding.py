"""Staging from a URL against DNS rebinding: a name that answers a public address to the
check and 127.0.0.1 to the connection (a hostile name server's short TTL) is refused where
the connection is made, not only where the name was first looked up."""

from __future__ import annotations

import socket
import zipfile
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.errors import DownloadError
from backoffice.stage.stage import stage


def test_a_name_rebound_to_loopback_after_the_check_is_refused(local_ctx: Context, settings_factory: Any,
                                                               file_server: tuple[Path, str], monkeypatch: pytest.MonkeyPatch) -> None:
    folder, base = file_server
    port = base.rsplit(":", 1)[1]
    with zipfile.ZipFile(folder / "p.zip", "w") as zf:
        zf.writestr("rdf.yaml", 'type: model\nname: m\nversion: "1.0"\n')
    real = socket.getaddrinfo
    answers = iter(["93.184.216.34"])  # the first answer is public, every later one loopback

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host == "rebind.example":
            ip = next(answers, "127.0.0.1")
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (ip, int(port)))]
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    strict = Context(settings_factory(download_allowed_hosts=()), storage=local_ctx.storage)
    before = sorted(local_ctx.storage.list_keys(""))
    with pytest.raises(DownloadError, match="127.0.0.1, a loopback"):
        stage(strict, f"http://rebind.example:{port}/p.zip", uploader="jane@example.org", progress=False)
    assert sorted(local_ctx.storage.list_keys("")) == before


def test_an_allowed_host_still_connects(local_ctx: Context, file_server: tuple[Path, str]) -> None:
    folder, base = file_server
    with zipfile.ZipFile(folder / "p.zip", "w") as zf:
        zf.writestr("rdf.yaml", 'type: model\nname: m\nversion: "1.0"\n')
    assert stage(local_ctx, f"{base}/p.zip", uploader="jane@example.org", progress=False).version == "1.0"


@pytest.mark.parametrize("url", ["http://0.0.0.0/p.zip", "http://2130706433/p.zip", "http://0x7f.1/p.zip", "http://[::1]/p.zip",
                                 "http://[::ffff:127.0.0.1]/p.zip", "http://[::ffff:169.254.169.254]/p.zip",
                                 "http://[64:ff9b::a9fe:a9fe]/p.zip", "http://[2002:7f00:1::]/p.zip", "http://localhost/p.zip"])
def test_every_spelling_of_a_non_public_address_is_refused(url: str) -> None:
    """Decimal and hex IPv4, IPv4-mapped IPv6, NAT64 (64:ff9b::/96) and 6to4 (2002::/16)
    addresses that embed a loopback or link-local IPv4 address, names resolving to 127.0.0.1."""
    from backoffice.util.fetch import check_public_address

    with pytest.raises(DownloadError, match="loopback, link-local or private"):
        check_public_address(url)

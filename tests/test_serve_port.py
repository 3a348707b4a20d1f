"""`backoffice serve --port P` on an index generated for another port: the links of collection.json,
id_map.json and the dashboard's files name P and resolve, and the files they name are served byte
for byte (their sha256 are the index's)."""

from __future__ import annotations

import hashlib
import json
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from backoffice.context import Context
from backoffice.serve.server import Rebase, rebase_for
from cli_runner import RunCli, cli_environ
from import_helpers import RUNNING

pytest_plugins = ["backoffice_fixtures"]


def test_rebase_only_local_links_of_the_index_files() -> None:
    assert rebase_for("http://127.0.0.1:8765", "http://127.0.0.1:8765") is None
    assert rebase_for("https://uk1s3.embassy.ebi.ac.uk/public-datasets", "http://127.0.0.1:9000") is None
    assert rebase_for(None, "http://127.0.0.1:9000") is None
    r = rebase_for("http://127.0.0.1:8765", "http://127.0.0.1:9000")
    assert r == Rebase("http://127.0.0.1:8765", "http://127.0.0.1:9000")
    assert [k for k in ("collection.json", "id_map.json", "dashboard/details/a-b.json", "a-b/versions.json",
                        "a-b/v0/files/rdf.json", "a-b/v0/reports/x_1.json", "a-b/v0/files/rdf.yaml") if r.applies(k)] == [
        "collection.json", "id_map.json", "dashboard/details/a-b.json", "a-b/versions.json"]
    assert r.apply(b'{"u": "http://127.0.0.1:8765", "v": "http://127.0.0.1:8765/a/rdf.yaml", "w": "http://127.0.0.1:87650/x"}') == (
        b'{"u": "http://127.0.0.1:9000", "v": "http://127.0.0.1:9000/a/rdf.yaml", "w": "http://127.0.0.1:87650/x"}')


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as r:  # noqa: S310 - our own server on 127.0.0.1
        return r.read()


@pytest.fixture()
def served(local_ctx: Context, run_cli: RunCli, tmp_path: Path) -> Iterator[str]:
    s = local_ctx.settings
    # the sample's one resource whose rdf upstream could not read is refused (exit 18); the rest is held
    assert run_cli(["import-collection", str(RUNNING), "--no-files"], settings=s).returncode == 18
    assert run_cli(["generate-collection-json"], settings=s).returncode == 0  # links for the default port, 8765
    port = _free_port()
    env = cli_environ(s)
    env.pop("BACKOFFICE_PUBLIC_BASE_URL", None)
    proc = subprocess.Popen([sys.executable, "-m", "backoffice", "serve", "--port", str(port)], env=env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):  # until it listens (or has died)
            if proc.poll() is not None:
                raise AssertionError(proc.communicate()[1])
            with socket.socket() as c:
                if c.connect_ex(("127.0.0.1", port)) == 0:
                    break
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_links_of_the_index_resolve_on_the_served_port(served: str) -> None:
    collection = json.loads(_get(served + "/collection.json"))
    assert collection["config"]["url_root"] == served
    id_map = json.loads(_get(served + "/id_map.json"))
    assert id_map and all(v["source"].startswith(served + "/") for v in id_map.values())
    for key in ("affable-shark", "bioimage-io/affable-shark", "romantic-shark/v0"):
        rdf = _get(id_map[key]["source"])
        assert hashlib.sha256(rdf).hexdigest() == id_map[key]["sha256"]  # files are served as they are
    shark = next(e for e in collection["collection"] if e["id"] == "affable-shark")
    assert _get(shark["rdf_source"]) == _get(id_map["affable-shark"]["source"])
    detail = _get(served + "/dashboard/details/affable-shark.json").decode()
    assert "127.0.0.1:8765" not in detail and served in detail
    assert b"127.0.0.1:8765" not in _get(served + "/affable-shark/versions.json") + _get(served + "/all_versions.json")

"""Every workflow run end to end under act, offline (see tests/act_harness.py), against the
suite's own services: the embedded local store (moto for one run) served by `backoffice
serve` for the public reads, the suite's GitHub API and Zenodo servers, a file server
for packages. Each run is checked by what it left in the store and on the servers.

The runs build on each other in file order (one store for the module): stage → test →
finish makes the draft that publish publishes, and so on. Workflows run one at a time.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from act_harness import Harness, harness_session, missing_tools
from github_server import FakeGitHub, serve_github

pytestmark = pytest.mark.slow

if (_why := missing_tools()) is not None:
    pytest.skip(_why, allow_module_level=True)

UPLOADER = "github|10000001"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


def _serve(server: ThreadingHTTPServer) -> str:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


@dataclass
class World:
    """The harness and the services its runs use."""

    act: Harness
    store: Any
    """LocalStorage of the store the jobs write (`BACKOFFICE_LOCAL_ROOT`)."""
    public: str
    """`backoffice serve`'s URL of that store."""
    files: Path
    """Folder the package file server serves."""
    files_url: str
    github: FakeGitHub

    def document(self, concept_id: str) -> dict[str, Any]:
        from backoffice.records.concept import load_concept  # noqa: PLC0415

        return load_concept(self.store, concept_id)

    def read_json(self, key: str) -> Any:
        return json.loads(self.store.get(key))


@pytest.fixture(scope="module")
def world(packages: dict[str, Path]) -> Iterator[World]:
    from backoffice.serve.server import make_server
    from backoffice.storage.local import LocalStorage

    with harness_session() as act, serve_github() as github:
        files = act.root / "files"
        files.mkdir()
        file_server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(files)))
        files_url = _serve(file_server)
        store_root = act.root / "store"
        store_root.mkdir()
        store = LocalStorage(store_root, "http://127.0.0.1:0")
        public_server = make_server(store, port=0)
        public = _serve(public_server)
        store = LocalStorage(store_root, public)
        hosts = [u.removeprefix("http://") for u in (public, files_url)]
        act.variables.update({"BACKOFFICE_STORAGE": "local", "PUBLIC_BASE_URL": public, "TEST_ENV_MANAGER": "current"})
        act.environ.update({
            "BACKOFFICE_LOCAL_ROOT": str(store_root),
            "BACKOFFICE_DOWNLOAD_ALLOWED_HOSTS": json.dumps(hosts),
            "BACKOFFICE_GITHUB_API_URL": github.base,
        })
        act.secrets["GITHUB_TOKEN"] = "act-fake-token"
        from backoffice.demo.packages import build_model_package

        # one weight format: one test leg per run (act runs a matrix's legs at once)
        build_model_package(files / "model.zip", formats=("torchscript",))
        for name in ("model_v2", "dataset"):
            (files / f"{name}.zip").write_bytes(packages[name].read_bytes())
        try:
            yield World(act, store, public, files, files_url, github)
        finally:
            for server in (file_server, public_server):
                server.shutdown()
                server.server_close()
            total = sum(s for _, s in act.runs)
            print("\nact runs: " + ", ".join(f"{w} {s:.0f} s" for w, s in act.runs) + f"; total {total:.0f} s")


def test_stage_tests_and_finishes_a_draft(world: World) -> None:
    result = world.act.run("stage.yaml", {
        "package_url": f"{world.files_url}/model.zip", "concept_id": "", "uploader": UPLOADER, "environment": "sandbox"})
    assert result.returncode == 0, result.tail()

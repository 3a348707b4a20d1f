"""End to end on both backends: a package staged from an HTTP URL on 127.0.0.1 goes
through validation, tests in the current environment and publication into
collection.json; then `bioimageio test <concept>` finds and tests it by id."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from backoffice.context import Context
from backoffice.index.generate import generate_index
from backoffice.review.publish import publish
from backoffice.serve.server import serve_in_thread
from backoffice.stage.stage import stage
from backoffice.storage.local import LocalStorage
from backoffice.dynamic.run import run_weight_format_test
from backoffice.dynamic.environments import current_env
from backoffice.validate.static import validate_format

REPO = Path(__file__).resolve().parents[1]
REVIEWER = "github|10000001"


@pytest.mark.slow
def test_url_to_collection_json_and_bioimageio_test_by_id(
    ctx: Context, packages: dict[str, Path], file_server: tuple[Path, str], tmp_path: Path
) -> None:
    folder, base = file_server
    shutil.copy(packages["model"], folder / "model.zip")
    # index URLs point at `backoffice serve` over the store (for S3 too: moto's bucket is private)
    server, url = serve_in_thread(ctx.storage)
    ctx.storage.public_base_url = url  # type: ignore[attr-defined]
    try:
        staged = stage(ctx, f"{base}/model.zip", uploader="github|4242", progress=False)
        cid = staged.concept_id
        static = validate_format(ctx, cid)
        assert static.status == "valid-format"
        assert static.matrix == {"include": [{"weight_format": wf, "index": str(i)} for i, wf in enumerate(("onnx", "pytorch_state_dict", "torchscript"))]}
        for wf in static.dynamic_formats:
            outcome = run_weight_format_test(ctx, cid, "draft", wf, current_env())
            assert outcome.status == "passed", outcome.first_error
            assert outcome.device == "CPU"
        assert ctx.concepts.get(cid).require_draft().status.value == "awaiting review"
        result = publish(ctx, cid, REVIEWER)
        assert result.version == "1.0"
        generate_index(ctx)

        collection = json.loads(ctx.storage.get_bytes("collection.json"))
        (entry,) = collection["collection"]
        assert entry["id"] == cid and entry["version"] == "1.0"
        assert entry["test_summary"]["status"] == "passed"
        assert {b["label"] for b in entry["test_summary"]["badges"]} >= {
            "bioimageio.core_0.11.0_onnx", "bioimageio.core_0.11.0_pytorch_state_dict", "bioimageio.core_0.11.0_torchscript"}
        id_map_url = ctx.storage.public_url("id_map.json")
        with urllib.request.urlopen(id_map_url) as r:  # the index resolves over HTTP
            id_map = json.loads(r.read())
        assert id_map[cid]["source"] == entry["rdf_source"]
        with urllib.request.urlopen(entry["rdf_source"]) as r:
            assert f"id: {cid}" in r.read().decode()

        env = {**os.environ, "BIOIMAGEIO_ID_MAP": id_map_url, "BIOIMAGEIO_COLLECTION_HTTP_PATTERN": "",
               "BIOIMAGEIO_CACHE_PATH": str(tmp_path / "cache")}
        bioimageio = Path(sys.executable).with_name("bioimageio")
        r = subprocess.run([str(bioimageio), "test", cid, "--summary", str(tmp_path / "summary.json")],
                           env=env, capture_output=True, text=True, timeout=600, cwd=tmp_path)
        assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
        summary = json.loads((tmp_path / "summary.json").read_text())
        assert summary["status"] == "passed" and summary["id"] == cid
    finally:
        server.shutdown()
        server.server_close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_serve_command_serves_the_store(tmp_path: Path) -> None:
    root = tmp_path / "store"
    LocalStorage(root, "http://x").put_bytes("collection.json", b'{"collection": []}')
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "BACKOFFICE_LOCAL_ROOT": str(root)}
    proc = subprocess.Popen([sys.executable, "-m", "backoffice", "serve", "--port", str(port)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=tmp_path)
    try:
        deadline = time.time() + 30
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/collection.json") as r:
                    assert json.loads(r.read()) == {"collection": []}
                break
            except OSError:
                if time.time() > deadline:
                    raise
                time.sleep(0.2)
        with pytest.raises(urllib.error.HTTPError) as info:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/missing.json")
        assert info.value.code == 404
    finally:
        proc.terminate()
        proc.wait(timeout=10)

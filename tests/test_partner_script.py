"""A real partner-style `script` check (slow): bioimageio.core at another release than
ours, installed from the package index into its own venv (built once per test run in the
session-wide env cache, with torch from the local wheel), checks the project's own tiny
model served over HTTP on 127.0.0.1; its reports are ingested and show up in
collection.json next to our own bioimageio.core report, with scores."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import zipfile
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from backoffice.context import Context
from backoffice.index.generate import generate_index
from backoffice.partners.ingest import ingest
from backoffice.partners.ledger import Ledger
from backoffice.partners.script import partner_env, run_script
from backoffice.partners.service import plan_now
from backoffice.records import keys
from backoffice.records.concept import ConceptRecord, ResourceSummary, VersionRecord
from backoffice.records.report_names import current_core_version
from backoffice.settings import Settings
from backoffice.storage.local import LocalStorage
from backoffice.dynamic.run import run_weight_format_test
from backoffice.dynamic.environments import current_env

REPO = Path(__file__).resolve().parents[1]
CID = "clever-fox"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


@pytest.fixture()
def served_ctx(tmp_path: Path, settings_factory, env_cache: Path) -> Iterator[Context]:  # noqa: ANN001
    root = tmp_path / "store"
    root.mkdir()
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(root)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    settings: Settings = settings_factory(local_root=root, env_cache_dir=env_cache)
    try:
        yield Context(settings, storage=LocalStorage(root, f"http://127.0.0.1:{server.server_address[1]}"))
    finally:
        server.shutdown()
        server.server_close()


def _publish_tiny_model(ctx: Context, folder: Path) -> None:
    """The project's tiny model as a published version (files put where publishing puts them)."""
    from backoffice.demo.packages import build_model_package

    package = build_model_package(folder / "tiny.zip")
    prefix = keys.version_files(CID, "1.0")
    with zipfile.ZipFile(package) as z:
        for name in z.namelist():
            ctx.storage.put_bytes(prefix + name, z.read(name))
        rdf = z.read("rdf.yaml")
    ctx.concepts.save(ConceptRecord(id=CID, type="model", versions={"1.0": VersionRecord(
        version="1.0", rdf_sha256=hashlib.sha256(rdf).hexdigest(),
        summary=ResourceSummary(name="tiny", weight_formats=["onnx", "pytorch_state_dict", "torchscript"]))}))


@pytest.mark.slow
def test_script_partner_checks_the_tiny_model_and_its_reports_reach_collection_json(served_ctx: Context, tmp_path: Path) -> None:
    ctx = served_ctx
    _publish_tiny_model(ctx, tmp_path)
    run_weight_format_test(ctx, CID, "1.0", "onnx", current_env())  # our own release's report

    todo = plan_now(ctx).script_pending["core-previous"]
    assert [(c.concept_id, c.version) for c in todo] == [(CID, "1.0")]
    resources = tmp_path / "resources.json"
    resources.write_text(json.dumps([c.entry() for c in todo]))
    partner = ctx.config.partner("core-previous")

    started = time.monotonic()
    env = partner_env(partner, "venv", ctx.settings.env_cache_dir)
    built = time.monotonic() - started
    assert env.python is not None, env.error
    started = time.monotonic()
    done = run_script(partner, env, resources, tmp_path / "out", REPO, ctx.settings.secret_values())
    checked = time.monotonic() - started
    print(f"\npartner environment: {built:.1f} s ({env.description}); check of 1 model: {checked:.1f} s")
    assert done.result.ok, done.result.tail(40)
    (report_file,) = done.reports
    report = json.loads(report_file.read_text())
    release = report["tool_version"]
    assert report["tool"] == "bioimageio.core" and release != current_core_version() and release.startswith("0.10.")
    assert report["rdf_sha256"] == todo[0].sha256

    ingest(ctx, "core-previous", [str(tmp_path / "out")])
    assert ("clever-fox", "1.0") in Ledger(ctx.storage, "core-previous").state().answered
    assert "core-previous" not in plan_now(ctx).script_pending  # answered: not checked again
    generate_index(ctx)
    entry = json.loads(ctx.storage.get_bytes("collection.json"))["collection"][0]
    core = entry["compatibility"]["reports"]["bioimageio.core"]
    assert set(core) == {current_core_version(), release}
    assert core[current_core_version()]["status"] == "passed"
    assert core[release]["status"] == report["status"]
    if report["status"] == "failed":  # the older release cannot read this format: it says why
        assert core[release]["error"]
    assert entry["compatibility"]["scores"]["tools"]["bioimageio.core"] == 1.0  # the newest release counts
    assert f"bioimageio.core_{current_core_version()}-compatible" in entry["tags"]
    overview = json.loads(ctx.storage.get_bytes("compatibility.json"))["tools"]["bioimageio.core"]
    assert [p["id"] for p in overview["partners"]] == ["core-previous"] and overview["works"][0]["id"] == CID

"""`import-collection` with files: an index in the running collection's format describing a
tiny package the suite builds, served on 127.0.0.1. Files are mirrored and checked against
the sha256s the rdf declares; one declared wrongly stays remote with its reason; a
`--no-files` import is marked and a later run mirrors what is missing; an unreachable host
keeps the version remote; bioimageio.spec loads the imported rdf by its legacy DOI through
our served id_map."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import zipfile
from datetime import datetime
from pathlib import Path

import pytest
import yaml

from backoffice.context import Context
from backoffice.importer.run import import_collection
from backoffice.index.generate import generate_index
from backoffice.serve.server import serve_in_thread
from import_helpers import AT, store_state

pytest_plugins = ["backoffice_fixtures"]

CID = "tiny-fish"
WRONG = "sample_output.png"
CONCEPT_DOI, VERSION_DOI = "10.5281/zenodo.900", "10.5281/zenodo.901"


@pytest.fixture(scope="module")
def package(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from backoffice.demo.packages import build_model_package

    return build_model_package(tmp_path_factory.mktemp("pkg") / "m.zip", formats=("onnx",), concept_id=CID, version="1.0")


def _publish_running(package: Path, served: Path, base_url: str) -> tuple[Path, dict[str, bytes]]:
    """The running collection's layout for one resource whose files are served at `base_url`."""
    files = served / "bioimage-io" / "artifacts" / CID / "files"
    files.mkdir(parents=True)
    contents: dict[str, bytes] = {}
    with zipfile.ZipFile(package) as z:
        for name in z.namelist():
            contents[name] = z.read(name)
    rdf = yaml.safe_load(contents["rdf.yaml"])
    for t in rdf["outputs"]:
        if t["sample_tensor"]["source"] == WRONG:
            t["sample_tensor"]["sha256"] = "0" * 64  # declared wrongly
    contents["rdf.yaml"] = yaml.safe_dump(rdf, sort_keys=False).encode()
    for name, data in contents.items():
        (files / name).write_bytes(data)
    sha = hashlib.sha256(contents["rdf.yaml"]).hexdigest()
    running = served / "collection"
    version_dir = running / "reports" / "bioimage-io" / CID / "v0"
    (version_dir / "reports").mkdir(parents=True)
    report = {"status": "passed", "score": 1.0, "error": None}
    (version_dir / "summary.json").write_text(json.dumps({"rdf_content": rdf, "rdf_yaml_sha256": sha, "status": "passed",
                                                          "tests": {"ilastik": {"1.4.1": report}}}))  # names the reports of a URL source
    (version_dir / "reports" / "ilastik_1.4.1.json").write_text(json.dumps(report))
    index = {"items": [{"id": f"bioimage-io/{CID}", "type": "model", "versions": [
        {"version": "v0", "sha256": sha, "created_at": "2025-07-01T22:53:02Z",
         "source": f"{base_url}/bioimage-io/artifacts/{CID}/files/rdf.yaml?version=v0"}]}]}
    (running / "index.json").write_text(json.dumps(index))
    gitops = served / "gitops" / "collection.json"
    gitops.parent.mkdir()
    gitops.write_text(json.dumps({"collection": [{"id": CONCEPT_DOI, "nickname": CID, "nickname_icon": "🐟", "owners": [5],
                                                  "download_count": 7, "versions": ["901"], "type": "model"}]}))
    return running, contents


def _import(ctx: Context, *sources: str, files: bool = True):  # noqa: ANN202
    return import_collection(ctx, list(sources), files=files, at=datetime.fromisoformat(AT), workers=4)


def test_files_mirrored_and_checked(local_ctx: Context, package: Path, file_server: tuple[Path, str]) -> None:
    ctx = local_ctx
    served, base = file_server
    running, contents = _publish_running(package, served, base)
    [r] = _import(ctx, f"{base}/collection", str(served / "gitops" / "collection.json"))  # the running collection by URL
    assert [o.action for o in r.outcomes] == ["create"] and r.outcomes[0].reports == 1
    v0 = ctx.concepts.get(CID).versions["v0"]
    assert v0.legacy is not None and v0.legacy.rdf_exact
    assert v0.rdf_sha256 == v0.legacy.source_sha256 == hashlib.sha256(contents["rdf.yaml"]).hexdigest()
    for name, data in contents.items():
        key = f"{CID}/v0/files/{name}"
        if name == WRONG:
            assert not ctx.storage.exists(key)
        else:
            assert ctx.storage.get_bytes(key) == data, name
    assert list(v0.legacy.remote_files) == [WRONG]
    reason = v0.legacy.remote_files[WRONG].reason
    assert "sha256" in reason and "differs from the rdf's 000000000000" in reason and "\n" not in reason
    before = store_state(ctx.storage)
    [again] = _import(ctx, f"{base}/collection")  # the wrong file is still wrong: nothing changes
    assert store_state(ctx.storage) == before and again.outcomes[0].action == "unchanged"


def test_no_files_then_a_later_run_mirrors(local_ctx: Context, package: Path, file_server: tuple[Path, str], run_cli) -> None:  # noqa: ANN001
    ctx = local_ctx
    served, base = file_server
    running, contents = _publish_running(package, served, base)
    _import(ctx, str(running), files=False)
    v0 = ctx.concepts.get(CID).versions["v0"]
    assert v0.legacy and not v0.legacy.rdf_exact and len(v0.legacy.remote_files) == len(contents) - 1
    status = run_cli(["status", CID], settings=ctx.settings)
    assert status.returncode == 0 and f"{len(contents) - 1} files remote" in status.stdout and "--no-files" in status.stdout
    (served / "bioimage-io" / "artifacts" / CID / "files" / "test_input.npy").write_bytes(b"broken")  # changed on the host
    [r] = _import(ctx, str(running))
    assert r.outcomes[0].action == "mirror"
    v0 = ctx.concepts.get(CID).versions["v0"]
    assert v0.legacy and v0.legacy.rdf_exact and v0.rdf_sha256 == v0.legacy.source_sha256
    assert sorted(v0.legacy.remote_files) == sorted([WRONG, "test_input.npy"])
    assert ctx.storage.get_bytes(f"{CID}/v0/files/weights.onnx") == contents["weights.onnx"]
    status = run_cli(["status", CID], settings=ctx.settings)
    assert "2 files remote" in status.stdout and "test_input.npy: sha256" in status.stdout


def test_unreachable_host_keeps_the_version_remote(local_ctx: Context, package: Path, tmp_path: Path) -> None:
    ctx = local_ctx
    running, _ = _publish_running(package, tmp_path / "offline", "http://127.0.0.1:9")  # nothing listens on port 9
    [r] = _import(ctx, str(running))
    assert r.outcomes[0].action == "create"
    v0 = ctx.concepts.get(CID).versions["v0"]
    assert v0.legacy and not v0.legacy.rdf_exact and v0.legacy.remote_files
    assert all("host unreachable" in f.reason for f in v0.legacy.remote_files.values())


def test_bioimageio_spec_loads_by_legacy_doi(local_ctx: Context, package: Path, file_server: tuple[Path, str], tmp_path: Path) -> None:
    ctx = local_ctx
    served, base = file_server
    running, _ = _publish_running(package, served, base)
    _import(ctx, str(running), str(served / "gitops" / "collection.json"))
    server, url = serve_in_thread(ctx.storage)
    ctx.storage.public_base_url = url  # type: ignore[attr-defined]
    try:
        generate_index(ctx)
        id_map = json.loads(ctx.storage.get_bytes("id_map.json"))
        assert id_map[CONCEPT_DOI] == id_map[VERSION_DOI] == id_map[f"bioimage-io/{CID}"] == id_map[f"{CID}/v0"]
        env = {**os.environ, "BIOIMAGEIO_ID_MAP": ctx.storage.public_url("id_map.json"),
               "BIOIMAGEIO_COLLECTION_HTTP_PATTERN": "", "BIOIMAGEIO_CACHE_PATH": str(tmp_path / "cache")}
        code = ("import sys; from bioimageio.spec import load_description; "
                "d = load_description(sys.argv[1], perform_io_checks=False); "
                "print(type(d).__name__, d.validation_summary.status)")
        for alias in (VERSION_DOI, CONCEPT_DOI):
            r = subprocess.run([sys.executable, "-c", code, alias], env=env, capture_output=True, text=True, timeout=300)
            assert r.returncode == 0 and r.stdout.split()[-2:] == ["ModelDescr", "valid-format"], alias + r.stdout[-2000:] + r.stderr[-2000:]
    finally:
        server.shutdown()
        server.server_close()


def test_an_imported_concept_gets_new_versions_through_stage(local_ctx: Context, package: Path, file_server: tuple[Path, str],
                                                            tmp_path: Path) -> None:
    from backoffice.demo.packages import build_model_package
    from backoffice.stage.stage import stage

    ctx = local_ctx
    served, base = file_server
    running, _ = _publish_running(package, served, base)
    _import(ctx, str(running), str(served / "gitops" / "collection.json"))
    owner = ctx.concepts.get(CID).owners[0]
    assert owner == "zenodo|5"  # the tiny package's rdf names no uploader e-mail: the GitOps owner
    update = build_model_package(tmp_path / "update.zip", formats=("onnx",), concept_id=CID, version=None)
    staged = stage(ctx, str(update), concept_id=CID, uploader="github|10000001", progress=False)  # a reviewer
    assert staged.concept_id == CID and staged.version == "v1"  # the version after the imported `v0`
    assert ctx.concepts.get(CID).require_draft().summary.version == "v1"

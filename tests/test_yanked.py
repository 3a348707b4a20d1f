"""Yanked versions (`collection/<id>.yaml` `yanked_versions`): listed with their reason and
loadable by exact id and version DOI, never "latest"; and the dashboard's downloads plot."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from access_logs import D1, log_line

from backoffice.config.curation import CurationDecl, load_curation_file
from backoffice.context import Context
from backoffice.downloads.count import count_downloads
from backoffice.errors import ConfigError
from backoffice.index.generate import generate_index
from backoffice.records import keys
from backoffice.records.concept import ConceptRecord, ConceptStore, ResourceSummary, VersionRecord
from backoffice.serve.server import make_server
from backoffice.settings import Settings
from backoffice.storage.local import LocalStorage
from config_paths import TEST_CONFIG

CID = "affable-shark"
REASON = "wrong normalisation in the preprocessing; use version 2"
DECL = f"""yanked_versions:
  - version: "3"
    reason: "{REASON}"
blocked_versions:
  - version: "0"
    reason: leaked data
"""


def _store(tmp: Path, port: int) -> Context:
    storage = LocalStorage(tmp / "store", f"http://127.0.0.1:{port}")
    from backoffice_fixtures import REPO

    (tmp / "collection").mkdir()
    (tmp / "collection" / f"{CID}.yaml").write_text(DECL)
    settings = Settings(local_root=tmp / "store", config_path=TEST_CONFIG,  # type: ignore[call-arg]
                        collection_dir=tmp / "collection", env_templates_dir=REPO / "env_templates",
                        downloads_hash_key="yank-test-hash-key-0123456789")  # type: ignore[arg-type]
    ctx = Context(settings, storage=storage)
    versions: dict[str, VersionRecord] = {}
    for v in ("0", "1", "2", "3"):
        rdf = f"type: model\nname: shark\nversion: '{v}'\n".encode()
        storage.put_bytes(keys.version_files(CID, v) + "rdf.yaml", rdf)
        versions[v] = VersionRecord(version=v, rdf_sha256=hashlib.sha256(rdf).hexdigest(), doi=f"10.5281/zenodo.90{v}",
                                    summary=ResourceSummary(name="shark", weight_files=["weights.pt"]))
    ConceptStore(storage).create(ConceptRecord(id=CID, type="model", concept_doi="10.5281/zenodo.900", versions=versions))
    logs = tmp / "logs" / "2026-03-01-12-00-00-ABCDEF"
    logs.parent.mkdir()
    logs.write_text("".join(log_line(when=D1, ip=f"192.0.2.{i}", key=f"{CID}/{v}/files/weights.pt") + "\n"
                            for i, v in enumerate(["2", "2", "3", "1"])))
    count_downloads(ctx, [str(logs.parent)])
    generate_index(ctx)
    return ctx


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[Context, str]]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    ctx = _store(tmp_path, port)
    server = make_server(ctx.storage, port=port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield ctx, f"http://127.0.0.1:{port}/"
    finally:
        server.shutdown()
        server.server_close()


def _resolve(base: str, some_id: str) -> str:
    """The version an id loads, as bioimageio.spec resolves it: id_map.json, then the rdf (sha256 checked)."""
    id_map = json.loads(urllib.request.urlopen(base + "id_map.json").read())
    entry = id_map[some_id]
    rdf = urllib.request.urlopen(entry["source"]).read()
    assert hashlib.sha256(rdf).hexdigest() == entry["sha256"]
    return rdf.decode().split("version: '")[1].split("'")[0]


def test_yanked_version_resolves_by_exact_id_and_never_as_latest(served: tuple[Context, str]) -> None:
    ctx, base = served
    assert _resolve(base, f"{CID}/3") == "3"
    assert _resolve(base, "10.5281/zenodo.903") == "3"  # its version DOI
    assert _resolve(base, CID) == "2"  # the concept id skips the yanked version
    assert _resolve(base, "10.5281/zenodo.900") == "2"  # and so does the concept DOI
    id_map = json.loads(ctx.storage.get_bytes(keys.ID_MAP_JSON))
    assert f"{CID}/0" not in id_map  # blocked: gone
    entry = json.loads(ctx.storage.get_bytes(keys.COLLECTION_JSON))["collection"][0]
    assert entry["version"] == "2" and entry["rdf_source"].endswith(f"/{CID}/2/files/rdf.yaml")
    assert [(v["version"], v.get("yanked")) for v in entry["versions"]] == [("3", REASON), ("2", None), ("1", None)]
    assert {v["version"]: v["download_count"] for v in entry["versions"]} == {"3": 1, "2": 2, "1": 1}
    assert entry["download_count"] == 4
    versions = json.loads(ctx.storage.get_bytes(keys.versions_json(CID)))["versions"]
    assert [(v["v"], v.get("yanked")) for v in versions] == [("3", REASON), ("2", None), ("1", None)] and "yanked" not in versions[1]


def test_all_versions_yanked_leaves_the_concept_id_unresolved() -> None:
    from backoffice.config.collection_config import load_collection_config
    from backoffice.index.plan import plan_entry
    from backoffice_fixtures import REPO

    record = ConceptRecord(id=CID, type="model", concept_doi="10.5281/zenodo.900",
                           versions={"1": VersionRecord(version="1", rdf_sha256="x")})
    decl = CurationDecl.model_validate({"yanked_versions": [{"version": "1", "reason": "broken"}]})
    entry, ids = plan_entry(record, decl, load_collection_config(TEST_CONFIG), lambda k: "http://x/" + k)
    assert entry is not None and entry.versions[0].yanked == "broken"
    assert set(ids) == {f"{CID}/1"}


@pytest.mark.parametrize("text", ['yanked_versions: [{version: "1", reason: ""}]', 'yanked_versions: [{version: "*", reason: x}]',
                                  'yanked_versions: [{version: "1", reason: x}]\nblocked_versions: [{version: "1", reason: y}]'])
def test_bad_yank_declarations_are_refused(tmp_path: Path, text: str) -> None:
    path = tmp_path / f"{CID}.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=CID):
        load_curation_file(path)


def test_dashboard_shows_yanked_reason_and_downloads_plot(served: tuple[Context, str], page: Any) -> None:
    _, base = served
    page.goto(base + "dashboard/#collection")
    card = page.locator(f"article.card[data-id='{CID}']")
    card.wait_for()
    assert "4 downloads" in card.inner_text()
    yanked = card.locator("li.yanked")
    assert yanked.count() == 1 and "v3" in yanked.inner_text() and REASON in yanked.inner_text()
    plot = card.locator("svg.downloads-plot")
    plot.wait_for()
    assert plot.locator("rect").count() == 90
    assert plot.locator("rect:not([height='0.00'])").count() == 1  # every download on one day
    assert "bioimageio 4" in card.locator(".downloads").inner_text()


def test_status_shows_yanked_and_downloads(served: tuple[Context, str], run_cli: Any) -> None:
    ctx, _ = served
    r = run_cli(["status", CID], settings=ctx.settings)
    assert r.returncode == 0, r.stderr
    assert f"3: published, DOI 10.5281/zenodo.903" in r.stdout and f"YANKED ({REASON})" in r.stdout
    assert "downloads: 4 (0 legacy, 4 counted to 2026-03-01)" in r.stdout and "0: published" in r.stdout and "BLOCKED" in r.stdout


def test_the_descriptions_own_id_never_resolves_to_a_yanked_version() -> None:
    """An uploaded rdf's `id` (here the running collection's `bioimage-io/<nickname>`) is a name of
    the concept, like the concept id: it must skip a yanked version as the concept id does."""
    from backoffice.config.collection_config import load_collection_config
    from backoffice.index.plan import plan_entry
    from backoffice_fixtures import REPO

    declared = ResourceSummary(declared_id="bioimage-io/affable-shark")
    record = ConceptRecord(id=CID, type="model", versions={
        v: VersionRecord(version=v, rdf_sha256=f"sha-{v}", summary=declared) for v in ("1", "2")})
    config = load_collection_config(TEST_CONFIG)
    decl = CurationDecl.model_validate({"yanked_versions": [{"version": "2", "reason": "broken"}]})
    _, ids = plan_entry(record, decl, config, lambda k: "http://x/" + k)
    assert ids[CID].sha256 == ids["bioimage-io/affable-shark"].sha256 == "sha-1"
    assert ids[f"{CID}/2"].sha256 == "sha-2"
    decl_all = CurationDecl.model_validate({"yanked_versions": [{"version": v, "reason": "broken"} for v in ("1", "2")]})
    assert set(plan_entry(record, decl_all, config, lambda k: "http://x/" + k)[1]) == {f"{CID}/1", f"{CID}/2"}


def test_a_yank_of_a_version_never_published_is_warned(caplog: pytest.LogCaptureFixture) -> None:
    """`version: v2` where the versions are `1`, `2`: nothing is yanked, and the reviewer must hear it."""
    from backoffice.config.collection_config import load_collection_config
    from backoffice.index.plan import plan_entry
    from backoffice_fixtures import REPO

    record = ConceptRecord(id=CID, type="model", versions={v: VersionRecord(version=v, rdf_sha256=f"sha-{v}") for v in ("1", "2")})
    decl = CurationDecl.model_validate({"yanked_versions": [{"version": "v2", "reason": "broken"}]})
    with caplog.at_level("WARNING", logger="backoffice"):
        _, ids = plan_entry(record, decl, load_collection_config(TEST_CONFIG), lambda k: "http://x/" + k)
    assert ids[CID].sha256 == "sha-2"
    assert f"collection/{CID}.yaml yanks version 'v2', which {CID} has not published" in caplog.text and "published: 1, 2" in caplog.text

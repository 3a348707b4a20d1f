"""`compare-collection`: the pure comparison on small hand-made inputs, the command on a store and
a running folder or URL (exit 0 when every difference is intended, 20 otherwise), and the real-data
sample after an import."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.takeover.compare import Ours, RunningResource, RunningVersion, compare, unexplained
from backoffice.takeover.intended import INTENDED, intended_markdown
from cli_runner import RunCli
from import_helpers import GITOPS, RUNNING

pytest_plugins = ["backoffice_fixtures"]

SHA = "a" * 64
RDF = {"name": "Shark", "description": "finds nuclei", "license": "MIT", "id_emoji": "🦈",
       "authors": [{"name": "Ada"}], "covers": ["cover.png"], "tags": ["nuclei"], "links": ["ilastik/ilastik", "nowhere/gone"]}


def _running(status: str = "passed", **rdf: Any) -> list[RunningResource]:
    summary = {"status": status, "rdf_content": {**RDF, **rdf}}
    return [RunningResource("bioimage-io/affable-shark", "model", [RunningVersion("v0", SHA, "2025-07-01T22:53:02Z", "first", summary)]),
            RunningResource("bioimage-io/ilastik:ilastik", "application", [RunningVersion("v0", "b" * 64, "2025-07-01T22:53:02Z", None,
                                                                                          {"status": "passed", "rdf_content": {}})])]


def _entry(cid: str, sha: str, **fields: Any) -> dict[str, Any]:
    version = {"version": "v0", "rdf_sha256": sha, "created": "2025-07-01T22:53:02Z", "comment": fields.pop("comment", None),
               "test_summary": {"status": fields.pop("status", "passed")}}
    return {"id": cid, "type": fields.pop("type", "model"), "version": "v0", "rdf_sha256": sha, "rdf_source": f"http://x/{cid}/v0/rdf.yaml",
            "created": "2025-07-01T22:53:02Z", "versions": [version], **fields}


def _ours(**shark: Any) -> Ours:
    fields = {"name": "Shark", "description": "finds nuclei ", "license": "MIT", "id_emoji": "🦈", "authors": [{"name": "Ada"}],
              "covers": ["http://x/affable-shark/v0/files/cover.png"], "tags": ["nuclei", "ilastik-compatible"],
              "links": ["ilastik/ilastik", "nowhere/gone"], "comment": "first", **shark}
    entries = {"affable-shark": _entry("affable-shark", SHA, **fields),
               "ilastik:ilastik": _entry("ilastik:ilastik", "b" * 64, type="application")}
    id_map = {k: {"source": f"http://x/{cid}/v0/rdf.yaml", "sha256": e["rdf_sha256"]}
              for cid, e in entries.items() for k in (cid, f"bioimage-io/{cid}")}
    id_map["ilastik/ilastik"] = id_map["ilastik:ilastik"]
    return Ours(entries, id_map)


def test_only_intended_differences() -> None:
    diffs = compare(_running(), _ours())
    assert sorted(d.kind for d in diffs) == ["link.dangling", "tags.compatible"]  # `nowhere/gone` is held nowhere
    assert unexplained(diffs) == []
    assert all(d.intended for d in diffs)


def test_each_field_that_differs_is_one_line() -> None:
    ours = _ours(status="failed", name="Whale", comment=None, tags=["cells"], covers=["http://x/other.png"])
    del ours.id_map["ilastik/ilastik"]  # a partner application's link form no longer resolves
    diffs = compare(_running(), ours)
    kinds = sorted(d.kind for d in unexplained(diffs))
    assert kinds == ["comment", "covers", "link.unresolved", "name", "old_id.unresolved", "status", "tags.extra", "tags.missing"]
    [status] = [d for d in diffs if d.kind == "status"]
    assert status.line() == 'bioimage-io/affable-shark v0: status: ours "failed", running "passed"'


def test_versions_resources_and_rdf_sha256() -> None:
    ours = _ours()
    shark = dict(ours.entries["affable-shark"])
    shark["versions"] = [{**shark["versions"][0], "rdf_sha256": "c" * 64}, {**shark["versions"][0], "version": "v1"}]
    entries = {"affable-shark": shark, "other-thing": _entry("other-thing", "d" * 64)}
    diffs = compare(_running(), Ours(entries, ours.id_map))
    kinds = {(d.resource, d.version, d.kind) for d in unexplained(diffs)}
    assert {("bioimage-io/affable-shark", "v0", "rdf_sha256"), ("bioimage-io/affable-shark", "v1", "version.extra"),
            ("bioimage-io/ilastik:ilastik", None, "resource.missing"), ("other-thing", None, "resource.extra")} <= kinds
    rebuilt = compare(_running(), Ours(entries, ours.id_map, {"affable-shark/v0": False}))  # written from rdf_content
    assert [d.kind for d in rebuilt if d.version == "v0" and d.kind.startswith("rdf")] == ["rdf_sha256.rebuilt"]


def test_the_docs_show_every_intended_difference() -> None:
    doc = (Path(__file__).resolve().parents[1] / "docs" / "import.md").read_text(encoding="utf-8")
    assert intended_markdown() in doc
    assert all(f"`{i.kind}`" in doc for i in INTENDED)


# the command


def _store_index(ctx: Context, ours: Ours) -> None:
    ctx.storage.put_bytes("collection.json", json.dumps({"collection": list(ours.entries.values())}).encode())
    ctx.storage.put_bytes("id_map.json", json.dumps(ours.id_map).encode())


def _running_folder(folder: Path, resources: list[RunningResource]) -> Path:
    items = [{"id": r.id, "type": r.type, "versions": [{"version": v.label, "sha256": v.sha256, "created_at": v.created,
                                                         "comment": v.comment, "source": f"http://h/{r.id}/{v.label}"} for v in r.versions]}
             for r in resources]
    (folder / "index.json").parent.mkdir(parents=True, exist_ok=True)
    (folder / "index.json").write_text(json.dumps({"items": items}))
    for r in resources:
        for v in r.versions:
            for name in {r.id, r.id.replace(":", "_")}:  # a partner application's reports: `bioimage-io/a_b`
                path = folder / "reports" / name / v.label / "summary.json"
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(json.dumps(v.summary))
    return folder


def test_command_exits_0_when_every_difference_is_intended(local_ctx: Context, run_cli: RunCli, tmp_path: Path) -> None:
    _store_index(local_ctx, _ours())
    source = _running_folder(tmp_path / "running", _running())  # a partner application's reports path aside
    r = run_cli(["compare-collection", str(source / "index.json")], settings=local_ctx.settings)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[-1] == "2 differences: 0 unexplained, 2 intended"
    assert any("tags.compatible" in ln and "[intended: tags.compatible]" in ln for ln in lines)


def test_command_exits_non_zero_on_an_unexplained_difference(local_ctx: Context, run_cli: RunCli, tmp_path: Path) -> None:
    _store_index(local_ctx, _ours(status="failed", name="[bold]fiji:Fiji:[/bold]"))
    source = _running_folder(tmp_path / "running", _running())
    r = run_cli(["compare-collection", str(source)], settings=local_ctx.settings)
    assert r.returncode == 20, r.stderr
    assert r.stderr.strip() == f"error: 2 differences from {source} that docs/import.md does not list as intended"
    assert 'bioimage-io/affable-shark: name: ours "[bold]fiji:Fiji:[/bold]", running "Shark"' in r.stdout  # plain text, no markup
    j = run_cli(["compare-collection", str(source), "--json"], settings=local_ctx.settings)
    data = json.loads(j.stdout)
    assert j.returncode == 20 and data["unexplained"] == 2
    assert {d["kind"] for d in data["differences"] if d["intended"] is None} == {"status", "name"}


def test_command_reads_a_url_through_the_guarded_fetch(local_ctx: Context, run_cli: RunCli, file_server: tuple[Path, str]) -> None:
    folder, base = file_server
    _store_index(local_ctx, _ours())
    _running_folder(folder, _running())
    refused = run_cli(["compare-collection", base], settings=local_ctx.settings,  # 127.0.0.1 is not a public address
                      BACKOFFICE_DOWNLOAD_ALLOWED_HOSTS="[]")
    assert refused.returncode == 16 and "127.0.0.1" in refused.stderr, refused.stderr
    host = base.removeprefix("http://")
    r = run_cli(["compare-collection", base + "/index.json"], settings=local_ctx.settings,
                BACKOFFICE_DOWNLOAD_ALLOWED_HOSTS=json.dumps([host]))
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines()[-1] == "2 differences: 0 unexplained, 2 intended"


def test_command_without_an_index_says_so(local_ctx: Context, run_cli: RunCli, tmp_path: Path) -> None:
    source = _running_folder(tmp_path / "running", _running())
    r = run_cli(["compare-collection", str(source)], settings=local_ctx.settings)
    assert r.returncode == 16 and "generate-collection-json" in r.stderr and len(r.stderr.splitlines()) == 1


def test_sample_after_import_has_no_unexplained_difference(local_ctx: Context, run_cli: RunCli, tmp_path: Path) -> None:
    running = tmp_path / "running"
    shutil.copytree(RUNNING, running)
    s = local_ctx.settings
    for example in s.collection_dir.glob("*.yaml"):  # a deployment's state: no curation
        example.unlink()
    imported = run_cli(["import-collection", str(running), str(GITOPS), "--no-files"], settings=s)
    # the one resource whose rdf upstream could not read itself is refused (exit 18); all others are held
    assert imported.returncode == 18 and "1 unreadable upstream rdf" in imported.stderr, imported.stderr
    assert run_cli(["generate-collection-json"], settings=s).returncode == 0
    r = run_cli(["compare-collection", str(running)], settings=s)
    assert " 0 unexplained, " in r.stdout.splitlines()[-1]
    assert r.returncode == 0, "\n".join(ln for ln in r.stdout.splitlines() if "[intended" not in ln)


@pytest.mark.parametrize("source", ["no-such-folder", "ftp://example.invalid/index.json"])
def test_command_given_a_source_it_cannot_read(local_ctx: Context, run_cli: RunCli, source: str) -> None:
    _store_index(local_ctx, _ours())
    before = sorted(local_ctx.storage.list_keys(""))
    r = run_cli(["compare-collection", source], settings=local_ctx.settings)
    assert r.returncode == 16 and r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert sorted(local_ctx.storage.list_keys("")) == before

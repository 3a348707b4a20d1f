"""`import-collection` on the real-data sample (32 resources of the running collection and
the GitOps-era collection.json): everything held, every report accepted, ids and DOIs
resolve, a re-run adds nothing, runs killed with SIGKILL then re-run end like a clean run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pytest

from backoffice.context import Context
from backoffice.importer.run import import_collection
from backoffice.index.generate import generate_index
from backoffice.storage.local import LocalStorage
from cli_runner import cli_environ
from backoffice.errors import ImportRefusedError
from backoffice.importer.models import RunningItem
from backoffice.importer.sources import version_dir
from import_helpers import AT, GITOPS, RUNNING, change_upstream, copy_running, sample_index, sample_report_files, store_state

pytest_plugins = ["backoffice_fixtures"]

UNREADABLE = "bioimage-io/independent-mouse"
REFUSED_EXIT = ImportRefusedError.exit_code


def _run(ctx: Context, *sources: str, **kwargs: object):  # noqa: ANN202
    return import_collection(ctx, [*sources], files=False, at=datetime.fromisoformat(AT), workers=4, **kwargs)  # pyright: ignore[reportArgumentType]


def test_whole_sample_is_held_with_every_report(local_ctx: Context) -> None:
    ctx = local_ctx
    [report] = _run(ctx, str(RUNNING), str(GITOPS))
    index = sample_index()["items"]
    held = {cid: ctx.concepts.get(cid) for cid in ctx.concepts.list_ids()}
    index = [i for i in index if i["id"] != UNREADABLE]  # refused: its rdf_content is only the running collection's error
    assert sorted(held) == sorted(i["id"].split("/")[-1] for i in index)
    assert {r.type for r in held.values()} == {"model", "dataset", "notebook", "application"}
    for item in index:
        record = held[item["id"].split("/")[-1]]
        assert record.type == item["type"] and list(record.versions) == [v["version"] for v in item["versions"]]
        assert record.legacy is not None and item["id"] in record.legacy.ids
        for v in item["versions"]:
            version = record.versions[v["version"]]
            assert version.legacy is not None and version.legacy.source_sha256 == v["sha256"]
            assert not version.legacy.rdf_exact  # --no-files: the rdf is written from rdf_content, the files stay remote
            assert all("--no-files" in f.reason for f in version.legacy.remote_files.values())
    assert sum(len(held[c].versions["v0"].legacy.remote_files) for c in held) > 100  # pyright: ignore[reportOptionalMemberAccess]
    notes = [f"{o.id}: {n}" for o in report.outcomes for n in o.notes]
    # the one rdf the running collection itself could not read (a form upload saved as rdf.yaml) is refused with why
    assert notes == ["independent-mouse: v0: refused: the running collection could not read its rdf (mapping values are not "
                     "allowed here); summary.json holds only that error"]
    assert report.refusals() == {"unreadable upstream rdf": 1}
    files = {k: v for k, v in sample_report_files().items() if not k.startswith("independent-mouse/")}
    for key, reports in files.items():
        cid, version = key.split("/")
        stored = ctx.storage.list_keys(f"{cid}/{version}/reports/")
        assert sorted(k.rsplit("/", 1)[-1].lower() for k in stored if "/parts/" not in k) == sorted(p.name.lower() for p in reports), key
        for p in reports:
            assert ctx.storage.get_bytes(f"{cid}/{version}/reports/{p.name}") == p.read_bytes()  # byte for byte
    assert sum(o.reports for o in report.outcomes) == sum(len(r) for r in files.values())
    for item in index:  # the scores equal the running collection's (tests/test_running_scores.py names the differences)
        for v in item["versions"]:
            published = json.loads((RUNNING / version_dir(RunningItem.model_validate(item), v["version"]) / "summary.json").read_text())["scores"]
            compat = held[item["id"].split("/")[-1]].versions[v["version"]].compatibility
            assert compat is not None
            assert compat.scores.tools == pytest.approx(published["tool_compatibility"], abs=1e-12), (item["id"], v["version"])
            assert compat.scores.overall == pytest.approx(published["overall_compatibility"], abs=1e-12), (item["id"], v["version"])

    shark = held["affable-shark"]  # matched in the GitOps collection by nickname
    assert shark.concept_doi == "10.5281/zenodo.5764892" and shark.legacy and shark.downloads and shark.downloads.legacy == 71879
    assert shark.legacy.nickname_icon == "🦈" and "zenodo|77626" in shark.owners
    assert shark.versions["v0"].doi == "10.5281/zenodo.6647674"
    from backoffice.importer.sources import load_gitops

    [g] = [e for e in load_gitops(str(GITOPS)) if e.nickname == "affable-shark"]  # rdfs/ beside collection.json read:
    weights = "608f52cd7f5119f7a7b8272395b0c169714e8be34536eaf159820f72a1d6a5b7"  # both records share v0's weights
    assert sorted(g.record_files) == ["6322939", "6647674"] and all(weights in f for f in g.record_files.values())
    entries = ctx.log("affable-shark").read()
    assert any(e.step == "import" and f"imported from {RUNNING} at 2026-06-01T12:00:00" in e.message for e in entries)


def test_ids_resolve_and_rerun_adds_nothing(local_ctx: Context) -> None:
    ctx = local_ctx
    _run(ctx, str(RUNNING), str(GITOPS))
    before = store_state(ctx.storage)
    [again] = _run(ctx, str(RUNNING), str(GITOPS))
    assert {o.action for o in again.outcomes if o.id != "independent-mouse"} == {"unchanged"}
    assert store_state(ctx.storage) == before
    generate_index(ctx)
    id_map = json.loads(ctx.storage.get_bytes("id_map.json"))
    v0 = id_map["affable-shark/v0"]
    for alias in ("affable-shark", "bioimage-io/affable-shark", "10.5281/zenodo.5764892", "10.5281/zenodo.6647674",
                  "10.5281/zenodo.6322939"):  # nickname, running id, concept DOI, version DOIs (newest, older)
        assert id_map[alias] == v0, alias
    assert id_map["romantic-shark"] == id_map["romantic-shark/v1"] != id_map["romantic-shark/v0"]
    collection = {e["id"]: e for e in json.loads(ctx.storage.get_bytes("collection.json"))["collection"]}
    assert len(collection) == 31 and collection["affable-shark"]["download_count"] == 71879
    assert collection["affable-shark"]["concept_doi"] == "10.5281/zenodo.5764892"
    compat = json.loads(ctx.storage.get_bytes("compatibility.json"))
    assert "affable-shark" in json.dumps(compat)
    assert ctx.storage.exists("dashboard/details/sharp-running-shirt.json")  # an application, on the dashboard


def test_changed_upstream_is_reported_and_left_unless_update(local_ctx: Context, tmp_path: Path) -> None:
    ctx = local_ctx
    src = copy_running(tmp_path / "running")
    _run(ctx, str(src))
    change_upstream(src, "bioimage-io/chatty-frog")
    before = store_state(ctx.storage)
    [r] = _run(ctx, str(src))
    frog = next(o for o in r.outcomes if o.id == "chatty-frog")
    assert frog.action == "unchanged" and any("changed upstream" in n and "--update" in n for n in frog.notes)
    assert store_state(ctx.storage) == before
    [r] = _run(ctx, str(src), update=True)
    assert next(o for o in r.outcomes if o.id == "chatty-frog").action == "extend"
    v0 = ctx.concepts.get("chatty-frog").versions["v0"]
    assert v0.summary.description == "edited in place upstream" and v0.legacy and v0.legacy.source_sha256 == "ab" * 32


def test_summary_and_index_disagree_refuses_that_version(local_ctx: Context, tmp_path: Path) -> None:
    ctx = local_ctx
    src = copy_running(tmp_path / "running")
    summary_path = src / "reports" / "bioimage-io" / "romantic-shark" / "v1" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["rdf_yaml_sha256"] = "cd" * 32
    summary_path.write_text(json.dumps(summary))
    [r] = _run(ctx, str(src))
    shark = next(o for o in r.outcomes if o.id == "romantic-shark")
    assert shark.versions == ["v0"] and any(n.startswith("v1: refused: summary.json's rdf has sha256 cdcdcdcdcdcd") for n in shark.notes)
    assert list(ctx.concepts.get("romantic-shark").versions) == ["v0"]


def _import_cmd(store: Path, settings_env: dict[str, str]) -> list[str]:
    return [sys.executable, "-m", "backoffice", "import-collection", str(RUNNING), str(GITOPS), "--no-files",
            "--at", AT, "--workers", "2"]


def _killed_at(n_files: int, store: Path, env: dict[str, str], cwd: Path) -> bool:
    """Start an import and SIGKILL it once the store holds `n_files` objects; False if it finished first."""
    proc = subprocess.Popen(_import_cmd(store, env), env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None:
            if sum(1 for p in store.rglob("*") if p.is_file() and ".backoffice-internal" not in p.parts) >= n_files:
                os.kill(proc.pid, signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.005)
        return False
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_kill_9_at_several_points_then_rerun_equals_clean_run(settings_factory, tmp_path: Path) -> None:  # noqa: ANN001
    clean_settings = settings_factory(local_root=tmp_path / "clean")
    r = subprocess.run(_import_cmd(tmp_path / "clean", {}), env=cli_environ(clean_settings), cwd=tmp_path,
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == REFUSED_EXIT, r.stderr  # independent-mouse's unreadable rdf is refused
    clean = store_state(LocalStorage(tmp_path / "clean", "http://127.0.0.1:1"))
    assert len(clean) > 400

    store = tmp_path / "killed"
    env = cli_environ(settings_factory(local_root=store))
    killed = [_killed_at(n, store, env, tmp_path) for n in (1, 60, 200, 350)]
    assert killed[:3] == [True, True, True], killed  # really cut off mid-import
    r = subprocess.run(_import_cmd(store, env), env=env, cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert r.returncode == REFUSED_EXIT, r.stderr
    assert store_state(LocalStorage(store, "http://127.0.0.1:1")) == clean


def test_a_zip_of_the_published_folder_and_bad_sources(run_cli, settings_factory, tmp_path: Path) -> None:  # noqa: ANN001
    import shutil

    settings = settings_factory()
    archive = shutil.make_archive(str(tmp_path / "gh-pages"), "zip", root_dir=RUNNING.parent, base_dir="running")
    r = run_cli(["import-collection", archive, "--no-files", "--at", AT], settings=settings)
    assert r.returncode == REFUSED_EXIT and r.stderr.startswith(
        "error: 1 resources or versions refused (1 unreadable upstream rdf): ") and r.stderr.count("\n") == 1, r.stderr
    assert f"{archive}: 31 created, 0 extended, 0 mirrored, 0 unchanged, 1 refused (1 unreadable upstream rdf)" in r.stdout
    for bad, message in ((str(tmp_path / "nowhere"), "no such folder, zip file or URL"), ("ftp://x/y", "only http(s) URLs"),
                         (str(GITOPS), "no running collection among the sources")):
        r = run_cli(["import-collection", bad, "--no-files"], settings=settings)
        assert r.returncode != 0 and r.stderr.startswith("error: ") and message in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_an_unfinished_run_is_resumed_with_its_start_time(local_ctx: Context) -> None:
    from backoffice.importer.run import run_key

    ctx = local_ctx
    key = run_key([str(RUNNING)])
    ctx.storage.put_bytes(key, json.dumps({"sources": [str(RUNNING)], "at": "2026-05-30T08:00:00+00:00"}).encode())  # as a killed run leaves it
    import_collection(ctx, [str(RUNNING)], files=False, workers=4)  # no --at: the unfinished run's time
    [entry] = [e for e in ctx.log("affable-shark").read() if e.step == "import"]
    assert entry.timestamp == datetime.fromisoformat("2026-05-30T08:00:00+00:00") and "at 2026-05-30T08:00:00" in entry.message
    assert not ctx.storage.exists(key)  # done: the next run starts afresh

"""Issue 25's "done when": the imported sample is bioimage.io as the running collection
publishes it. One import of the whole sample (`--no-files`: the rdfs are written from
`rdf_content`) is checked, resource by resource, against the sample's own files: held,
rdf equal to the published content (infinities included) and valid where upstream's passed,
status, `created`, `comment`, emoji, links and old ids as published (through our
`collection.json` and `id_map.json`). And one bad resource among good ones is refused with
its reason while the good ones are all imported."""

from __future__ import annotations

import json
import math
import shutil
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pytest
import yaml

from backoffice.context import Context
from backoffice.errors import ImportRefusedError
from backoffice.importer.models import RunningItem
from backoffice.importer.run import ImportReport, import_collection
from backoffice.importer.sources import version_dir
from backoffice.index.generate import generate_index
from backoffice.records import keys
from backoffice.settings import Settings
from backoffice.storage.local import LocalStorage
from cli_runner import cli_environ, run_backoffice
from import_helpers import AT, GITOPS, REPO, RUNNING, sample_index

UNREADABLE = "bioimage-io/independent-mouse"
"""Its summary.json holds only the running collection's error instead of an rdf: refused."""


def _summary(item: dict[str, Any], version: str) -> dict[str, Any]:
    return json.loads((RUNNING / version_dir(RunningItem.model_validate(item), version) / "summary.json").read_text())


def _items() -> list[dict[str, Any]]:
    return [i for i in sample_index()["items"] if i["id"] != UNREADABLE]


def _settings(root: Path) -> Settings:
    (root / "collection").mkdir(parents=True, exist_ok=True)  # a real deployment's empty curation
    return Settings(local_root=root / "store", config_path=REPO / "bioimageio_collection_config.json",  # pyright: ignore[reportCallIssue]
                    collection_dir=root / "collection", env_templates_dir=REPO / "env_templates")


class Imported:
    def __init__(self, ctx: Context, report: ImportReport) -> None:
        self.ctx = ctx
        self.report = report
        self.collection = {e["id"]: e for e in json.loads(ctx.storage.get_bytes(keys.COLLECTION_JSON))["collection"]}
        self.id_map: dict[str, Any] = json.loads(ctx.storage.get_bytes(keys.ID_MAP_JSON))

    def rdf(self, cid: str, version: str) -> Any:
        return yaml.safe_load(self.ctx.storage.get_bytes(keys.version_files(cid, version) + "rdf.yaml"))


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Imported]:
    root = tmp_path_factory.mktemp("exact")
    settings = _settings(root)
    ctx = Context(settings, storage=LocalStorage(settings.local_root, "http://127.0.0.1:1/store"))
    [report] = import_collection(ctx, [str(RUNNING), str(GITOPS)], files=False, at=datetime.fromisoformat(AT), workers=4)
    generate_index(ctx)
    yield Imported(ctx, report)


def _nickname(item: dict[str, Any]) -> str:
    return item["id"].rsplit("/", 1)[-1]


def test_every_resource_is_held_but_the_unreadable_one_which_is_refused_with_its_reason(imported: Imported) -> None:
    held = set(imported.ctx.concepts.list_ids())
    assert held == {_nickname(i) for i in _items()}
    assert {"ilastik:ilastik", "imjoy:vizarr", "easy-going-sauropod"} <= held  # partner applications keep their ids
    assert set(imported.collection) == held
    for item in _items():
        record = imported.ctx.concepts.get(_nickname(item))
        assert list(record.versions) == [v["version"] for v in item["versions"]]
    [mouse] = [o for o in imported.report.outcomes if o.id == "independent-mouse"]
    assert mouse.action == "refused" and mouse.refusals == ["unreadable upstream rdf"]
    assert "could not read its rdf (mapping values are not allowed here)" in mouse.notes[0]
    assert imported.report.refusals() == {"unreadable upstream rdf": 1}
    assert imported.report.plan.gitops_without_nickname == 113  # counted, not silently skipped


def _same_but_infinities(stored: Any, published: Any, path: str, restored: list[str]) -> None:
    """`stored` equals `published` except where JSON wrote an infinity as null (collected in `restored`)."""
    if published is None and isinstance(stored, float) and math.isinf(stored):
        restored.append(f"{path}: {stored}")
        return
    if isinstance(published, dict):
        assert isinstance(stored, dict) and set(stored) == set(published), path  # pyright: ignore[reportUnknownArgumentType]
        for k, v in published.items():  # pyright: ignore[reportUnknownVariableType]
            _same_but_infinities(stored[k], v, f"{path}.{k}" if path else str(k), restored)  # pyright: ignore[reportUnknownArgumentType]
        return
    if isinstance(published, list):
        assert isinstance(stored, list) and len(stored) == len(published), path  # pyright: ignore[reportUnknownArgumentType]
        for i, (s, p) in enumerate(zip(stored, published)):  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
            _same_but_infinities(s, p, f"{path}[{i}]", restored)
        return
    assert stored == published, path


def _gitops_original(rdf_id: object) -> Any:
    """The GitOps era's yaml original of an rdf whose id is `<concept DOI>/<record id>`, where the sample has it."""
    if not isinstance(rdf_id, str) or not rdf_id.startswith("10."):
        return None
    path = GITOPS.parent / "rdfs" / rdf_id / "rdf.yaml"
    return yaml.safe_load(path.read_text()) if path.is_file() else None


def test_rdfs_equal_the_published_content_with_their_infinities(imported: Imported) -> None:
    with_infinities: list[str] = []
    compared_with_yaml = 0
    for item in _items():
        for v in item["versions"]:
            published = _summary(item, v["version"])["rdf_content"]
            stored = imported.rdf(_nickname(item), v["version"])
            restored: list[str] = []
            _same_but_infinities(stored, published, "", restored)
            assert all(".data_range[" in r for r in restored), restored  # only where the spec needs a number
            if restored:
                with_infinities.append(_nickname(item))
            legacy = imported.ctx.concepts.get(_nickname(item)).versions[v["version"]].legacy
            assert legacy is not None and legacy.restored == restored  # recorded where it was done
            original = _gitops_original(published.get("id"))
            if original is not None:  # the yaml original says which infinity each null was
                compared_with_yaml += 1
                for tensors in ("inputs", "outputs"):
                    for got, want in zip(stored.get(tensors) or [], original.get(tensors) or [], strict=True):
                        assert got.get("data_range") == want.get("data_range"), (item["id"], tensors)
    assert "easy-going-sauropod" in with_infinities and len(with_infinities) >= 8
    assert compared_with_yaml >= 5


def test_rdfs_validate_where_upstream_passed(imported: Imported) -> None:
    from bioimageio.spec import ValidationContext, build_description

    for item in _items():
        for v in item["versions"]:
            if _summary(item, v["version"])["status"] != "passed":
                continue
            data = imported.ctx.storage.get_bytes(keys.version_files(_nickname(item), v["version"]) + "rdf.yaml")
            with ValidationContext(perform_io_checks=False):
                described = build_description(yaml.safe_load(data))
            assert described.validation_summary.status != "failed", (item["id"], described.validation_summary.format())


def test_status_created_comment_and_emoji_as_published(imported: Imported) -> None:
    gitops = {e["nickname"]: e for e in json.loads(GITOPS.read_text())["collection"] if e.get("nickname")}
    for item in _items():
        entry = imported.collection[_nickname(item)]
        by_version = {v["version"]: v for v in entry["versions"]}
        for v in item["versions"]:
            summary = _summary(item, v["version"])
            shown = by_version[v["version"]]
            assert shown["test_summary"]["status"] == summary["status"], (item["id"], v["version"])
            assert shown["compatibility"]["status"] == summary["status"], (item["id"], v["version"])
            assert {b["label"] for b in shown["test_summary"]["badges"]} == set(summary["tests"])  # the tests behind it
            assert shown["comment"] == v.get("comment")
        dates = [_time(v["created_at"]) for v in item["versions"]]
        if _nickname(item) in gitops and gitops[_nickname(item)].get("created"):
            dates.append(_time(gitops[_nickname(item)]["created"]))
        assert _time(entry["created"]) == min(dates), item["id"]
        emoji = _summary(item, item["versions"][-1]["version"])["rdf_content"].get("id_emoji")
        if emoji:
            assert entry["id_emoji"] == emoji, item["id"]
    assert imported.collection["affable-shark"]["created"].startswith("2022-06-15")
    assert imported.collection["educated-water-buffalo"]["id_emoji"] == "🐃"


def _time(value: str) -> datetime:
    t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return t if t.tzinfo else t.replace(tzinfo=timezone.utc)  # the GitOps era wrote UTC without an offset


def _forms(item: dict[str, Any]) -> list[str]:
    """Every id the running collection knows a resource by."""
    nickname = _nickname(item)
    out = [nickname, item["id"]]
    if ":" in nickname:
        out.append(nickname.replace(":", "/"))
    for v in item["versions"]:
        rdf_id = _summary(item, v["version"])["rdf_content"].get("id")
        if isinstance(rdf_id, str):
            out.append(rdf_id)
    return out


def test_old_ids_and_links_resolve_to_the_held_concept(imported: Imported) -> None:
    latest = {_nickname(i): imported.id_map[_nickname(i)] for i in _items()}
    resolving = 0
    for item in _items():
        for form in _forms(item):
            assert imported.id_map.get(form) == latest[_nickname(item)], (item["id"], form)
            resolving += 1
    assert imported.id_map["ilastik/ilastik"] == latest["ilastik:ilastik"]
    assert imported.id_map["bioimage-io/imjoy:vizarr"] == imported.id_map["imjoy/vizarr"] == latest["imjoy:vizarr"]
    assert imported.id_map["10.5281/zenodo.7380171/7405349"] == latest["easy-going-sauropod"]  # a GitOps-era rdf id
    gitops_ids = 0
    for entry in json.loads(GITOPS.read_text())["collection"]:  # every record of a held concept, as `<concept DOI>/<record>`
        if entry.get("nickname") in latest and entry["id"].startswith("10."):
            for record in entry["versions"]:
                assert f"{entry['id']}/{record}" in imported.id_map, (entry["nickname"], record)
                gitops_ids += 1
    assert gitops_ids >= 10
    known = {form: _nickname(i) for i in _items() for form in _forms(i)}
    links = 0
    for item in _items():
        published: list[str] = _summary(item, item["versions"][-1]["version"])["rdf_content"].get("links") or []
        entry = imported.collection[_nickname(item)]
        assert all(link in entry["links"] for link in published), item["id"]
        for link in entry["links"]:
            if link in known:  # a resource of the sample: it resolves to that concept
                assert imported.id_map[link] == latest[known[link]], (item["id"], link)
                links += 1
    assert links >= 3 and resolving >= 90


def _bad_copy(dest: Path) -> Path:
    """The sample with three bad resources among the good ones, each with a copy of a good one's reports."""
    src = shutil.copytree(RUNNING, dest)
    index = json.loads((src / "index.json").read_text())
    shark = next(i for i in index["items"] if i["id"] == "bioimage-io/affable-shark")
    for bad in ("bioimage-io/partners", "bioimage-io/Affable-Shark", "bioimage-io/bad\ud800id"):
        index["items"].append({**shark, "id": bad})
        if "\ud800" not in bad:  # a lone surrogate cannot name a file: that one has no folder
            shutil.copytree(src / version_dir(RunningItem.model_validate(shark), "v0"),
                            src / version_dir(RunningItem.model_validate({**shark, "id": bad}), "v0"))
    (src / "index.json").write_text(json.dumps(index))
    return src


def test_bad_resources_are_refused_with_their_reason_and_the_good_ones_imported(tmp_path: Path) -> None:
    src = _bad_copy(tmp_path / "running")
    settings = _settings(tmp_path)
    r = run_backoffice(["import-collection", str(src), "--no-files", "--at", AT, "--workers", "2"], cwd=tmp_path,
                       env=cli_environ(settings))
    assert r.returncode == ImportRefusedError.exit_code, r.stderr
    assert r.stderr.startswith("error: 4 resources or versions refused (3 concept id, 1 unreadable upstream rdf): ") \
        and r.stderr.count("\n") == 1, r.stderr
    assert "Traceback" not in r.stdout + r.stderr
    assert "invalid concept id 'partners': a name the store keeps for itself" in r.stdout
    assert "invalid concept id 'Affable-Shark': only its case differs from the held concept 'affable-shark'" in r.stdout
    assert "invalid concept id 'bad\\ud800id'" in r.stdout
    assert "31 created, 0 extended, 0 mirrored, 0 unchanged, 4 refused (3 concept id, 1 unreadable upstream rdf)" in r.stdout
    store = LocalStorage(settings.local_root, "http://127.0.0.1:1")
    held = {k[len("concepts/"):-len(".json")] for k in store.list_keys("concepts/")}
    assert held == {_nickname(i) for i in _items()}


def test_an_rdf_that_would_not_validate_is_named_with_why(tmp_path: Path) -> None:
    from backoffice.importer.restore import restore_json_losses
    from backoffice.importer.spec_check import format_problem

    [sauropod] = [i for i in _items() if i["id"] == "bioimage-io/easy-going-sauropod"]
    as_json = _summary(sauropod, "v0")["rdf_content"]
    assert "data_range" in (format_problem(as_json) or "")  # JSON's nulls alone would not validate
    assert format_problem(restore_json_losses(as_json)[0]) is None
    src = shutil.copytree(RUNNING, tmp_path / "running")
    path = src / version_dir(RunningItem.model_validate(sauropod), "v0") / "summary.json"
    summary = json.loads(path.read_text())
    del summary["rdf_content"]["inputs"]  # a loss the import does not undo
    path.write_text(json.dumps(summary))
    settings = _settings(tmp_path)
    ctx = Context(settings, storage=LocalStorage(settings.local_root, "http://127.0.0.1:1/store"))
    [report] = import_collection(ctx, [str(src)], files=False, at=datetime.fromisoformat(AT), workers=2)
    [out] = [o for o in report.outcomes if o.id == "easy-going-sauropod"]
    assert out.action == "create" and any(
        n.startswith("v0: upstream's test passed, but its rdf does not validate with bioimageio.spec 0.5.") and "inputs" in n
        for n in out.notes), out.notes


def test_status_shows_both_statuses_and_what_each_owner_may_do(imported: Imported, tmp_path: Path) -> None:
    r = run_backoffice(["status", "affable-shark"], cwd=tmp_path, env=cli_environ(imported.ctx.settings))
    assert r.returncode == 0, r.stderr
    assert ("test status: passed (upstream: biapy: passed, bioimageio.core: failed, careamics: not-applicable, deepimagej: failed, "
            "ilastik: passed); failed (our conflation of its reports); they differ") in r.stdout
    assert "thefynnbe@gmail.com: may stage new versions" in r.stdout
    assert "zenodo|77626: cannot act here" in r.stdout and "github-user|constantinpape: cannot act here" in r.stdout
    assert "comment: Deleted weights_torchscript.pt" in r.stdout
    r = run_backoffice(["status", "ilastik:ilastik"], cwd=tmp_path, env=cli_environ(imported.ctx.settings))
    assert "ilastik:ilastik (application); owners: -" in r.stdout  # its uploader is the running collection's bot
    assert "bioimageiobot" not in r.stdout
    assert imported.ctx.settings.mail_from not in {o for c in imported.ctx.concepts.list_ids() for o in imported.ctx.concepts.get(c).owners}

"""What changed since the last version: the plan (pure), the copy staging keeps on the
draft, and `backoffice diff` on a store with a published version and a new draft."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.records import keys
from backoffice.records.changes import MAX_VALUE, Snapshot, compact, diff_lines, flatten, plan_diff
from backoffice.records.concept import ConceptRecord
from backoffice.records.manifest import FileEntry
from backoffice.records.status import DraftStatus
from backoffice.review.publish import publish
from backoffice.stage.stage import stage
from cli_runner import RunCli
from package_edits import second_version_package

REVIEWER = "github|10000001"


def _f(name: str, size: int, sha: str) -> FileEntry:
    return FileEntry(name=name, size=size, sha256=sha)


def test_flatten_is_readable() -> None:
    rdf = {"name": "A", "tags": ["x", "y"], "authors": [{"name": "Jo", "orcid": None}], "config": {}, "empty": []}
    assert flatten(rdf) == {"name": "A", "tags": "x, y", "authors[0].name": "Jo", "authors[0].orcid": "null",
                            "config": "{}", "empty": "[]"}


def test_plan_diff_fields_files_verdicts() -> None:
    old = Snapshot("1.0", {"name": "A", "tags": ["x"], "weights": {"onnx": {"sha256": "aa"}}, "gone": 1},
                   {"rdf.yaml": _f("rdf.yaml", 10, "r1"), "w.onnx": _f("w.onnx", 5, "aa"), "old.txt": _f("old.txt", 1, "o")},
                   {"bioimageio.core_0.11.0_onnx": "passed", "ilastik_1.4": "passed"})
    new = Snapshot("draft (2.0)", {"name": "B", "tags": ["x", "y"], "weights": {"onnx": {"sha256": "bb"}}, "new": True},
                   {"rdf.yaml": _f("rdf.yaml", 12, "r2"), "w.onnx": _f("w.onnx", 6, "bb"), "new.txt": _f("new.txt", 2, "n")},
                   {"bioimageio.core_0.11.0_onnx": "failed"})
    d = plan_diff(old, new)
    assert [(f.field, f.change, f.old, f.new) for f in d.fields] == [
        ("gone", "removed", "1", None), ("name", "changed", "A", "B"), ("new", "added", None, "true"),
        ("tags", "changed", "x", "x, y"), ("weights.onnx.sha256", "changed", "aa", "bb")]
    assert [(f.name, f.change, f.old_size, f.new_size) for f in d.files] == [
        ("new.txt", "added", None, 2), ("old.txt", "removed", 1, None), ("rdf.yaml", "changed", 10, 12), ("w.onnx", "changed", 5, 6)]
    assert [(v.report, v.old, v.new) for v in d.verdicts] == [
        ("bioimageio.core_0.11.0_onnx", "passed", "failed"), ("ilastik_1.4", "passed", None)]
    text = "\n".join(diff_lines(d))
    assert "~ name: A -> B" in text and "+ new.txt: 2 B, sha256 n" in text and "~ w.onnx: 5 B -> 6 B, sha256 aa -> bb" in text
    assert "~ bioimageio.core_0.11.0_onnx: passed -> failed" in text


def test_same_content_is_no_change() -> None:
    s = Snapshot("1.0", {"a": [1, {"b": 2}]}, {"x": _f("x", 1, "h")})
    d = plan_diff(s, Snapshot("2.0", {"a": [1, {"b": 2}]}, {"x": _f("x", 1, "h")}))
    assert d.fields == [] and d.files == [] and d.verdicts == []


def test_compact_clips_for_the_record() -> None:
    d = plan_diff(Snapshot("1", {"doc": "a" * 5000}, {}), Snapshot("2", {"doc": "b" * 5000}, {}))
    c = compact(d)
    assert c.truncated and len(c.fields[0].old or "") == MAX_VALUE and not compact(plan_diff(Snapshot("1", {"a": 1}, {}), Snapshot("2", {"a": 2}, {}))).truncated


def _to_review(ctx: Context, cid: str) -> None:
    def mutate(record: ConceptRecord) -> None:
        record.set_draft_status(DraftStatus.TESTING)
        record.set_draft_status(DraftStatus.AWAITING_REVIEW)

    ctx.concepts.update(cid, mutate)


@pytest.fixture()
def second_version(ctx: Context, packages: dict[str, Path], tmp_path: Path) -> str:
    """A published dataset and a new draft of it: renamed, a tag more, a file more."""
    cid = stage(ctx, str(packages["dataset"]), uploader="github|7", progress=False).concept_id
    _to_review(ctx, cid)
    publish(ctx, cid, REVIEWER)
    pkg = second_version_package(packages["dataset"], tmp_path / "v2.zip")
    stage(ctx, str(pkg), concept_id=cid, uploader="github|7", progress=False)
    return cid


def test_staging_keeps_the_changes(ctx: Context, second_version: str) -> None:
    draft = ctx.concepts.get(second_version).require_draft()
    assert draft.changes is not None and draft.changes.old == "1.0"
    fields = {f.field: f for f in draft.changes.fields}
    assert fields["name"].new == "Tiny Dataset Renamed" and fields["tags"].new == "demo, nuclei"
    assert (fields["version"].old, fields["version"].new) == ("1.0", "2.0")
    files = {f.name: f for f in draft.changes.files}
    assert files["extra.txt"].change == "added" and files["extra.txt"].new_size == len(b"new notes")
    assert files["rdf.yaml"].change == "changed"


def test_cli_diff(local_ctx: Context, packages: dict[str, Path], tmp_path: Path, run_cli: RunCli) -> None:
    ctx = local_ctx
    cid = stage(ctx, str(packages["dataset"]), uploader="github|7", progress=False).concept_id
    r = run_cli(["diff", cid], settings=ctx.settings)
    assert r.returncode != 0 and r.stderr.strip() == f"error: '{cid}' has no published version to compare with; name two"
    _to_review(ctx, cid)
    publish(ctx, cid, REVIEWER)
    pkg = second_version_package(packages["dataset"], tmp_path / "v2.zip")
    stage(ctx, str(pkg), concept_id=cid, uploader="github|7", progress=False)

    r = run_cli(["diff", cid], settings=ctx.settings)
    assert r.returncode == 0, r.stderr
    out = r.stdout
    assert f"{cid}: 1.0 -> draft (2.0)" in out
    assert "~ name: " in out and "-> Tiny Dataset Renamed" in out
    assert "+ extra.txt: 9 B, sha256 " in out and "~ rdf.yaml: " in out
    assert "verdicts (old -> new):" in out

    r = run_cli(["status", cid], settings=ctx.settings)
    assert "changes since 1.0: " in r.stdout and f"(`backoffice diff {cid}`)" in r.stdout

    r = run_cli(["diff", cid, "1.0", "draft", "--json"], settings=ctx.settings)
    assert r.returncode == 0, r.stderr
    data: Any = json.loads(r.stdout)
    assert data["old"] == "1.0" and {f["name"] for f in data["files"] if f["change"] == "added"} == {"extra.txt"}

    # a version taken over without files.json: its files are listed and hashed, the diff is the same
    ctx.storage.delete(keys.files_manifest(keys.version_files(cid, "1.0")))
    r = run_cli(["diff", cid, "1.0", "draft", "--json"], settings=ctx.settings)
    assert r.returncode == 0 and json.loads(r.stdout) == data

    r = run_cli(["diff", cid, "draft", "draft"], settings=ctx.settings)
    assert r.returncode != 0 and r.stderr.startswith("error: 'draft' compared with itself")
    r = run_cli(["diff", cid, "9.9"], settings=ctx.settings)
    assert r.returncode != 0 and "has no published version 9.9" in r.stderr
    r = run_cli(["diff", "no-such-thing"], settings=ctx.settings)
    assert r.returncode != 0 and r.stderr.startswith("error: ") and len(r.stderr.strip().splitlines()) == 1

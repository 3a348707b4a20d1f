"""The index: planned by a pure function from records and declarations; generated
incrementally from storage (only changed concept documents are read)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from backoffice.config.collection_config import load_collection_config
from backoffice.config.curation import BlockedVersion, CurationDecl
from backoffice.context import Context
from backoffice.index.generate import generate_index
from backoffice.index.models import CollectionJson
from backoffice.index.plan import conflate, plan_index
from backoffice.records.concept import (
    ConceptRecord,
    DraftRecord,
    ResourceSummary,
    ReportBrief,
    VersionRecord,
)
from backoffice.records.status import DraftStatus
from config_paths import TEST_CONFIG

REPO = Path(__file__).resolve().parents[1]
CONFIG = load_collection_config(TEST_CONFIG)
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def url_of(key: str) -> str:
    return f"https://store.example/{key}"


def _record(cid: str = "affable-shark", versions: tuple[str, ...] = ("1.0", "2.0"), draft: bool = False) -> ConceptRecord:
    r = ConceptRecord(id=cid, type="model", owners=["github|1"])
    for i, v in enumerate(versions):
        r.versions[v] = VersionRecord(
            version=v, published=T0 + timedelta(days=i), rdf_sha256=f"sha-{v}", draft_token=f"t{v}",
            summary=ResourceSummary(name=f"Shark {v}", version=v, tags=["a"], covers=["cover.png"], documentation="README.md"),
            tests={"bioimageio.core_0.11.0_onnx": ReportBrief(status="passed", report="x", tool="bioimageio.core", weight_format="onnx")},
        )
    if draft:
        r.draft = DraftRecord(token="tok", status=DraftStatus.AWAITING_REVIEW, rdf_sha256="sha-d",
                              summary=ResourceSummary(name="Shark draft", version="3.0"))
    return r


def test_plan_lists_latest_version_with_all_versions() -> None:
    files = plan_index([_record()], {}, CONFIG, url_of)
    (entry,) = files.collection.collection
    assert entry.version == "2.0" and entry.name == "Shark 2.0"
    assert [v.version for v in entry.versions] == ["2.0", "1.0"]
    assert entry.rdf_source == "https://store.example/affable-shark/2.0/files/rdf.yaml"
    assert entry.covers == ["https://store.example/affable-shark/2.0/files/cover.png"]
    assert entry.id_emoji == CONFIG.id_parts["model"].nouns["shark"]
    assert entry.test_summary.status == "passed"
    assert files.id_map["affable-shark"].source == entry.rdf_source
    assert files.id_map["affable-shark/1.0"].sha256 == "sha-1.0"
    assert set(files.id_map) == {"affable-shark", "affable-shark/1.0", "affable-shark/2.0"}
    CollectionJson.model_validate(files.collection.model_dump(mode="json"))


def test_blocked_versions_and_overrides_apply() -> None:
    decl = CurationDecl(blocked_versions=[BlockedVersion(version="2.0", reason="broken")], overrides={"name": "Better name", "tags": ["x"]})
    files = plan_index([_record()], {"affable-shark": decl}, CONFIG, url_of)
    (entry,) = files.collection.collection
    assert entry.version == "1.0" and [v.version for v in entry.versions] == ["1.0"]
    assert entry.name == "Better name" and entry.tags == ["x"]  # compatibility tags come from conflated reports (test_compat_scoring.py)
    assert "affable-shark/2.0" not in files.id_map and files.id_map["affable-shark"].sha256 == "sha-1.0"
    all_blocked = CurationDecl(blocked_versions=[BlockedVersion(version="*", reason="withdrawn")])
    files = plan_index([_record()], {"affable-shark": all_blocked}, CONFIG, url_of)
    assert files.collection.collection == [] and files.id_map == {}


def test_drafts_go_to_draft_files_only() -> None:
    files = plan_index([_record(versions=(), draft=True)], {}, CONFIG, url_of)
    assert files.collection.collection == [] and files.id_map == {}
    (draft,) = files.collection_draft.collection
    assert draft.status == "awaiting review" and draft.version == "3.0"
    assert files.id_map_draft["affable-shark/draft"].source == "https://store.example/affable-shark/drafts/tok/files/rdf.yaml"


def test_conflate_newest_report_per_tool_and_format_counts() -> None:
    old = ReportBrief(status="failed", report="bioimageio.core_0.10.0_onnx", tool="bioimageio.core", weight_format="onnx", timestamp=T0)
    new = ReportBrief(status="passed", report="bioimageio.core_0.11.0_onnx", tool="bioimageio.core", weight_format="onnx", timestamp=T0 + timedelta(1))
    spec = ReportBrief(status="valid-format", report="bioimageio.spec_0.5", tool="bioimageio.spec")
    summary = conflate({"bioimageio.core_0.10.0_onnx": old, "bioimageio.core_0.11.0_onnx": new, "bioimageio.spec_0.5": spec})
    assert summary.status == "passed"
    assert [b.label for b in summary.badges] == ["bioimageio.core_0.11.0_onnx", "bioimageio.spec_0.5"]
    partner = ReportBrief(status="failed", report="ilastik", tool="ilastik")
    assert conflate({"a": new, "ilastik": partner}).status == "failed"
    assert conflate({"s": spec}).status == "valid-format"
    assert conflate({}).status == "untested"


def _write(ctx: Context, record: ConceptRecord) -> None:
    ctx.concepts.save(record)


def test_generate_reads_only_changed_documents(ctx: Context) -> None:
    ids = ["affable-shark", "bold-bat", "calm-cat"]
    for cid in ids:
        _write(ctx, _record(cid))
    first = generate_index(ctx)
    assert (first.concepts, first.fetched, first.listed) == (3, 3, 3)
    collection = json.loads(ctx.storage.get_bytes("collection.json"))
    assert [e["id"] for e in collection["collection"]] == ids
    again = generate_index(ctx)
    assert again.fetched == 0
    _write(ctx, _record("bold-bat", versions=("1.0", "2.0", "3.0")))
    third = generate_index(ctx)
    assert third.fetched == 1
    collection = json.loads(ctx.storage.get_bytes("collection.json"))
    assert next(e for e in collection["collection"] if e["id"] == "bold-bat")["version"] == "3.0"
    ctx.storage.delete("concepts/calm-cat.json")
    ctx.concepts.mark_changed("calm-cat")
    fourth = generate_index(ctx)
    assert (fourth.concepts, fourth.fetched) == (2, 1)
    collection = json.loads(ctx.storage.get_bytes("collection.json"))
    assert [e["id"] for e in collection["collection"]] == ["affable-shark", "bold-bat"]
    id_map = json.loads(ctx.storage.get_bytes("id_map.json"))
    assert id_map["bold-bat"]["source"].endswith("/bold-bat/3.0/files/rdf.yaml")


def test_full_scan_finds_unmarked_changes(ctx: Context) -> None:
    _write(ctx, _record("affable-shark"))
    generate_index(ctx)
    # a change whose marker was lost (crash between the write and the marker)
    ctx.storage.put_bytes("concepts/affable-shark.json", _record("affable-shark", versions=("1.0", "2.0", "5.0")).model_dump_json().encode())
    assert generate_index(ctx).fetched == 0
    assert generate_index(ctx, full=True).fetched == 1
    entry = json.loads(ctx.storage.get_bytes("collection.json"))["collection"][0]
    assert entry["version"] == "5.0"
    assert list(ctx.storage.list("index/dirty/")) == []


def test_incremental_index_equals_full_plan(ctx: Context) -> None:
    records = [_record("affable-shark"), _record("bold-bat", draft=True), _record("calm-cat", versions=("0.1",))]
    for r in records:
        _write(ctx, r)
    generate_index(ctx)
    records[1] = _record("bold-bat", versions=("1.0", "2.0", "4.0"), draft=True)
    _write(ctx, records[1])
    result = generate_index(ctx)
    assert result.fetched == 1
    full = plan_index(records, ctx.curation, ctx.config, ctx.storage.public_url)
    assert json.loads(ctx.storage.get_bytes("collection.json")) == full.collection.model_dump(mode="json")
    assert json.loads(ctx.storage.get_bytes("id_map.json")) == {k: v.model_dump() for k, v in full.id_map.items()}
    assert json.loads(ctx.storage.get_bytes("collection_draft.json")) == full.collection_draft.model_dump(mode="json")
    CollectionJson.model_validate(json.loads(ctx.storage.get_bytes("collection.json")))


def test_changed_declaration_replans_its_concept(ctx: Context) -> None:
    _write(ctx, _record("affable-shark", versions=("0.1", "1.0")))
    _write(ctx, _record("bold-bat"))
    generate_index(ctx)
    (ctx.settings.collection_dir / "affable-shark.yaml").write_text("overrides:\n  name: Renamed\n")
    ctx.__dict__.pop("curation", None)  # a new run reads collection/ afresh
    result = generate_index(ctx)
    assert result.fetched == 1
    entry = json.loads(ctx.storage.get_bytes("collection.json"))["collection"][0]
    assert entry["name"] == "Renamed" and [v["version"] for v in entry["versions"]] == ["1.0", "0.1"]


def test_generate_applies_declarations_of_collection_dir(ctx: Context) -> None:
    _write(ctx, _record("affable-shark", versions=("0.1", "1.0")))
    generate_index(ctx)
    collection = json.loads(ctx.storage.get_bytes("collection.json"))
    (entry,) = collection["collection"]
    # collection/affable-shark.yaml blocks 0.1 and overrides the tags
    assert [v["version"] for v in entry["versions"]] == ["1.0"]
    assert entry["tags"] == ["nuclei", "segmentation", "fluorescence"]

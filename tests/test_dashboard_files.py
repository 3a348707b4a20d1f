"""The dashboard's files: pages written next to the index, compact detail files planned
by a pure function, refreshed for drafts and changed concepts, removed with the concept."""

from __future__ import annotations

import json
import urllib.request
from datetime import datetime, timezone
from pathlib import Path

from backoffice.context import Context
from backoffice.index.dashboard import STATIC_FILES, static_files
from backoffice.index.dashboard_plan import failure_reason, plan_detail, validation_by_field
from backoffice.index.generate import generate_index
from backoffice.records import keys
from backoffice.records.concept import ConceptRecord, DraftRecord, ResourceSummary, ReportBrief, VersionRecord
from backoffice.records.journal import ChatMessage, LogEntry
from backoffice.records.status import DraftStatus
from backoffice.serve.server import serve_in_thread

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def url_of(key: str) -> str:
    return f"https://store.example/{key}"


SPEC_SUMMARY = {
    "name": "bioimageio.spec", "status": "failed",
    "details": [
        {"name": "fields", "status": "failed",
         "errors": [{"loc": ["inputs", 0, "axes"], "msg": "axes must be unique", "type": "value_error"}],
         "warnings": [{"loc": ["tags"], "msg": "no modality tag", "type": "warning"}]},
    ],
}


def _record() -> ConceptRecord:
    r = ConceptRecord(id="affable-shark", type="model", owners=["github|1"])
    r.versions["1.0"] = VersionRecord(version="1.0", published=T0, doi="10.5281/zenodo.1",
                                      tests={"x": ReportBrief(status="passed", report="x", tool="bioimageio.core", weight_format="onnx")})
    r.draft = DraftRecord(
        token="tok", status=DraftStatus.AWAITING_REVIEW, uploader="github|1", source="https://up.example/p.zip",
        summary=ResourceSummary(name="Shark", version="2.0", covers=["cover.png"], thumbnails={"cover.png": "cover.thumbnail.png"}),
        warnings=["cover 'big.gif': decompression bomb"],
        tests={
            "bioimageio.spec_0.5": ReportBrief(status="failed", report="bioimageio.spec_0.5", tool="bioimageio.spec"),
            "bioimageio.core_0.11.0_onnx": ReportBrief(status="failed", report="r", tool="bioimageio.core", weight_format="onnx"),
            "ilastik_1.4": ReportBrief(status="passed", report="ilastik_1.4", tool="ilastik"),
        },
    )
    return r


def test_plan_detail_is_compact_and_complete() -> None:
    onnx = {"status": "failed", "details": [{"name": "reproduce", "errors": [{"loc": ["weights", "onnx"], "msg": "x" * 5000}]}]}
    detail = plan_detail(
        _record(), emoji="🦈",
        log=[LogEntry(step="stage", actor="github|1", run_url="https://ci.example/run/1", message="staged", details={"big": "x" * 10_000})],
        chat=[ChatMessage(author="github|2", text="hello")],
        draft_reports={"parts/bioimageio.core_0.11.0/static": SPEC_SUMMARY, "parts/bioimageio.core_0.11.0/onnx": onnx,
                       "deepimagej_3.0": {"status": "failed", "error": "no macro"}},
        version_reports={}, url_of=url_of,
    )
    d = detail["draft"]
    assert d["validation"]["errors"] == [{"field": "inputs.0.axes", "msg": "axes must be unique"}]
    assert d["validation"]["warnings"] == [{"field": "tags", "msg": "no modality tag"}]
    (onnx_test,) = d["tests"]
    assert onnx_test["weight_format"] == "onnx" and onnx_test["reason"].startswith("weights.onnx: xxx")
    assert onnx_test["report_url"] == url_of("affable-shark/drafts/tok/reports/parts/bioimageio.core_0.11.0/onnx.json")
    assert d["validation"]["report_url"] == url_of("affable-shark/drafts/tok/reports/parts/bioimageio.core_0.11.0/static.json")
    assert len(onnx_test["reason"]) <= 2000
    partners = {p["name"]: p for p in d["partners"]}
    assert partners["ilastik_1.4"]["status"] == "passed"
    assert partners["deepimagej_3.0"]["reason"] == "no macro"
    assert d["thumbnails"] == {url_of("affable-shark/drafts/tok/files/cover.png"): url_of("affable-shark/drafts/tok/files/cover.thumbnail.png")}
    assert d["warnings"] == ["cover 'big.gif': decompression bomb"]
    assert detail["log"] == [{"time": detail["log"][0]["time"], "step": "stage", "actor": "github|1", "subject": "draft",
                              "run_url": "https://ci.example/run/1", "message": "staged"}]
    assert detail["chat"][0]["text"] == "hello" and detail["versions"][0]["doi"] == "10.5281/zenodo.1"
    # a second version: verdicts against version 1.0's (no diff kept: the draft was staged without one)
    assert d["changes"]["old"] == "1.0" and d["changes"]["fields"] is None
    assert {v["report"]: (v["old"], v["new"]) for v in d["changes"]["verdicts"]}["x"] == ("passed", None)
    assert d["weight_scan"] is None
    assert len(json.dumps(detail)) < 6000  # log details (10 kB) and long reasons (5 kB) are not copied


def test_reasons() -> None:
    assert failure_reason({"error": "boom"}) == "boom"
    assert failure_reason(SPEC_SUMMARY) == "inputs.0.axes: axes must be unique"
    assert failure_reason({"status": "failed"}) is None
    assert validation_by_field({"details": "nonsense"})["errors"] == []


def test_generate_writes_pages_and_details(ctx: Context) -> None:
    record = _record()
    ctx.concepts.create(record)
    ctx.log(record.id).append(LogEntry(step="stage", message="staged"))
    generate_index(ctx)
    for name in STATIC_FILES:
        assert ctx.storage.get_bytes(keys.DASHBOARD_PREFIX + name) == static_files()[name]
    detail = json.loads(ctx.storage.get_bytes(keys.dashboard_detail(record.id)))
    assert detail["draft"]["status"] == "awaiting review" and [e["message"] for e in detail["log"]] == ["staged"]
    # a chat message changes no concept document: the draft's details are refreshed anyway
    ctx.chat(record.id).append(ChatMessage(author="github|2", text="later"))
    generate_index(ctx)
    detail = json.loads(ctx.storage.get_bytes(keys.dashboard_detail(record.id)))
    assert [m["text"] for m in detail["chat"]] == ["later"]
    # the concept disappears: so does its detail file
    ctx.storage.delete(keys.concept_doc(record.id))
    generate_index(ctx, full=True)
    assert not ctx.storage.exists(keys.dashboard_detail(record.id))


def test_serve_gives_folder_index_and_redirects(local_ctx: Context) -> None:
    generate_index(local_ctx)
    server, base = serve_in_thread(local_ctx.storage)
    try:
        with urllib.request.urlopen(base + "/dashboard/") as r:
            assert r.headers["Content-Type"].startswith("text/html") and b"app.js" in r.read()
        with urllib.request.urlopen(base + "/dashboard") as r:  # followed redirect
            assert r.url == base + "/dashboard/"
        with urllib.request.urlopen(base + "/dashboard/app.js") as r:
            assert "javascript" in r.headers["Content-Type"]
    finally:
        server.shutdown()
        server.server_close()


def test_details_link_and_explain_the_stored_results(ctx: Context, packages: dict[str, Path]) -> None:
    """Our own results are parts of the assembled bioimageio.core report: the detail file
    links each part (a URL that exists) and gives the failure's reason."""
    from backoffice.records.reports import store_report
    from backoffice.records.target import resolve_target
    from backoffice.stage.stage import stage

    cid = stage(ctx, str(packages["model"]), uploader="github|1", progress=False).concept_id
    target = resolve_target(ctx.concepts, cid, "draft")
    failed = {"status": "failed", "details": [{"name": "reproduce", "errors": [{"loc": ["weights", "onnx"], "msg": "outputs differ"}]}]}
    store_report(ctx.storage, ctx.concepts, ctx.record_step, target, "bioimageio.core_0.11.0_onnx", "failed", failed,
                 step="test", message="onnx failed", tool="bioimageio.core", weight_format="onnx")
    generate_index(ctx)
    detail = json.loads(ctx.storage.get_bytes(keys.dashboard_detail(cid)))
    (onnx_test,) = [t for t in detail["draft"]["tests"] if t["weight_format"] == "onnx"]
    assert onnx_test["reason"] == "reproduce (weights.onnx): outputs differ" or "outputs differ" in onnx_test["reason"]
    key = keys.draft_reports(cid, target.draft_token or "") + "parts/bioimageio.core_0.11.0/onnx.json"
    assert onnx_test["report_url"] == ctx.storage.public_url(key) and ctx.storage.exists(key)
    assert not [p for p in detail["draft"]["partners"] if p["name"].startswith("parts/")]

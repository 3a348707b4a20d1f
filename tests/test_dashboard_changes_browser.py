"""The draft view of a second version in a real browser (headless Chromium): what changed
since the published version (description fields, files, verdicts) and the weight scan."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.index.generate import generate_index
from backoffice.records.concept import ConceptRecord
from backoffice.records.reports import store_report
from backoffice.records.status import DraftStatus
from backoffice.records.target import resolve_target
from backoffice.review.publish import publish
from backoffice.serve.server import make_server
from backoffice.stage.stage import stage
from backoffice.validate.static import validate_format
from browser_fixtures import store_on_free_port
from package_edits import edit_package

pytestmark = pytest.mark.slow

NEW_NAME = "Tiny Demo Model Two"


def _to(ctx: Context, cid: str, *statuses: DraftStatus) -> None:
    def mutate(record: ConceptRecord) -> None:
        for s in statuses:
            record.set_draft_status(s)

    ctx.concepts.update(cid, mutate)


@pytest.fixture(scope="module")
def site(packages: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    """A published model and a draft of its version 2.0 (renamed, a file more, validated, one test passed); served."""
    tmp = tmp_path_factory.mktemp("changes")
    ctx, port = store_on_free_port(tmp)
    cid = stage(ctx, str(packages["model"]), uploader="github|7", progress=False).concept_id
    _to(ctx, cid, DraftStatus.TESTING, DraftStatus.AWAITING_REVIEW)
    publish(ctx, cid, "github|10000001")

    def edit(rdf: dict[str, Any]) -> None:
        rdf.update(version="2.0", name=NEW_NAME)

    v2 = edit_package(packages["model"], tmp / "v2.zip", edit, {"notes.txt": b"what changed"})
    stage(ctx, str(v2), concept_id=cid, uploader="github|7", progress=False)
    validate_format(ctx, cid)
    store_report(ctx.storage, ctx.concepts, ctx.record_step, resolve_target(ctx.concepts, cid, "draft"),
                 "bioimageio.core_0.11.0_onnx", "passed", {"status": "passed", "details": []},
                 step="test", message="onnx: passed", tool="bioimageio.core", weight_format="onnx")
    generate_index(ctx)
    server = make_server(ctx.storage, port=port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}/dashboard/", cid
    finally:
        server.shutdown()
        server.server_close()


def test_draft_view_shows_changes_and_scan(page: Any, site: tuple[str, str]) -> None:
    url, cid = site
    page.goto(url + "#drafts")
    page.wait_for_selector("body[data-ready=drafts]")
    page.locator(f'tr.draft-row[data-id="{cid}"]').click()
    detail = page.locator(f'tr.draft-row[data-id="{cid}"] + tr.detail-row')
    detail.locator("tr.field-change").first.wait_for()
    assert "Changes since version 1.0" in detail.inner_text()

    name = detail.locator('tr.field-change[data-field="name"]')
    assert name.get_attribute("data-change") == "changed"
    assert name.locator("td.old").inner_text() == "Tiny Demo Model" and name.locator("td.new").inner_text() == NEW_NAME
    version = detail.locator('tr.field-change[data-field="version"]')
    assert (version.locator("td.old").inner_text(), version.locator("td.new").inner_text()) == ("1.0", "2.0")

    files = detail.locator("tr.file-change").evaluate_all("rs => rs.map(r => [r.dataset.file, r.dataset.change])")
    assert ["notes.txt", "added"] in files and ["rdf.yaml", "changed"] in files
    assert all(f != "weights.onnx" for f, _ in files)  # unchanged files are not listed
    assert "12 B" in detail.locator('tr.file-change[data-file="notes.txt"]').inner_text()
    verdicts = detail.locator("tr.verdict-change").all_inner_texts()
    assert any("bioimageio.core_0.11.0_onnx" in v and "none" in v and "passed" in v for v in verdicts), verdicts

    scan = detail.locator("p.scan-status")
    assert "passed" in scan.inner_text() and "picklescan" in scan.inner_text()
    scanned = detail.locator("tr.scan-row").evaluate_all("rs => rs.map(r => r.dataset.file)")
    assert sorted(scanned) == ["weights.pt", "weights_torchscript.pt"]
    assert "cannot carry Python code" in detail.locator("ul.formats").inner_text()  # onnx

"""The dashboard in a real browser: Debian's Chromium, headless, driven by Playwright,
on a store made here and served by `backoffice serve`'s server on 127.0.0.1.

Asserts what a reviewer sees: a failed test's reason, a chat message, a thumbnail that
loads, a status filter and a search that work, hostile text shown as text.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import numpy as np
from PIL import Image

from backoffice.context import Context
from backoffice.index.generate import generate_index
from backoffice.records.concept import ConceptRecord
from backoffice.records.journal import ChatMessage, LogEntry
from backoffice.records.reports import store_report
from backoffice.records.status import DraftStatus
from backoffice.review.publish import publish
from backoffice.serve.server import make_server
from backoffice.stage.stage import stage
from backoffice.storage.local import LocalStorage
from backoffice.validate.static import failed_summary
from backoffice.records.target import resolve_target
from backoffice.records.verdicts import KeptOutput, OutputFigures, Verdict
from browser_fixtures import store_on_free_port
from package_edits import edit_package

pytestmark = pytest.mark.slow

REVIEWER = "github|10000001"
HOSTILE = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
REASON = "weights.onnx: output differs from the test output by 0.5 (tolerance 1e-4)"
CHAT = "Please add a scale bar to the cover."
_KEPT = np.arange(4, dtype=np.float32).reshape(1, 1, 2, 2)
_buf = io.BytesIO()
np.save(_buf, _KEPT)
KEPT_NPY = _buf.getvalue()
WARNING_VERDICT = Verdict(
    runs=True, reproduces=False, outcome="warning", hardware="CPU: Test CPU",
    reason="output 'output': 3 of 4096 elements (732.4 ppm) outside the tolerance",
    outputs={"output": OutputFigures(
        integer=False, elements=4096, shape=[1, 1, 64, 64], dtype="float32", max_abs_error=0.01, max_rel_error=0.0123,
        mismatched_elements=3, mismatched_ppm=732.422, reproduces=False,
        tolerance={"relative": 1e-3, "absolute": 1e-3, "mismatched_elements_per_million": 100.0},
        kept=KeptOutput(file="output.npy", shape=[1, 1, 2, 2], dtype="float32", full_shape=[1, 1, 64, 64],
                        crop=[[0, 1], [0, 1], [31, 33], [31, 33]]))})


def big_png(width: int = 4000, height: int = 2000) -> bytes:
    gradient = Image.linear_gradient("L").resize((width, height))
    buf = io.BytesIO()
    Image.merge("RGB", (gradient, gradient.transpose(Image.Transpose.FLIP_LEFT_RIGHT), gradient)).save(buf, format="PNG")
    return buf.getvalue()


def repackage(src: Path, out: Path, *, name: str | None = None, extra: dict[str, bytes] | None = None,
              covers: list[str] | None = None, tags: list[str] | None = None) -> Path:
    changes = {k: v for k, v in (("name", name), ("covers", covers), ("tags", tags)) if v is not None}
    return edit_package(src, out, lambda rdf: rdf.update(changes), extra)


def _to(ctx: Context, cid: str, *statuses: DraftStatus) -> None:
    def mutate(record: ConceptRecord) -> None:
        for s in statuses:
            record.set_draft_status(s)

    ctx.concepts.update(cid, mutate)


@dataclass
class Site:
    url: str
    storage: LocalStorage
    published: str
    failing: str
    hostile: str
    fresh: str


@pytest.fixture(scope="module")
def site(packages: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """A store with a published dataset (big cover), a model draft whose onnx test failed
    (with chat), a draft with a hostile name and chat, and a fresh draft; served."""
    tmp = tmp_path_factory.mktemp("dashboard")
    ctx, port = store_on_free_port(tmp)

    pkg = repackage(packages["dataset"], tmp / "pub.zip", extra={"big.png": big_png()}, covers=["big.png"],
                    tags=["segmentation", "nuclei"])
    published = stage(ctx, str(pkg), uploader="github|7", progress=False).concept_id
    _to(ctx, published, DraftStatus.TESTING, DraftStatus.AWAITING_REVIEW)
    publish(ctx, published, REVIEWER)

    failing = stage(ctx, str(packages["model"]), uploader="github|7", progress=False).concept_id
    _to(ctx, failing, DraftStatus.TESTING)
    target = resolve_target(ctx.concepts, failing, "draft")
    store_report(ctx.storage, ctx.concepts, ctx.record_step, target, "bioimageio.core_0.11.0_onnx", "failed",
                 failed_summary("bioimageio.core test of onnx", "rdf.yaml", REASON),
                 step="test", message="onnx: failed", tool="bioimageio.core", weight_format="onnx")
    store_report(ctx.storage, ctx.concepts, ctx.record_step, target, "bioimageio.core_0.11.0_torchscript", "warning",
                 {"status": "failed", "details": []}, step="test", message="torchscript: warning", tool="bioimageio.core",
                 weight_format="torchscript", verdict=WARNING_VERDICT, kept={"output.npy": KEPT_NPY})
    _to(ctx, failing, DraftStatus.AWAITING_REVIEW)
    ctx.chat(failing).append(ChatMessage(author=REVIEWER, text=CHAT))
    ctx.log(failing).append(LogEntry(step="test", actor="ci", run_url="https://github.com/bioimage-io/collection/actions/runs/42", message="ran"))

    hostile_pkg = repackage(packages["notebook"], tmp / "hostile.zip", name=HOSTILE)
    hostile = stage(ctx, str(hostile_pkg), uploader="github|666", progress=False).concept_id
    ctx.chat(hostile).append(ChatMessage(author="github|666", text=HOSTILE))
    ctx.log(hostile).append(LogEntry(step="test", actor="x", run_url="javascript:window.__pwned=3", message=HOSTILE))

    fresh = stage(ctx, str(packages["model_v2"]), uploader="github|8", progress=False).concept_id
    generate_index(ctx)

    server = make_server(ctx.storage, port=port)
    import threading

    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield Site(f"http://127.0.0.1:{port}/dashboard/", ctx.storage, published, failing, hostile, fresh)
    finally:
        server.shutdown()
        server.server_close()


def open_page(page: Any, url: str, name: str) -> None:
    page.goto(url)
    page.wait_for_selector(f"body[data-ready={name}]")


def test_drafts_page_shows_reason_chat_and_log(page: Any, site: Site) -> None:
    open_page(page, site.url + "#drafts", "drafts")
    rows = page.locator("tr.draft-row")
    assert rows.count() == 3
    assert rows.first.get_attribute("data-id") == site.failing  # awaiting review first
    rows.first.click()
    detail = page.locator("tr.detail-row").first
    detail.locator("pre.reason").first.wait_for()
    assert REASON in detail.locator("pre.reason").first.inner_text()
    assert detail.locator(".chat-text").inner_text() == CHAT
    run = detail.locator("a", has_text="run")
    assert run.first.get_attribute("href") == "https://github.com/bioimage-io/collection/actions/runs/42"
    statuses = detail.locator("tr.test-row").evaluate_all("rows => rows.map(r => r.dataset.status)")
    assert sorted(statuses) == ["failed", "warning"]


def test_draft_shows_both_verdicts_figures_and_the_kept_output(page: Any, site: Site) -> None:
    import urllib.request

    open_page(page, site.url + "#drafts", "drafts")
    page.locator(f'tr.draft-row[data-id="{site.failing}"]').click()
    row = page.locator('tr.detail-row tr.test-row[data-weight-format="torchscript"]')
    row.wait_for()
    assert (row.locator("td.runs").inner_text(), row.locator("td.reproduces").inner_text()) == ("yes", "no")
    assert "CPU: Test CPU: warning" in row.inner_text()
    figures = row.locator("li.output-figures").inner_text()
    assert "max abs error 0.01, max rel error 0.0123, 732.4 ppm mismatched (tolerance: relative 0.001, absolute 0.001)" in figures
    link = row.locator("a", has_text="produced output (.npy)").get_attribute("href")
    assert link is not None and link.endswith("/torchscript/cpu-test-cpu/output.npy")
    with urllib.request.urlopen(link) as r:
        assert np.array_equal(np.load(io.BytesIO(r.read()), allow_pickle=False), _KEPT)
    onnx = page.locator('tr.detail-row tr.test-row[data-weight-format="onnx"]')
    assert onnx.locator("td.runs").inner_text() == "–"  # a result without verdicts (a failed summary) shows none


def test_status_filter(page: Any, site: Site) -> None:
    open_page(page, site.url, "drafts")
    page.select_option("#status-filter", "awaiting review")
    visible = page.locator("tr.draft-row:visible")
    assert visible.count() == 1 and visible.first.get_attribute("data-id") == site.failing
    page.select_option("#status-filter", "unpacked")
    ids = sorted(page.locator("tr.draft-row:visible").evaluate_all("rows => rows.map(r => r.dataset.id)"))
    assert ids == sorted([site.hostile, site.fresh])
    page.select_option("#status-filter", "")
    assert page.locator("tr.draft-row:visible").count() == 3


def test_hostile_text_is_text(page: Any, site: Site) -> None:
    open_page(page, site.url, "drafts")
    row = page.locator(f'tr.draft-row[data-id="{site.hostile}"]')
    assert HOSTILE in row.locator(".name").inner_text()
    row.click()
    detail = page.locator(f'tr.draft-row[data-id="{site.hostile}"] + tr.detail-row')
    detail.locator(".chat-text").wait_for()
    assert detail.locator(".chat-text").inner_text() == HOSTILE
    assert page.evaluate("window.__pwned") is None
    assert page.locator("main script, main img[src='x']").count() == 0
    # a javascript: run URL is shown as nothing clickable
    hrefs = page.locator("main a").evaluate_all("as => as.map(a => a.getAttribute('href'))")
    assert hrefs and all(h.startswith(("http://", "https://")) for h in hrefs), hrefs


def test_collection_card_thumbnail_and_search(page: Any, site: Site) -> None:
    open_page(page, site.url + "#collection", "collection")
    assert page.locator("#count").inner_text() == "1 of 1"
    assert "null" not in page.locator("main").inner_text()
    card = page.locator(f'article.card[data-id="{site.published}"]')
    img = card.locator("img.card-cover")
    assert img.get_attribute("src").endswith("/big.thumbnail.png")
    img.scroll_into_view_if_needed()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
    assert img.evaluate("i => [i.naturalWidth, i.naturalHeight]") == [600, 300]
    page.fill("#search", "tag:nuclei")
    page.wait_for_function("() => document.querySelector('#count').textContent.startsWith('1 of')")
    page.fill("#search", "no-such-thing-anywhere")
    page.wait_for_function("() => document.querySelector('#count').textContent.startsWith('0 of')")
    assert page.locator("article.card").count() == 0
    page.fill("#search", "")
    page.wait_for_function("() => document.querySelectorAll('article.card').length === 1")
    card.locator("button", has_text="history").click()
    card.locator("tr.log-row").first.wait_for()
    assert "published version" in card.locator(".card-detail").inner_text()


def test_compatibility_page_without_reports(page: Any, site: Site) -> None:
    open_page(page, site.url + "#compatibility", "compatibility")
    assert "No partner compatibility reports yet" in page.locator("#no-compat").inner_text()


def test_compatibility_page_per_partner(page: Any, site: Site) -> None:
    overview = {"name": "compat", "tools": {"ilastik": {
        "name": "ilastik", "partners": [{"id": "ilastik", "name": "ilastik"}],
        "works": [{"id": site.published, "version": "1.0", "type": "dataset", "tool_version": "1.4", "score": 1.0,
                   "report": "https://example.org/ilastik_1.4.json"}],
        "fails": [{"id": site.failing, "version": "1.0", "type": "model", "tool_version": "1.4", "score": 0.0,
                   "reason": HOSTILE}],
        "not_applicable": 2}}}
    site.storage.put_bytes("compatibility.json", json.dumps(overview).encode())
    try:
        open_page(page, site.url + "#compatibility", "compatibility")
        tool = page.locator('section.tool[data-tool="ilastik"]')
        assert "1 work, 1 fail, 2 not applicable" in tool.locator("h3").inner_text()
        rows = tool.locator("tr.compat-row")
        assert rows.evaluate_all("rs => rs.map(r => r.dataset.status)") == ["passed", "failed"]
        assert rows.nth(1).locator("pre.reason").inner_text() == HOSTILE
        assert page.evaluate("window.__pwned") is None
    finally:
        site.storage.delete("compatibility.json")

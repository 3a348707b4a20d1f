"""The dashboard of an imported collection in a real browser (headless Chromium, served on
127.0.0.1): version labels as they are (`v0`, never `vv0`), one status per version, and the
import's log in a reviewer's words (`imported v0`, not the plan's `create`/`extend`)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import datetime
from typing import Any

import pytest

from backoffice.importer.run import import_collection
from backoffice.index.generate import generate_index
from backoffice.serve.server import make_server
from browser_fixtures import store_on_free_port
from import_helpers import AT, RUNNING

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp = tmp_path_factory.mktemp("imported")
    ctx, port = store_on_free_port(tmp)
    import_collection(ctx, [str(RUNNING)], files=False, at=datetime.fromisoformat(AT), workers=4)
    generate_index(ctx)
    server = make_server(ctx.storage, port=port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{port}/dashboard/"
    finally:
        server.shutdown()
        server.server_close()


def test_imported_versions_read_as_published_upstream(page: Any, site: str) -> None:
    page.goto(site + "#collection")
    page.wait_for_selector("body[data-ready=collection]")
    page.fill("#search", "romantic-shark")
    page.wait_for_function("() => document.querySelectorAll('article.card').length === 1")
    card = page.locator('article.card[data-id="romantic-shark"]')
    lines = card.locator("ul.versions > li").all_inner_texts()
    assert [ln.split(" · ")[0] for ln in lines] == ["v1", "v0"]  # the labels as they are: no `vv0`
    card.locator("button", has_text="history").click()
    card.locator("tr.log-row").first.wait_for()
    detail = card.locator(".card-detail")
    versions = detail.locator("ul").first.locator("li").all_inner_texts()
    assert versions[1].startswith("version v0 published 2026-02-25")
    assert versions[1].count("published") == 1 and "imported from the running collection" in versions[1]
    message = detail.locator("tr.log-row").first.inner_text()
    assert "imported v0, v1; 22 reports (from " in message and "create" not in message

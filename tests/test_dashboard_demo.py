"""After the README's main job (`backoffice demo`), the dashboard shows the tiny model's
published card and its draft history — in headless Chromium, served on 127.0.0.1."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.demo.pipeline import run_demo
from backoffice.serve.server import serve_in_thread
from backoffice.storage.local import LocalStorage

pytestmark = pytest.mark.slow


def test_demo_store_dashboard(page: Any, settings_factory: Any, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    storage = LocalStorage(tmp_path / "store", f"http://127.0.0.1:{port}")
    lines: list[str] = []
    result = run_demo(Context(settings_factory(), storage=storage), lines.append)
    assert result.dashboard == f"http://127.0.0.1:{port}/dashboard/"
    server, base = serve_in_thread(storage, port=port)
    try:
        page.goto(result.dashboard + "#collection")
        page.wait_for_selector("body[data-ready=collection]")
        card = page.locator(f'article.card[data-id="{result.concept_id}"]')
        assert "Tiny Demo Model" in card.locator("h3").inner_text()
        assert "passed" in card.locator(".badges").inner_text()
        img = card.locator("img.card-cover")
        page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=img.element_handle())
        card.locator("button", has_text="history").click()
        card.locator("tr.log-row").first.wait_for()
        steps = card.locator("tr.log-row td:nth-child(3)").all_inner_texts()
        for step in ("stage", "validate-format", "test", "accept", "publish"):
            assert step in steps, steps
        assert "published version 1.0" in card.locator(".card-detail").inner_text()
    finally:
        server.shutdown()
        server.server_close()

"""Fixtures for the browser tests: one headless Chromium per session (Debian's
/usr/bin/chromium driven by Playwright; never a browser download) and a fresh page
per test that fails the test on any JavaScript error."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from config_paths import EXAMPLE_COLLECTION, TEST_CONFIG

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One headless Chromium for the whole session."""
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: run scripts/install_system_packages.sh")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Any) -> Iterator[Any]:
    """A page in a fresh browser context; any uncaught JavaScript error fails the test."""
    context = browser.new_context()
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda e: errors.append(str(e)))
    try:
        yield pg
    finally:
        context.close()
    assert not errors, errors


def store_on_free_port(tmp: Path) -> tuple[Any, int]:
    """A context on a local store under `tmp` whose public URL is a free port of 127.0.0.1
    (for a server the test starts there), with the repository's config: (context, port)."""
    import socket

    from backoffice.context import Context
    from backoffice.settings import Settings
    from backoffice.storage.local import LocalStorage
    from backoffice_fixtures import REPO

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    storage = LocalStorage(tmp / "store", f"http://127.0.0.1:{port}")
    settings = Settings(local_root=tmp / "store", config_path=TEST_CONFIG,  # type: ignore[call-arg]
                        collection_dir=EXAMPLE_COLLECTION, env_templates_dir=REPO / "env_templates")
    return Context(settings, storage=storage), port

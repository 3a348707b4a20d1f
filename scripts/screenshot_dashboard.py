"""Screenshots of the dashboard on the demo store: docs/dashboard-drafts.png,
docs/dashboard-collection.png, docs/dashboard-compatibility.png.

Runs the README's main job (`backoffice demo`) in a temporary folder, then stages an
update of the tiny model whose onnx weights give a wrong output (so the Drafts page
has a failed test with its reason), adds a chat message, regenerates the index, serves
the store on 127.0.0.1 and photographs each page with headless Chromium (Debian's,
driven by Playwright).

    python scripts/screenshot_dashboard.py [--out docs]
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import tempfile
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
REVIEWER = "github|10000001"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_store(folder: Path, port: int) -> tuple[object, str]:
    """The demo store plus a failing update; returns (storage, concept id)."""
    from backoffice.bioimageio_environ import offline_bioimageio_environ

    os.environ.update(offline_bioimageio_environ(folder / "bioimageio"))
    from backoffice.context import Context
    from backoffice.demo.config import demo_context
    from backoffice.demo.packages import build_model_package
    from backoffice.demo.pipeline import run_demo
    from backoffice.index.generate import generate_index
    from backoffice.records.journal import ChatMessage
    from backoffice.settings import Settings
    from backoffice.stage.stage import stage
    from backoffice.storage.local import LocalStorage
    from backoffice.dynamic.run import run_weight_format_test
    from backoffice.dynamic.environments import current_env
    from backoffice.validate.static import validate_format

    shutil.copytree(REPO / "collection", folder / "collection")
    settings = Settings(  # type: ignore[call-arg]
        local_root=folder / "store", config_path=REPO / "bioimageio_collection_config.json",
        collection_dir=folder / "collection", env_templates_dir=REPO / "env_templates",
    )
    storage = LocalStorage(folder / "store", f"http://127.0.0.1:{port}")
    ctx = demo_context(Context(settings, storage=storage), folder / "demo-config")  # the demo's reviewer
    result = run_demo(ctx, print)
    cid = result.concept_id
    package = build_model_package(folder / "update.zip", formats=["onnx"], concept_id=cid, version="1.1", wrong_output=True)
    stage(ctx, str(package), uploader="demo-uploader@example.org", progress=False)
    for wf in validate_format(ctx, cid, "draft").dynamic_formats:
        print(f"test {wf}:", run_weight_format_test(ctx, cid, "draft", wf, current_env()).status)
    ctx.chat(cid).append(ChatMessage(author=REVIEWER, text="The onnx weights of 1.1 do not reproduce the test output; could you re-export them?"))
    generate_index(ctx)
    return storage, cid


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--out", type=Path, default=REPO / "docs")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from backoffice.serve.server import make_server

    port = free_port()
    with tempfile.TemporaryDirectory(prefix="backoffice-screenshots-") as tmp:
        storage, cid = build_store(Path(tmp), port)
        server = make_server(storage, port=port)  # type: ignore[arg-type]
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{port}/dashboard/"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
                page = browser.new_page(viewport={"width": 1280, "height": 900})
                page.goto(url + "#drafts")
                page.wait_for_selector("body[data-ready=drafts]")
                page.locator(f'tr.draft-row[data-id="{cid}"]').click()
                page.locator("tr.detail-row pre.reason").first.wait_for()
                page.screenshot(path=str(args.out / "dashboard-drafts.png"), full_page=True)
                page.goto(url + "#collection")
                page.wait_for_selector("body[data-ready=collection]")
                card = page.locator(f'article.card[data-id="{cid}"]')
                card.locator("button", has_text="history").click()
                card.locator("tr.log-row").first.wait_for()
                page.wait_for_function("() => [...document.images].every(i => i.complete)")
                page.screenshot(path=str(args.out / "dashboard-collection.png"), full_page=True)
                page.goto(url + "#compatibility")
                page.wait_for_selector("body[data-ready=compatibility]")
                page.screenshot(path=str(args.out / "dashboard-compatibility.png"))
                browser.close()
        finally:
            server.shutdown()
            server.server_close()
    from PIL import Image

    for name in ("drafts", "collection", "compatibility"):
        path = args.out / f"dashboard-{name}.png"
        with Image.open(path) as im:  # a palette keeps each PNG small for the repository
            small = im.convert("RGB").quantize(colors=128)
        small.save(path, optimize=True)
        print(f"wrote {path} ({path.stat().st_size // 1024} kB)")


if __name__ == "__main__":
    main()

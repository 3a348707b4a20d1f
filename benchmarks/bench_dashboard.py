"""Benchmark: the dashboard's time to first render in headless Chromium for a generated
10,000-concept index (override with --concepts / --drafts).

Seeds a local store with synthetic concepts (2 published versions each, one cover, a
thumbnail, test badges) and some drafts, generates the index and the dashboard, serves
the store with `backoffice serve`'s server on 127.0.0.1 and opens each page in Debian's
Chromium (driven by Playwright) --runs times in a fresh browser context. Prints the
median and range of the time from navigation start to the page's first render (the
dashboard marks it), the size of the files read, and the time a search takes.

    python benchmarks/bench_dashboard.py [--concepts 10000] [--drafts 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import socket
import statistics
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]


def seed(folder: Path, port: int, n_concepts: int, n_drafts: int) -> Any:
    from backoffice.config.collection_config import load_collection_config
    from backoffice.context import Context
    from backoffice.records.concept import ConceptRecord, DraftRecord, ResourceSummary, ReportBrief, VersionRecord
    from backoffice.records.status import DraftStatus
    from backoffice.settings import Settings
    from backoffice.storage.local import LocalStorage

    config = load_collection_config(REPO / "bioimageio_collection_config.json")
    parts = config.id_parts["model"]
    ids = [f"{a}-{n}" for a in parts.adjectives for n in parts.nouns][:n_concepts]
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
    formats = ("pytorch_state_dict", "torchscript", "onnx")

    def summary(cid: str, v: str) -> ResourceSummary:
        return ResourceSummary(name=f"Model {cid}", description="A synthetic model for the dashboard benchmark.",
                               version=v, tags=["segmentation", "nuclei", "2d", cid.split("-")[1]], authors=["A. Author", "B. Author"],
                               covers=["cover.png"], thumbnails={"cover.png": "cover.thumbnail.png"}, license="MIT",
                               documentation="README.md", weight_formats=list(formats))

    def record(i: int, cid: str) -> ConceptRecord:
        r = ConceptRecord(id=cid, type="model", owners=["github|1"])
        for k in range(2):
            v = f"{k + 1}.0"
            r.versions[v] = VersionRecord(
                version=v, published=t0 + timedelta(days=k), rdf_sha256="0" * 64, draft_token=f"t{k}", summary=summary(cid, v),
                doi=f"10.5281/zenodo.{1000000 + 2 * i + k}",
                tests={f"bioimageio.core_0.11.0_{wf}": ReportBrief(status="passed", report=wf, tool="bioimageio.core", weight_format=wf)
                       for wf in formats},
            )
        if i < n_drafts:
            r.draft = DraftRecord(token=f"d{i}", status=[DraftStatus.AWAITING_REVIEW, DraftStatus.TESTING, DraftStatus.UNPACKED][i % 3],
                                  uploader="github|1", summary=summary(cid, "3.0"))
        return r

    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.linear_gradient("L").resize((600, 300)).save(buf, format="PNG")
    thumb = buf.getvalue()
    storage = LocalStorage(folder / "store", f"http://127.0.0.1:{port}")

    def put(ic: tuple[int, str]) -> None:
        storage.put_bytes(f"concepts/{ic[1]}.json", record(*ic).model_dump_json().encode())
        storage.put_bytes(f"{ic[1]}/2.0/files/cover.thumbnail.png", thumb)  # what the cards show

    with ThreadPoolExecutor(8) as pool:
        list(pool.map(put, enumerate(ids)))
    settings = Settings(local_root=folder / "store", config_path=REPO / "bioimageio_collection_config.json",  # type: ignore[call-arg]
                        collection_dir=REPO / "collection")
    return Context(settings, storage=storage)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concepts", type=int, default=10_000)
    parser.add_argument("--drafts", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    from backoffice.index.generate import generate_index
    from backoffice.serve.server import make_server

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    with tempfile.TemporaryDirectory(prefix="bench-dashboard-") as tmp:
        start = time.perf_counter()
        ctx = seed(Path(tmp), port, args.concepts, args.drafts)
        print(f"seeded {args.concepts} concepts ({args.drafts} with drafts) in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        generate_index(ctx)
        print(f"index + dashboard (every detail file, no cache): {time.perf_counter() - start:.1f} s")
        for key in ("collection.json", "collection_draft.json", "dashboard/app.js"):
            info = ctx.storage.head(key)
            print(f"  {key}: {(info.size if info else 0) / 1e6:.2f} MB")
        server = make_server(ctx.storage, port=port)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        base = f"http://127.0.0.1:{port}/dashboard/"
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True)
                for page_name in ("drafts", "collection"):
                    times: list[float] = []
                    for _ in range(args.runs):
                        context = browser.new_context(viewport={"width": 1280, "height": 900})
                        page = context.new_page()
                        page.goto(base + "#" + page_name)
                        page.wait_for_selector(f"body[data-ready={page_name}]", timeout=120_000)
                        times.append(float(page.evaluate(f"window.__dashboard['{page_name}']")))
                        if page_name == "collection":
                            t = time.perf_counter()
                            page.fill("#search", "tag:leopard")
                            page.wait_for_function("() => !document.querySelector('#count').textContent.endsWith(' of 0') && "
                                                   "document.querySelector('#count').textContent.split(' of ')[0] !== String(" + str(args.concepts) + ")")
                            search_ms = (time.perf_counter() - t) * 1000
                            cards = page.locator("article.card").count()
                        context.close()
                    print(f"{page_name}: first render {statistics.median(times):.0f} ms median "
                          f"({min(times):.0f}–{max(times):.0f} ms over {args.runs} runs)")
                print(f"collection search 'tag:leopard' (incl. 120 ms input debounce): {search_ms:.0f} ms, {cards} cards rendered")
                browser.close()
        finally:
            server.shutdown()
            server.server_close()


if __name__ == "__main__":
    main()

"""Benchmark: index generation for a synthetic collection, on moto's S3 server in its
own process (or a local folder with --local).

10,000 model concepts with 2 published versions each (override with --concepts). For each
run, the concept documents are seeded into a fresh store (a new moto bucket, or a local
folder), nothing else, and:

1. the cold full generation: no index cache, no `index/derived.json`: every concept
   document read and every `versions.json` and dashboard detail written (what a store
   gets once; the pipeline's own runs then write them as concepts change);
2. the warm full generation: the index cache deleted, every concept document listed and
   read, the derived files present (written only where due);
3. `--full`: the same with the cache present (etags compared, markers not trusted);
4. the regeneration after one publish (incremental).

For each: wall time, S3 requests (botocore's `before-call` event, which the fast path
emits too; per concept), CPU of this process (per request) and of moto, and this
process's peak RSS during that run. `--client` picks what sends the whole-object GETs and
small PUTs on moto: `obstore` (the fast path, `storage/s3_obstore.py`), `botocore`, or
`both`, alternated over `--rounds` rounds (A B B A: both see the same load). The last line is
`RESULT {json}` for `plot_index_growth.py` (the first run's figures, and every run).

    python benchmarks/bench_index.py [--concepts N] [--local] [--client obstore|botocore|both] [--rounds R] [--profile]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO, RequestCounter, client_order, cpu_seconds, moto_process, peak_rss_mib, reset_peak_rss, s3_storage, use_client  # noqa: E402

if TYPE_CHECKING:
    from backoffice.records.concept import ConceptRecord

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)


def record(cid: str, n_versions: int = 2) -> ConceptRecord:
    from backoffice.records.concept import ConceptRecord, ReportBrief, ResourceSummary, VersionRecord

    r = ConceptRecord(id=cid, type="model", owners=["github|1"])
    for i in range(n_versions):
        v = f"{i + 1}.0"
        r.versions[v] = VersionRecord(
            version=v, published=T0 + timedelta(days=i), rdf_sha256="0" * 64, draft_token=f"t{i}",
            summary=ResourceSummary(name=f"Model {cid}", description="A synthetic model for the benchmark.",
                                    version=v, tags=["segmentation", "nuclei", "2d"], authors=["A. Author", "B. Author"],
                                    covers=["cover.png"], license="MIT", documentation="README.md",
                                    weight_formats=["pytorch_state_dict", "torchscript", "onnx"]),
            tests={f"bioimageio.core_0.11.0_{wf}": ReportBrief(status="passed", report=f"r-{wf}", tool="bioimageio.core", weight_format=wf)
                   for wf in ("pytorch_state_dict", "torchscript", "onnx")},
        )
    return r


def measure(label: str, run: Callable[[], Any], counter: RequestCounter | None, n: int, profile: bool = False) -> dict[str, Any]:
    """Time one index run; print and return its figures."""
    if counter is not None:
        counter.n = 0
    reset_peak_rss()
    cpu_before = cpu_seconds()
    start = time.perf_counter()
    if profile:
        import cProfile
        import pstats

        with cProfile.Profile() as prof:
            result = run()
        pstats.Stats(prof).sort_stats(os.environ.get("BENCH_SORT", "cumulative")).print_stats(25)
    else:
        result = run()
    seconds = time.perf_counter() - start
    cpu = [after - before for after, before in zip(cpu_seconds(), cpu_before)]
    peak = peak_rss_mib()
    requests = counter.n if counter is not None else None
    per = (f", {requests} requests ({requests / n:.3f} per concept, {1000 * cpu[0] / requests:.2f} ms CPU here per request)"
           if requests else "")
    print(f"{label}: {seconds:.2f} s{per}, {result.fetched} concept documents read, peak RSS {peak:.0f} MB;"
          f" CPU {cpu[0]:.1f} s here, {cpu[1]:.1f} s moto (load {os.getloadavg()[0]:.1f})", flush=True)
    return {"seconds": round(seconds, 2), "requests": requests, "fetched": result.fetched, "peak_rss_mb": round(peak),
            "cpu_s": round(cpu[0], 1), "moto_cpu_s": round(cpu[1], 1), "load_after": round(os.getloadavg()[0], 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concepts", type=int, default=10_000)
    parser.add_argument("--local", action="store_true", help="a local folder instead of moto's S3 server")
    parser.add_argument("--profile", action="store_true", help="profile the warm full generation")
    parser.add_argument("--client", choices=("obstore", "botocore", "both"), default="obstore",
                        help="what sends whole-object GETs and small PUTs on moto (both: alternated)")
    parser.add_argument("--rounds", type=int, default=1, help="runs per client (each on a fresh store)")
    args = parser.parse_args()

    from backoffice.config.collection_config import load_collection_config
    from backoffice.context import Context
    from backoffice.index.generate import generate_index
    from backoffice.records import keys
    from backoffice.settings import Settings
    from backoffice.storage.base import Storage
    from backoffice.storage.local import LocalStorage

    config = load_collection_config(REPO / "bioimageio_collection_config.json")
    ids = [f"{a}-{n}" for kind in ("model", "dataset", "application", "notebook") if kind in config.id_parts
           for a in config.id_parts[kind].adjectives for n in config.id_parts[kind].nouns]
    memorable = sorted(set(ids))
    ids = memorable[: args.concepts]
    round_ = 2
    while len(ids) < args.concepts:  # more concepts than memorable ids (legacy-style ids of the same shape)
        ids += [f"{x}-{round_}" for x in memorable[: args.concepts - len(ids)]]
        round_ += 1
    public = "https://example.org/c"

    def seed(store: Storage) -> None:
        def put(cid: str) -> None:
            store.put_bytes(keys.concept_doc(cid), record(cid).model_dump_json().encode())

        with ThreadPoolExecutor(16) as pool:
            list(pool.map(put, ids))

    settings = Settings(config_path=REPO / "bioimageio_collection_config.json", collection_dir=REPO / "collection")
    n = len(ids)
    figures: dict[str, Any] = {"concepts": n, "backend": "local" if args.local else "moto", "load": os.getloadavg(), "runs": []}
    clients = ["local"] * args.rounds if args.local else client_order(args.client, args.rounds)
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-index-")))
        endpoint = "" if args.local else stack.enter_context(moto_process())
        for number, client in enumerate(clients):
            storage: Storage
            counter: RequestCounter | None = None
            if args.local:
                storage = LocalStorage(tmp / f"store-{number}", public)
            else:  # a fresh bucket of moto's S3 server
                storage = s3_storage(endpoint, public)
                counter = RequestCounter(storage)
                use_client(storage, client)
            start = time.perf_counter()
            seed(storage)
            print(f"[{client}] seeded {n} concept documents in {time.perf_counter() - start:.1f} s (load {os.getloadavg()[0]:.1f})", flush=True)
            ctx = Context(settings, storage=storage)
            run: dict[str, Any] = {"client": client}
            run["cold"] = measure(f"[{client}] cold full generation (no cache: every versions.json and detail written)",
                                  lambda: generate_index(ctx), counter, n)
            storage.delete(keys.INDEX_CACHE)
            run["full"] = measure(f"[{client}] warm full generation (no index cache, derived files present)",
                                  lambda: generate_index(ctx), counter, n, args.profile)
            run["rescan"] = measure(f"[{client}] --full (cache present)", lambda: generate_index(ctx, full=True), counter, n)
            ctx.concepts.save(record(ids[min(123, n - 1)], 3))  # one publish: the concept document changes
            run["one_publish"] = measure(f"[{client}] regeneration after one publish", lambda: generate_index(ctx), counter, n)
            size = storage.head(keys.COLLECTION_JSON)
            print(f"collection.json: {size.size / 1e6:.1f} MB" if size else "collection.json missing", flush=True)
            figures["runs"].append(run)
        figures.update({k: v for k, v in figures["runs"][0].items() if k != "client"})
        print("RESULT " + json.dumps(figures), flush=True)

if __name__ == "__main__":
    main()

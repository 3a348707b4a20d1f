"""Benchmark: index generation for a synthetic collection, on moto's S3 server in its
own process (or a local folder with --local).

10,000 model concepts with 2 published versions each (override with --concepts). Concept
documents are seeded into a local folder and the first index run makes every
`versions.json` and dashboard detail there (once per store: the pipeline's own runs
write them as concepts change); the store is then copied to moto (unless --local) and:

1. (the first run, above, timed on the local folder);
2. the full generation: the index cache deleted, every concept document listed and read;
3. `--full`: the same with the cache present (etags compared, markers not trusted);
4. the regeneration after one publish (incremental).

For each: wall time, S3 requests (a botocore event hook; per concept) and this
process's peak RSS during that run. The last line is `RESULT {json}` for
`plot_index_growth.py`.

    python benchmarks/bench_index.py [--concepts N] [--local] [--profile]
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
from benchlib import REPO, RequestCounter, cpu_seconds, moto_process, peak_rss_mib, reset_peak_rss, s3_storage  # noqa: E402

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
    per = f", {requests} requests ({requests / n:.3f} per concept)" if requests is not None else ""
    print(f"{label}: {seconds:.2f} s{per}, {result.fetched} concept documents read, peak RSS {peak:.0f} MB;"
          f" CPU {cpu[0]:.1f} s here, {cpu[1]:.1f} s moto (load {os.getloadavg()[0]:.1f})", flush=True)
    return {"seconds": round(seconds, 2), "requests": requests, "fetched": result.fetched, "peak_rss_mb": round(peak),
            "cpu_s": round(cpu[0], 1), "moto_cpu_s": round(cpu[1], 1), "load_after": round(os.getloadavg()[0], 1)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concepts", type=int, default=10_000)
    parser.add_argument("--local", action="store_true", help="a local folder instead of moto's S3 server")
    parser.add_argument("--profile", action="store_true", help="profile the full generation")
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
    figures: dict[str, Any] = {"concepts": n, "backend": "local" if args.local else "moto", "load": os.getloadavg()}
    with ExitStack() as stack:
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-index-")))
        local = LocalStorage(tmp / "store", public)
        start = time.perf_counter()
        seed(local)
        print(f"seeded {n} concept documents in a local folder in {time.perf_counter() - start:.1f} s", flush=True)
        # the first run makes every versions.json and dashboard detail (once per store; the
        # pipeline's own runs write them as concepts change): measured on the local folder
        figures["first"] = measure("first run, local folder (writes every versions.json and detail)",
                                   lambda: generate_index(Context(settings, storage=local)), None, n)
        storage: Storage = local
        counter: RequestCounter | None = None
        if not args.local:  # the same store on moto's S3 server (copied in parallel), as the pipeline leaves it
            storage = s3_storage(stack.enter_context(moto_process()), public)
            start = time.perf_counter()

            def copy(key: str) -> None:
                storage.put_bytes(key, local.get_bytes(key))

            with ThreadPoolExecutor(16) as pool:
                copied = len(list(pool.map(copy, local.list_keys(""))))
            print(f"copied {copied} objects to moto S3 in {time.perf_counter() - start:.1f} s", flush=True)
            counter = RequestCounter(storage)
        ctx = Context(settings, storage=storage)
        storage.delete(keys.INDEX_CACHE)
        figures["full"] = measure("full generation (no index cache)", lambda: generate_index(ctx), counter, n, args.profile)
        figures["rescan"] = measure("--full (cache present)", lambda: generate_index(ctx, full=True), counter, n)
        ctx.concepts.save(record(ids[min(123, n - 1)], 3))  # one publish: the concept document changes
        figures["one_publish"] = measure("regeneration after one publish", lambda: generate_index(ctx), counter, n)
        size = storage.head(keys.COLLECTION_JSON)
        print(f"collection.json: {size.size / 1e6:.1f} MB" if size else "collection.json missing")
        print("RESULT " + json.dumps(figures), flush=True)


if __name__ == "__main__":
    main()

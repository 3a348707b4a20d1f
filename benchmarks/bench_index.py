"""Benchmark: index generation for a synthetic collection on moto's S3 server.

10,000 concepts with 2 published versions each (override with --concepts). Prints
the time to generate all four index files from scratch, the number of S3 requests
(per concept), and the time and requests of a regeneration after one publish.

    python benchmarks/bench_index.py [--concepts N]
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from backoffice.context import Context
    from backoffice.index.generate import GenerateResult

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

REPO = Path(__file__).resolve().parents[1]


def timed_generate(ctx: Context, profile: bool) -> GenerateResult:
    """Run one index generation, under cProfile if asked."""
    from backoffice.index.generate import generate_index

    if not profile:
        return generate_index(ctx)
    import cProfile
    import pstats

    with cProfile.Profile() as prof:
        result = generate_index(ctx)
    pstats.Stats(prof).sort_stats("cumulative").print_stats(25)
    return result


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--concepts", type=int, default=10_000)
    parser.add_argument("--profile", action="store_true", help="profile the regeneration after one publish")
    args = parser.parse_args()

    import boto3

    from backoffice.config.collection_config import load_collection_config
    from backoffice.context import Context
    from backoffice.index.generate import generate_index
    from backoffice.records.concept import ConceptRecord, ResourceSummary, ReportBrief, VersionRecord
    from backoffice.settings import Settings
    from backoffice.storage.s3 import S3Storage

    # moto in its own process, as a real S3 endpoint would be
    import socket
    import subprocess
    import sys

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    endpoint = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
    storage = S3Storage(bucket=bucket, prefix="collection", endpoint_url=endpoint,
                        access_key_id="testing", secret_access_key="testing", public_base_url="https://example.org/c")
    requests = {"n": 0}

    def count(**_: object) -> None:
        requests["n"] += 1

    storage.client.meta.events.register("before-send.s3", count)

    config = load_collection_config(REPO / "bioimageio_collection_config.json")
    parts = config.id_parts["model"]
    ids = [f"{a}-{n}" for a in parts.adjectives for n in parts.nouns][: args.concepts]
    if len(ids) < args.concepts:
        raise SystemExit(f"only {len(ids)} model ids exist")
    t0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

    def record(cid: str, n_versions: int = 2) -> ConceptRecord:
        r = ConceptRecord(id=cid, type="model", owners=["github|1"])
        for i in range(n_versions):
            v = f"{i + 1}.0"
            r.versions[v] = VersionRecord(
                version=v, published=t0 + timedelta(days=i), rdf_sha256="0" * 64, draft_token=f"t{i}",
                summary=ResourceSummary(name=f"Model {cid}", description="A synthetic model for the benchmark.",
                                        version=v, tags=["segmentation", "nuclei", "2d"], authors=["A. Author", "B. Author"],
                                        covers=["cover.png"], license="MIT", documentation="README.md",
                                        weight_formats=["pytorch_state_dict", "torchscript", "onnx"]),
                tests={f"bioimageio.core_0.11.0_{wf}": ReportBrief(status="passed", report=f"r-{wf}", tool="bioimageio.core", weight_format=wf)
                       for wf in ("pytorch_state_dict", "torchscript", "onnx")},
            )
        return r

    start = time.perf_counter()
    with ThreadPoolExecutor(16) as pool:
        list(pool.map(lambda cid: storage.put_bytes(f"concepts/{cid}.json", record(cid).model_dump_json().encode()), ids))
    print(f"seeded {len(ids)} concepts in {time.perf_counter() - start:.1f} s")

    settings = Settings(config_path=REPO / "bioimageio_collection_config.json", collection_dir=REPO / "collection")
    ctx = Context(settings, storage=storage)

    requests["n"] = 0
    start = time.perf_counter()
    result = timed_generate(ctx, args.profile)
    cold = time.perf_counter() - start
    cold_requests = requests["n"]
    print(f"full generation: {cold:.2f} s, {cold_requests} requests "
          f"({cold_requests / len(ids):.2f} per concept), {result.listed} concepts listed")

    ctx.concepts.save(record(ids[123], 3))  # one publish: the concept document changes
    requests["n"] = 0
    start = time.perf_counter()
    result = timed_generate(ctx, args.profile)
    warm = time.perf_counter() - start
    print(f"regeneration after one publish: {warm:.2f} s, {requests['n']} requests, "
          f"{result.fetched} concept document(s) read")
    size = storage.head("collection.json")
    print(f"collection.json: {size.size / 1e6:.1f} MB" if size else "collection.json missing")
    server.terminate()


if __name__ == "__main__":
    main()

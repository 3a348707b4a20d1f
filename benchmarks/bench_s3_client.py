"""Benchmark: the S3 fast path (obstore, `storage/s3_obstore.py`) against botocore, side
by side on moto's S3 server in its own process (through `S3Storage.get`/`put_bytes`).

N objects of about 3 KB (a concept document's size; override with --objects), then
--rounds rounds, each client in turn within a round (so both see the same load): N
GETs, then N PUTs (overwrites), 16 threads, as the index generation and the partner
ingest make them. Printed per client and operation: CPU seconds per request in this
process and in moto, wall time, and the load average; then the medians.

    python benchmarks/bench_s3_client.py [--objects N] [--rounds R]

(The comparison with the hand-written client obstore replaced, `s3_direct.py`, was made
by this script at commit 169387c; `docs/benchmarks.md` has the figures.)
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import cpu_seconds, moto_process, s3_storage, use_client  # noqa: E402

from backoffice.storage.s3 import S3Storage  # noqa: E402


def timed(n: int, work: Callable[[], None]) -> tuple[float, float, float]:
    """(ms of CPU per request here, in moto, wall seconds) of `work` making `n` requests."""
    before = cpu_seconds()
    start = time.perf_counter()
    work()
    wall = time.perf_counter() - start
    after = cpu_seconds()
    return (after[0] - before[0]) * 1000 / n, (after[1] - before[1]) * 1000 / n, wall


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--objects", type=int, default=2_000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    n = args.objects
    body = (b'{"id": "some-concept", "versions": {}, "padding": "' + b"x" * 3000 + b'"}')
    keys: list[str] = [f"concepts/c{i:05d}/concept.json" for i in range(n)]
    with ExitStack() as stack:
        storage = s3_storage(stack.enter_context(moto_process()))
        plain = S3Storage(bucket=storage.bucket, prefix=storage.prefix, endpoint_url=storage.endpoint_url,
                          access_key_id="testing", secret_access_key="testing")  # the same bucket
        use_client(plain, "botocore")
        clients: dict[str, Any] = {"obstore": storage, "botocore": plain}
        with ThreadPoolExecutor(16) as pool:
            list(pool.map(lambda k: storage.put_bytes(k, body), keys))  # pyright: ignore[reportUnknownLambdaType, reportUnknownArgumentType]
            figures: dict[tuple[str, str], list[tuple[float, float, float, float]]] = {}
            for r in range(args.rounds):
                order = list(clients.items()) if r % 2 == 0 else list(reversed(clients.items()))
                for op in ("GET", "PUT"):
                    for name, client in order:
                        def work(client: Any = client, op: str = op) -> None:
                            if op == "GET":
                                list(pool.map(client.get, keys))
                            else:
                                list(pool.map(lambda k: client.put_bytes(k, body), keys))  # pyright: ignore[reportUnknownLambdaType, reportUnknownArgumentType]
                        here, moto, wall = timed(n, work)
                        load = os.getloadavg()[0]
                        figures.setdefault((name, op), []).append((here, moto, wall, load))
                        print(f"round {r + 1} {op} {name}: {here:.3f} ms CPU/request here, {moto:.3f} ms moto,"
                              f" {wall:.2f} s wall for {n} (load {load:.1f})", flush=True)
        print("medians:")
        for (name, op), rows in sorted(figures.items(), key=lambda kv: (kv[0][1], kv[0][0])):
            here, moto, wall, load = (statistics.median(col) for col in zip(*rows))
            print(f"  {op} {name}: {here:.3f} ms CPU/request here, {moto:.3f} ms moto, {wall:.2f} s wall (load {load:.1f})")


if __name__ == "__main__":
    main()

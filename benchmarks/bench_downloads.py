"""Benchmark: `backoffice count-downloads` over ~1 GB of generated S3 access logs.

Writes log objects in AWS's format to a temporary folder (a collection of 300 concepts,
3 versions each; a mix of weights, package zips, rdf, covers, thumbnails and docs reads,
206 ranges, 4xx/5xx answers, bots, several tools and a few malformed lines; 40,000
requesters over 30 days), then runs the command in a child process on a local store and
prints lines per second and the child's peak RSS.

    python benchmarks/bench_downloads.py [--gigabytes 1.0] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))
sys.path.insert(0, str(REPO))

CONCEPTS = 300
VERSIONS = ("1", "2", "3")
OBJECT_BYTES = 8 * 1024 * 1024
FILES = [("files/weights.pt", 30), ("files/model.onnx", 10), ("package.zip", 5), ("files/rdf.yaml", 25), ("files/cover.png", 15),
         ("files/cover.thumbnail.png", 8), ("files/README.md", 7)]
AGENTS = [("bioimageio.core/0.11.0 python-httpx/0.28.1", 30), ("python-httpx/0.28.1", 10), ("deepimagej/3.1.0 JDLL/0.5.7", 10),
          ("ilastik/1.4.1", 8), ("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0", 30), ("curl/8.5.0", 4),
          ("Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", 8)]
STATUSES = [(200, 80), (206, 12), (304, 2), (403, 2), (404, 3), (500, 1)]


def ids() -> list[str]:
    return [f"bench-{chr(97 + i // 26 % 26)}{chr(97 + i % 26)}-{chr(97 + i // 676)}model" for i in range(CONCEPTS)]


def seed(store: Path) -> None:
    from access_logs import record

    from backoffice.records.concept import ConceptStore
    from backoffice.storage.local import LocalStorage

    concepts = ConceptStore(LocalStorage(store, "http://127.0.0.1:8765"))
    for cid in ids():
        concepts.create(record(cid, {v: ["weights.pt", "model.onnx"] for v in VERSIONS}))


def generate(folder: Path, total: int) -> tuple[int, int]:
    """Write log objects until `total` bytes; returns (objects, lines)."""
    from access_logs import log_line

    rnd = random.Random(20)
    names = ids()
    files, fw = zip(*FILES, strict=True)
    agents, aw = zip(*AGENTS, strict=True)
    statuses, sw = zip(*STATUSES, strict=True)
    start = datetime(2026, 10, 1, tzinfo=timezone.utc)
    written = objects = lines = 0
    last: tuple[str, str, str] | None = None
    while written < total:
        when = start + timedelta(seconds=written * 30 * 86400 // total)
        path = folder / f"{when:%Y-%m-%d-%H-%M-%S}-{objects:016X}"
        size = 0
        with path.open("w") as f:
            while size < OBJECT_BYTES:
                chunk: list[str] = []
                for _ in range(500):
                    if last and rnd.random() < 0.3:  # the same requester again: ranges, retries, a re-run
                        ip, key, ua, status = *last, 206
                    else:
                        key = f"{rnd.choice(names)}/{rnd.choice(VERSIONS)}/{rnd.choices(files, fw)[0]}"
                        i = rnd.randrange(40_000)
                        ip, ua, status = f"10.{i // 250}.{i % 250}.1", rnd.choices(agents, aw)[0], rnd.choices(statuses, sw)[0]
                        last = (ip, key, ua)
                    line = log_line(when=when + timedelta(seconds=rnd.randrange(3600)), ip=ip, key=key,
                                    status=status, ua=ua, size=rnd.randrange(10**6))
                    chunk.append(line[: rnd.randrange(20, 200)] if rnd.random() < 0.001 else line)
                text = "\n".join(chunk) + "\n"
                f.write(text)
                size += len(text)
                lines += len(chunk)
        written += size
        objects += 1
    return objects, lines


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--gigabytes", type=float, default=1.0)
    ap.add_argument("--keep", type=Path, default=None, help="Generate into / reuse this folder.")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-downloads-") as tmp:
        base = args.keep or Path(tmp)
        logs, store = base / "logs", base / "store"
        if not logs.is_dir():
            logs.mkdir(parents=True)
            t0 = time.perf_counter()
            objects, lines = generate(logs, int(args.gigabytes * 1024**3))
            print(f"generated {objects} log objects, {lines:,} lines, {sum(p.stat().st_size for p in logs.iterdir()) / 1024**3:.2f} GiB "
                  f"in {time.perf_counter() - t0:.0f} s")
        if store.exists():
            import shutil

            shutil.rmtree(store)
        seed(store)
        env = {**os.environ, "PYTHONPATH": str(REPO), "BACKOFFICE_LOCAL_ROOT": str(store),
               "BACKOFFICE_CONFIG_PATH": str(REPO / "bioimageio_collection_config.json"),
               "BACKOFFICE_DOWNLOADS_HASH_KEY": "benchmark-hash-key-0123456789"}
        load = os.getloadavg()
        t0 = time.perf_counter()
        run = subprocess.run([sys.executable, "-m", "backoffice", "count-downloads", str(logs)], env=env, cwd=base,
                             capture_output=True, text=True)
        seconds = time.perf_counter() - t0
        if run.returncode != 0:
            sys.exit(run.stderr)
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        rss, cpu = usage.ru_maxrss / 1024, usage.ru_utime + usage.ru_stime
        print(run.stdout.strip())
        n = int(run.stdout.split(" lines,")[0].rsplit(" ", 1)[1])
        print(f"count-downloads: {n:,} lines in {seconds:.1f} s = {n / seconds:,.0f} lines/s; peak RSS {rss:.0f} MB "
              f"(load average before: {load[0]:.1f} on {os.cpu_count()} cores)")
        print(f"CPU time of the command: {cpu:.1f} s = {n / cpu:,.0f} lines per CPU second")


if __name__ == "__main__":
    main()

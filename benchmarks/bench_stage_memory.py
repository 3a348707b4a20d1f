"""Benchmark: peak memory of staging a large package (default 1 GiB).

Builds a zip with a small description and one incompressible file, stages it in a
child process (local folder, and moto S3 with --s3) and prints the child's peak RSS
and wall time.

    python benchmarks/bench_stage_memory.py [--gib 1.0] [--s3]
"""

from __future__ import annotations

import argparse
import os
import resource
import socket
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RDF = b"""type: dataset
format_version: 0.3.0
name: Big benchmark dataset
description: one large incompressible file
version: "1.0"
authors: [{name: Bench}]
cite: [{text: bench, doi: 10.1234/bench}]
license: MIT
"""

CHILD = """
import os, sys
from pathlib import Path
from backoffice.context import Context
from backoffice.settings import Settings
from backoffice.stage.stage import stage
settings = Settings()
result = stage(Context(settings), sys.argv[1], uploader="github|1", progress=False)
print(result.concept_id, result.files, result.bytes)
"""


def build(path: Path, size: int) -> None:
    chunk = 8 * 1024 * 1024
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("rdf.yaml", RDF)
        with zf.open("data.bin", "w", force_zip64=True) as out:
            written = 0
            while written < size:
                n = min(chunk, size - written)
                out.write(os.urandom(n))
                written += n


def run_child(package: Path, env: dict[str, str]) -> tuple[float, float, str]:
    start = time.perf_counter()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    r = subprocess.run([sys.executable, "-c", CHILD, str(package)], env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    if r.returncode != 0:
        raise SystemExit(r.stderr[-2000:])
    return max(peak_kib, before) / 1024, seconds, r.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--s3", action="store_true", help="also stage into moto's S3 server (separate process)")
    args = parser.parse_args()
    size = int(args.gib * 1024**3)
    with tempfile.TemporaryDirectory(prefix="bench-stage-") as tmp:
        package = Path(tmp) / "big.zip"
        t = time.perf_counter()
        build(package, size)
        print(f"built {package.stat().st_size / 1024**3:.2f} GiB package in {time.perf_counter() - t:.1f} s")
        env = {**os.environ, "PYTHONPATH": str(REPO), "BACKOFFICE_LOCAL_ROOT": str(Path(tmp) / "store"),
               "BACKOFFICE_CONFIG_PATH": str(REPO / "bioimageio_collection_config.json"),
               "BACKOFFICE_COLLECTION_DIR": str(REPO / "collection")}
        peak, seconds, out = run_child(package, env)
        print(f"local folder: peak RSS {peak:.0f} MB, {seconds:.1f} s ({out})")
        if args.s3:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = s.getsockname()[1]
            server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(3)
                import boto3

                boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                             aws_access_key_id="testing", aws_secret_access_key="testing").create_bucket(Bucket="bench")
                s3_env = {**env, "BACKOFFICE_STORAGE": "s3", "BACKOFFICE_S3_ENDPOINT_URL": f"http://127.0.0.1:{port}",
                          "BACKOFFICE_S3_BUCKET": "bench", "BACKOFFICE_S3_ACCESS_KEY_ID": "testing",
                          "BACKOFFICE_S3_SECRET_ACCESS_KEY": "testing"}
                # RUSAGE_CHILDREN keeps the largest child so far: report only if S3 exceeds it
                peak_s3, seconds_s3, out = run_child(package, s3_env)
                print(f"moto S3: peak RSS <= {peak_s3:.0f} MB (max over children), {seconds_s3:.1f} s ({out})")
            finally:
                server.terminate()


if __name__ == "__main__":
    main()

"""Benchmark: peak memory of staging a large package (default 1 GiB).

Builds a zip with a small description and one incompressible file, stages it in a
child process (local folder, and moto S3 with --s3) and prints the child's peak RSS
and wall time.

    python benchmarks/bench_stage_memory.py [--gib 1.0] [--s3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO, big_rdf, moto_process, run_child, s3_environ, s3_storage  # noqa: E402

RDF = big_rdf("dataset", "0.3.0")

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


def stage_in_child(package: Path, env: dict[str, str]) -> tuple[float, float, str]:
    return run_child(CHILD, [str(package)], env)


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
        peak, seconds, out = stage_in_child(package, env)
        print(f"local folder: peak RSS {peak:.0f} MB, {seconds:.1f} s ({out})")
        if args.s3:
            with moto_process() as endpoint:
                storage = s3_storage(endpoint, prefix="")
                peak_s3, seconds_s3, out = stage_in_child(package, {**env, **s3_environ(storage)})
                print(f"moto S3: peak RSS {peak_s3:.0f} MB, {seconds_s3:.1f} s ({out})")


if __name__ == "__main__":
    main()

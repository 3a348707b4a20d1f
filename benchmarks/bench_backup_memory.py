"""Benchmark: peak memory of backing up a large published version to Zenodo (default 1 GiB).

Writes a published version with a small description and one incompressible file into
storage, starts the Zenodo stand-in of the test suite in its own process (it hashes and
discards uploads), runs `backoffice backup` in a child process and prints the child's
own peak RSS (VmHWM) and wall time. With --s3 the same against moto's S3 server (own process).

    python benchmarks/bench_backup_memory.py [--gib 1.0] [--s3]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO, big_rdf, moto_process, run_child, s3_environ, s3_storage  # noqa: E402

sys.path.insert(0, str(REPO))
TOKEN = "bench-zenodo-token"
CID = "bench-shark"
RDF = big_rdf("model")

CHILD = """
from backoffice.cli import main
main(["backup"])
"""


class Incompressible:
    """`size` random bytes, produced chunk by chunk."""

    def __init__(self, size: int) -> None:
        self.left = size

    def read(self, n: int = -1, /) -> bytes:
        n = min(self.left, 8 * 1024 * 1024 if n < 0 else n)
        self.left -= n
        return os.urandom(n)


def prepare(storage: object, size: int) -> None:
    from backoffice.records import keys
    from backoffice.records.concept import ConceptRecord, ConceptStore, VersionRecord
    from backoffice.storage.base import Storage

    assert isinstance(storage, Storage)
    storage.put_bytes(keys.version_files(CID, "1.0") + "rdf.yaml", RDF)
    storage.put_stream(keys.version_files(CID, "1.0") + "weights.bin", Incompressible(size))
    ConceptStore(storage).create(ConceptRecord(id=CID, type="model", versions={"1.0": VersionRecord(version="1.0")}))


def run_backup(env: dict[str, str]) -> tuple[float, float, str]:
    peak, seconds, out = run_child(CHILD, [], env)
    return peak, seconds, next((ln for ln in out.splitlines() if "backed up" in ln), "")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--gib", type=float, default=1.0)
    parser.add_argument("--s3", action="store_true", help="also back up from moto's S3 server (separate process)")
    args = parser.parse_args()
    size = int(args.gib * 1024**3)
    zenodo = subprocess.Popen([sys.executable, str(REPO / "tests" / "zenodo_server.py"), TOKEN], stdout=subprocess.PIPE, text=True)
    assert zenodo.stdout is not None
    zenodo_url = zenodo.stdout.readline().strip()
    base = {**os.environ, "PYTHONPATH": str(REPO), "BACKOFFICE_ZENODO_URL": zenodo_url, "BACKOFFICE_ZENODO_TOKEN": TOKEN,
            "BACKOFFICE_CONFIG_PATH": str(REPO / "bioimageio_collection_config.json"),
            "BACKOFFICE_COLLECTION_DIR": str(REPO / "collection"), "BACKOFFICE_ZENODO_GIVE_UP_SECONDS": "60"}
    try:
        with tempfile.TemporaryDirectory(prefix="bench-backup-") as tmp:
            from backoffice.storage.local import LocalStorage

            t = time.perf_counter()
            prepare(LocalStorage(Path(tmp) / "store", "http://127.0.0.1:8765"), size)
            print(f"wrote a {size / 1024**3:.2f} GiB version in {time.perf_counter() - t:.1f} s")
            peak, seconds, out = run_backup({**base, "BACKOFFICE_LOCAL_ROOT": str(Path(tmp) / "store")})
            print(f"local folder: peak RSS {peak:.0f} MB, {seconds:.1f} s ({out})")
        if args.s3:
            with moto_process() as endpoint:
                storage = s3_storage(endpoint, prefix="")
                prepare(storage, size)
                peak, seconds, out = run_backup({**base, **s3_environ(storage)})
                print(f"moto S3: peak RSS {peak:.0f} MB, {seconds:.1f} s ({out})")
    finally:
        zenodo.terminate()


if __name__ == "__main__":
    main()

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
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
TOKEN = "bench-zenodo-token"
CID = "bench-shark"
RDF = b"""type: model
name: Big benchmark model
description: one large incompressible file
version: "1.0"
authors: [{name: Bench}]
cite: [{text: bench, doi: 10.1234/bench}]
license: MIT
"""

# VmHWM, not ru_maxrss: on Linux ru_maxrss survives exec and would report the (larger)
# parent this child was forked from.
CHILD = """
import time
from backoffice.cli import main
start = time.perf_counter()
try:
    main(["backup"])
finally:
    hwm = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
    print(f"CHILD peak_kib={hwm} seconds={time.perf_counter() - start:.1f}")
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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_backup(env: dict[str, str]) -> tuple[float, float, str]:
    r = subprocess.run([sys.executable, "-c", CHILD], env=env, capture_output=True, text=True, cwd=REPO)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("CHILD ")), "")
    if r.returncode != 0 or not line:
        raise SystemExit(r.stdout[-2000:] + r.stderr[-2000:])
    fields = dict(part.split("=") for part in line.split()[1:])
    done = next((ln for ln in r.stdout.splitlines() if "backed up" in ln), "")
    return int(fields["peak_kib"]) / 1024, float(fields["seconds"]), done


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
            port = free_port()
            moto = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            try:
                time.sleep(3)
                import boto3

                from backoffice.storage.s3 import S3Storage

                endpoint = f"http://127.0.0.1:{port}"
                boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", aws_access_key_id="testing",
                             aws_secret_access_key="testing").create_bucket(Bucket="bench")
                prepare(S3Storage(bucket="bench", prefix="", endpoint_url=endpoint, access_key_id="testing",
                                  secret_access_key="testing"), size)
                s3_env = {**base, "BACKOFFICE_STORAGE": "s3", "BACKOFFICE_S3_ENDPOINT_URL": endpoint,
                          "BACKOFFICE_S3_BUCKET": "bench", "BACKOFFICE_S3_ACCESS_KEY_ID": "testing",
                          "BACKOFFICE_S3_SECRET_ACCESS_KEY": "testing"}
                peak, seconds, out = run_backup(s3_env)
                print(f"moto S3: peak RSS {peak:.0f} MB, {seconds:.1f} s ({out})")
            finally:
                moto.terminate()
    finally:
        zenodo.terminate()


if __name__ == "__main__":
    main()

"""What the benchmarks share: moto's S3 server in its own process, S3 request counting,
and reading peak memory (VmHWM).

Peak RSS is read from `/proc/<pid>/status` (`VmHWM`), not from `ru_maxrss`: on Linux
`ru_maxrss` survives `exec`, so a child would report the (larger) parent it was forked
from, and `RUSAGE_CHILDREN` gives the largest child so far, not this one.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
for _name, _value in (("AWS_ACCESS_KEY_ID", "testing"), ("AWS_SECRET_ACCESS_KEY", "testing"), ("AWS_EC2_METADATA_DISABLED", "true")):
    os.environ.setdefault(_name, _value)

PEAK_LINE = "PEAK_RSS_KIB="
CHILD_PEAK = f"""
def _print_peak() -> None:
    hwm = open("/proc/self/status").read().split("VmHWM:")[1].split()[0]
    print("{PEAK_LINE}" + hwm, flush=True)
import atexit; atexit.register(_print_peak)
"""
"""Prepend to a child's script: it prints its own peak RSS when it exits."""


def peak_of_child(stdout: str) -> float:
    """The child's peak RSS in MiB from its output (see `CHILD_PEAK`)."""
    line = next(ln for ln in stdout.splitlines() if ln.startswith(PEAK_LINE))
    return int(line[len(PEAK_LINE):]) / 1024


def reset_peak_rss() -> None:
    """Start measuring this process's peak RSS afresh (Linux: `clear_refs` 5), after giving
    back to the system what earlier work left free (so the peak is this run's)."""
    import ctypes
    import gc

    gc.collect()
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def peak_rss_mib() -> float:
    """This process's peak RSS since it started or since `reset_peak_rss`, in MiB."""
    with open("/proc/self/status") as f:
        return int(f.read().split("VmHWM:")[1].split()[0]) / 1024


def cpu_seconds() -> tuple[float, float]:
    """CPU seconds (user + system) used so far by this process, and by its live children
    (the moto server) from `/proc/<pid>/stat`."""
    own = os.times()
    children = 0.0
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        for pid in (task / "children").read_text().split():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            children += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own.user + own.system, children


def big_rdf(kind: str, format_version: str | None = None) -> bytes:
    """The description of the memory benchmarks' package: one large incompressible file."""
    fv = f"format_version: {format_version}\n" if format_version else ""
    return (f"type: {kind}\n{fv}name: Big benchmark {kind}\ndescription: one large incompressible file\n"
            'version: "1.0"\nauthors: [{name: Bench}]\ncite: [{text: bench, doi: 10.1234/bench}]\nlicense: MIT\n').encode()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def moto_process() -> Iterator[str]:
    """moto's S3 server in its own process (as a real endpoint would be; S3 alone, see
    `moto_s3.py`; `BENCH_MOTO_SERVER=werkzeug` for moto's own development server): its URL."""
    port = free_port()
    server_kind = os.environ.get("BENCH_MOTO_SERVER", "waitress")
    server = subprocess.Popen([sys.executable, str(Path(__file__).with_name("moto_s3.py")), str(port), server_kind],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait()


def s3_storage(endpoint: str, public_base_url: str | None = None, prefix: str = "collection") -> Any:
    """An S3Storage on a fresh bucket of `endpoint`."""
    import boto3

    from backoffice.storage.s3 import S3Storage

    bucket = f"bench-{uuid.uuid4().hex[:12]}"
    boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)  # pyright: ignore[reportUnknownMemberType]
    return S3Storage(bucket=bucket, prefix=prefix, endpoint_url=endpoint, access_key_id="testing",
                     secret_access_key="testing", public_base_url=public_base_url)


def s3_environ(storage: Any) -> dict[str, str]:
    """The settings (environment variables) of a `backoffice` child process using `storage`."""
    return {"BACKOFFICE_STORAGE": "s3", "BACKOFFICE_S3_ENDPOINT_URL": storage.client.meta.endpoint_url,
            "BACKOFFICE_S3_BUCKET": storage.bucket, "BACKOFFICE_S3_PREFIX": storage.prefix.rstrip("/"),
            "BACKOFFICE_S3_ACCESS_KEY_ID": "testing", "BACKOFFICE_S3_SECRET_ACCESS_KEY": "testing"}


def run_child(script: str, args: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Run `script` in a child Python; its peak RSS (MiB), wall time and output."""
    start = time.perf_counter()
    r = subprocess.run([sys.executable, "-c", CHILD_PEAK + script, *args], env=env, capture_output=True, text=True, cwd=REPO)
    seconds = time.perf_counter() - start
    if r.returncode != 0:
        raise SystemExit(r.stdout[-2000:] + r.stderr[-2000:])
    out = "\n".join(ln for ln in r.stdout.splitlines() if not ln.startswith(PEAK_LINE))
    return peak_of_child(r.stdout), seconds, out


class RequestCounter:
    """Counts the S3 requests of a storage (botocore's `before-call` event, which the fast
    path emits for its requests too; botocore's retries are not counted)."""

    def __init__(self, storage: Any) -> None:
        self.n = 0
        storage.client.meta.events.register("before-call.s3", self._count)

    def _count(self, **_: object) -> None:
        self.n += 1



def client_order(choice: str, rounds: int) -> list[str]:
    """The S3 clients of a benchmark's runs: `choice` alone, or for `both` the fast path
    and botocore alternated A B B A ..., so that both see the same load."""
    if choice != "both":
        return [choice] * rounds
    pair = ["obstore", "botocore"]
    return [c for r in range(rounds) for c in (pair if r % 2 == 0 else pair[::-1])]


def use_client(storage: Any, client: str) -> None:
    """Make `storage` (an `S3Storage`) send its whole-object GETs and small PUTs through
    `client`: `obstore` (the fast path, `storage/s3_obstore.py`, as it is) or `botocore`."""
    if client == "botocore":
        storage._direct = None  # pyright: ignore[reportPrivateUsage]

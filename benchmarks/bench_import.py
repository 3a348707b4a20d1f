"""Benchmark: `import-collection` of a synthetic running collection onto moto's S3 server.

10,000 resources (override with --resources), one version each, four partner reports per
version (40,000 reports), files left remote (`--no-files`); moto runs in its own process.
Prints the time to read the source, the import's wall time, the S3 requests (per
resource), then the time of a re-run that finds everything imported.

    python benchmarks/bench_import.py [--resources N] [--workers N]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path

os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_EC2_METADATA_DISABLED", "true")

REPO = Path(__file__).resolve().parents[1]
TOOLS = {"ilastik": "1.4.1", "deepimagej": "3.1.0", "biapy": "3.6.8", "qupath": "0.6.0"}


def write_source(root: Path, n: int) -> None:
    """index.json + reports/bioimage-io/<nickname>/v0/{summary.json, reports/<tool>_<version>.json}."""
    items = []
    for i in range(n):
        nick = f"bench-resource-{i:05d}"
        rdf = {"type": "model", "format_version": "0.5.4", "name": f"Benchmark model {i}", "description": "A synthetic model.",
               "id": nick, "covers": ["cover.png"], "documentation": "README.md", "license": "MIT",
               "authors": [{"name": "A. Author"}], "uploader": {"email": "uploader@example.org"},
               "weights": {"pytorch_state_dict": {"source": "weights.pt", "sha256": "0" * 64}}}
        sha = hashlib.sha256(json.dumps(rdf).encode()).hexdigest()
        folder = root / "reports" / "bioimage-io" / nick / "v0"
        (folder / "reports").mkdir(parents=True)
        (folder / "summary.json").write_text(json.dumps({"rdf_content": rdf, "rdf_yaml_sha256": sha, "status": "passed"}))
        for j, (tool, version) in enumerate(TOOLS.items()):
            passed = (i + j) % 4 != 0
            report = {"status": "passed" if passed else "failed", "score": 1.0 if passed else 0.0,
                      "error": None if passed else "could not run", "details": "x" * 200, "links": []}
            (folder / "reports" / f"{tool}_{version}.json").write_text(json.dumps(report))
        items.append({"id": f"bioimage-io/{nick}", "type": "model", "versions": [
            {"version": "v0", "sha256": sha, "created_at": "2025-07-01T22:53:02Z",
             "source": f"https://files.example.org/bioimage-io/artifacts/{nick}/files/rdf.yaml?version=v0"}]})
    (root / "index.json").write_text(json.dumps({"items": items, "total": n}))


def start_moto() -> tuple[subprocess.Popen[bytes], str]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            break
        except OSError:
            time.sleep(0.1)
    return server, f"http://127.0.0.1:{port}"


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--resources", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=16)
    args = parser.parse_args()

    import boto3

    from backoffice.context import Context
    from backoffice.importer.run import import_collection
    from backoffice.settings import Settings
    from backoffice.storage.s3 import S3Storage

    with tempfile.TemporaryDirectory(prefix="bench-import-") as tmp:
        start = time.perf_counter()
        write_source(Path(tmp), args.resources)
        print(f"wrote the source ({args.resources} resources, {args.resources * len(TOOLS)} reports) in {time.perf_counter() - start:.1f} s")
        server, endpoint = start_moto()
        try:
            bucket = f"bench-{uuid.uuid4().hex[:12]}"
            boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1").create_bucket(Bucket=bucket)
            storage = S3Storage(bucket=bucket, prefix="collection", endpoint_url=endpoint, access_key_id="testing",
                                secret_access_key="testing", public_base_url="https://example.org/c")
            requests = {"n": 0}

            def count(**_: object) -> None:
                requests["n"] += 1

            storage.client.meta.events.register("before-send.s3", count)
            settings = Settings(config_path=REPO / "bioimageio_collection_config.json", collection_dir=REPO / "collection")
            ctx = Context(settings, storage=storage)
            at = datetime(2026, 6, 1, tzinfo=timezone.utc)
            for label in ("import", "re-run"):
                requests["n"] = 0
                start, cpu, moto_cpu = time.perf_counter(), time.process_time(), cpu_seconds(server.pid)
                [report] = import_collection(ctx, [tmp], files=False, at=at, workers=args.workers)
                took = time.perf_counter() - start
                n_reports = sum(o.reports for o in report.outcomes)
                refused = sum(1 for o in report.outcomes for _ in o.notes)
                print(f"{label}: {took:.1f} s, {report.count('create')} created, {report.count('unchanged')} unchanged, "
                      f"{n_reports} reports, {refused} refusals; {requests['n']} S3 requests "
                      f"({requests['n'] / args.resources:.1f} per resource, {requests['n'] / took:.0f} per s); "
                      f"CPU: import {time.process_time() - cpu:.1f} s, moto {cpu_seconds(server.pid) - moto_cpu:.1f} s")
        finally:
            server.terminate()
            try:
                server.wait(10)
            except subprocess.TimeoutExpired:
                server.kill()


if __name__ == "__main__":
    main()

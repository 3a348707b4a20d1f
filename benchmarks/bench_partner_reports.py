"""Benchmark: ingesting 10,000 partner reports and conflating them.

2,500 published model versions (override with --versions), one report from each of the
four `dispatch` partners in the config: each partner's reports are ingested in one call
(a folder laid out as `<concept>/<version>/<tool>_<version>.json`), which checks all of
them, stores them, and conflates every touched version once. Then the index is
generated, and one more report is ingested and the index regenerated (incremental: only
that version is re-read). Local storage by default, `--s3` for moto's S3 server; with
`--s3` it prints the ingest's S3 requests per report by operation, and the CPU of this
process and of moto during each partner's ingest. `--client` picks what sends the
whole-object GETs and small PUTs on moto: `obstore` (the fast path,
`storage/s3_obstore.py`), `botocore`, or `both` (the default), alternated partner by
partner (A B B A: the partners' ingests are the same work, under the same load; the
first one's is cheaper: it finds no earlier conflation to merge).

    python benchmarks/bench_partner_reports.py [--versions N] [--s3] [--client obstore|botocore|both]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchlib import REPO, RequestCounter, client_order, cpu_seconds, moto_process, s3_storage, use_client  # noqa: E402

SHA = "ab" * 32


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--versions", type=int, default=2_500)
    parser.add_argument("--s3", action="store_true", help="use a moto S3 server on 127.0.0.1 instead of a local folder")
    parser.add_argument("--client", choices=("obstore", "botocore", "both"), default="both",
                        help="with --s3: what sends whole-object GETs and small PUTs (both: alternated by partner)")
    args = parser.parse_args()

    from backoffice.context import Context
    from backoffice.index.generate import generate_index
    from backoffice.partners.ingest import MAX_REPORT_FILES, ingest
    from backoffice.partners.ledger import Ledger, VersionRef
    from backoffice.records.concept import ConceptRecord, ResourceSummary, VersionRecord
    from backoffice.settings import Settings
    from backoffice.storage.base import Storage
    from backoffice.storage.local import LocalStorage

    tmp = Path(tempfile.mkdtemp(prefix="bench-partner-reports-"))
    settings = Settings(local_root=tmp / "store", config_path=REPO / "bioimageio_collection_config.json",
                        collection_dir=REPO / "collection")
    stack = ExitStack()
    storage: Storage
    counter: RequestCounter | None = None
    if args.s3:  # moto in its own process, as a real endpoint would be
        storage = s3_storage(stack.enter_context(moto_process()), prefix="bench")
        counter = RequestCounter(storage)
    else:
        storage = LocalStorage(tmp / "store", "http://127.0.0.1:8765")
    ctx = Context(settings, storage=storage)
    partners = [p for p in ctx.config.partners if p.dispatch is not None and "model" in p.resource_types]
    n_concepts = max(1, args.versions // 2)
    ids = [f"model-{i:06d}" for i in range(n_concepts)]
    def seed(cid: str) -> None:
        ctx.concepts.save(ConceptRecord(id=cid, type="model", versions={
            v: VersionRecord(version=v, rdf_sha256=SHA, summary=ResourceSummary(name=cid)) for v in ("1.0", "2.0")}))

    with ThreadPoolExecutor(16) as pool:
        list(pool.map(seed, ids))
    generate_index(ctx, full=True)
    total = 0
    folders: dict[str, list[Path]] = {}
    per_hand_in = MAX_REPORT_FILES // 2  # concepts per hand-in (2 reports each): within the hand-in limit
    for k, p in enumerate(partners):
        # the versions were sent to the partner (only those may be reported on)
        Ledger(ctx.storage, p.id).append("dispatched", [VersionRef(cid, v, SHA) for cid in ids for v in ("1.0", "2.0")])
        for i, cid in enumerate(ids):
            for j, v in enumerate(("1.0", "2.0")):
                f = tmp / "reports" / p.id / str(i // per_hand_in) / cid / v / f"{p.tool_name}_1.0.0.json"
                f.parent.mkdir(parents=True, exist_ok=True)
                status = "failed" if (i + j + k) % 4 == 0 else "passed"  # a quarter fail
                f.write_text(json.dumps({"status": status, "error": None if status == "passed" else "could not open",
                                         "details": {"log": "x" * 200}, "links": [f"{p.id}/{p.id}"], "rdf_sha256": SHA}))
                total += 1
        folders[p.id] = sorted((tmp / "reports" / p.id).iterdir())
    print(f"{len(ids)} concepts x 2 versions, {len(partners)} partners: {total} reports ({'S3 on moto' if args.s3 else 'local folder'})")

    by_operation: Counter[str] = Counter()
    if args.s3:  # what the ingest asks of S3, by operation
        def count(event_name: str, **_: object) -> None:
            by_operation.update([event_name.rsplit(".", 1)[-1]])

        s3: Any = storage
        s3.client.meta.events.register("before-call.s3", count)
    clients = client_order(args.client, (len(partners) + 1) // 2)[: len(partners)] if args.s3 else ["local"] * len(partners)
    started, (cpu, server_cpu) = time.perf_counter(), cpu_seconds()
    for p, client in zip(partners, clients):
        if args.s3:
            fast = s3._direct  # pyright: ignore[reportPrivateUsage]
            use_client(storage, client)
        t0, (cpu0, server0), before = time.perf_counter(), cpu_seconds(), sum(by_operation.values())
        accepted = conflated = 0
        for folder in folders[p.id]:  # one `ingest-reports` call per hand-in
            result = ingest(ctx, p.id, [str(folder)])
            accepted, conflated = accepted + len(result.accepted), conflated + len(result.versions)
        (cpu1, server1), requests = cpu_seconds(), sum(by_operation.values()) - before
        cost = (f"; [{client}] {requests} S3 requests, CPU {cpu1 - cpu0:.1f} s here ({1000 * (cpu1 - cpu0) / requests:.2f} ms per"
                f" request), {server1 - server0:.1f} s moto (load {os.getloadavg()[0]:.1f})") if requests else ""
        print(f"  ingest {p.id}: {accepted} reports in {len(folders[p.id])} hand-ins, {conflated} versions conflated"
              f" in {time.perf_counter() - t0:.1f} s{cost}", flush=True)
        if args.s3:
            s3._direct = fast  # pyright: ignore[reportPrivateUsage]
    ingest_s, (cpu_after, server_after) = time.perf_counter() - started, cpu_seconds()
    ingest_cpu, ingest_server = cpu_after - cpu, server_after - server_cpu
    print(f"ingest + conflate {total} reports: {ingest_s:.1f} s ({1000 * ingest_s / total:.2f} ms per report),"
          f" CPU: this process {ingest_cpu:.1f} s" + (f", moto {ingest_server:.1f} s" if args.s3 else ""))
    if by_operation:
        n = sum(by_operation.values())
        print(f"  S3 requests: {n} ({n / total:.2f} per report): "
              + ", ".join(f"{op} {k / total:.2f}" for op, k in by_operation.most_common()))
        by_operation.clear()

    t0 = time.perf_counter()
    gen = generate_index(ctx)
    print(f"index after ingest (incremental): {time.perf_counter() - t0:.1f} s, {gen.fetched} concept documents read")

    one = tmp / "one" / ids[0] / "2.0" / f"{partners[0].tool_name}_1.1.0.json"
    one.parent.mkdir(parents=True)
    one.write_text('{"status": "passed"}')
    by_operation.clear()
    t0 = time.perf_counter()
    ingest(ctx, partners[0].id, [str(tmp / "one")])
    single = time.perf_counter() - t0
    one_ops = Counter(by_operation)
    t0 = time.perf_counter()
    gen = generate_index(ctx)
    if one_ops:
        print(f"  one more report: {sum(one_ops.values())} S3 requests ({', '.join(f'{op} {k}' for op, k in one_ops.most_common())})")
    print(f"one more report: ingest + conflate {single * 1000:.0f} ms; index {time.perf_counter() - t0:.2f} s, {gen.fetched} concept document read")
    entry = json.loads(ctx.storage.get_bytes("collection.json"))["collection"][0]
    print(f"check: {entry['id']} overall score {entry['score']}, tools {entry['compatibility']['scores']['tools']}")
    if counter is not None:
        print(f"S3 requests in all: {counter.n}")
    stack.close()


if __name__ == "__main__":
    main()

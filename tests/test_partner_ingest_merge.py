"""Partner ingest at scale: reports just stored are merged into `compatibility.json` (no
listing, no other report read), concurrent hand-ins lose no report, an old-format summary
is conflated in full, an ingest that dies between storing and conflating is repaired by
the next run (its pending object), and what one hand-in costs in S3 requests."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.partners.ingest import ingest
from backoffice.partners.ledger import Ledger, VersionRef
from backoffice.records import keys
from backoffice.records.conflation import report_files
from cli_runner import cli_environ
from faulty_storage import FaultyStorage, InjectedFault
from test_partner_reports import SHA, publish_record, write

pytest_plugins = ["backoffice_fixtures"]

PARTNERS = {"ilastik": "ilastik", "deepimagej": "deepimagej", "biapy": "biapy", "qupath": "qupath"}
"""Partner id -> tool name (the dispatch partners of the config that check models)."""


def _concepts(ctx: Context, n: int) -> list[str]:
    """`n` concepts of two published versions each, sent to the partners (one ledger entry each)."""
    ids = [f"model-{i:03d}" for i in range(n)]
    for cid in ids:
        publish_record(ctx, cid, ("1.0", "2.0"), sent=False)
    for partner in PARTNERS:
        Ledger(ctx.storage, partner).append("dispatched", [VersionRef(cid, v, SHA) for cid in ids for v in ("1.0", "2.0")])
    return ids


def _hand_in(folder: Path, tool: str, ids: list[str], release: str = "1.0.0") -> Path:
    for i, cid in enumerate(ids):
        for v in ("1.0", "2.0"):
            status = "failed" if i % 3 == 0 else "passed"
            write(folder, f"{cid}/{v}/{tool}_{release}.json", json.dumps({"status": status, "links": [f"{tool}/{tool}"]}))
    return folder


def _summary(ctx: Context, cid: str, v: str) -> dict[str, Any]:
    return json.loads(ctx.storage.get_bytes(keys.conflated_summary(keys.version_reports(cid, v))))


def _consistent(ctx: Context, cid: str, v: str) -> set[str]:
    """The report files of a version, checked to be exactly those its summary and its brief hold."""
    prefix = keys.version_reports(cid, v)
    stored = {info.key[len(prefix):]: info.etag for info in ctx.storage.list(prefix) if info.key in report_files(ctx.storage, prefix)}
    summary = _summary(ctx, cid, v)
    assert summary["etags"] == stored
    brief = ctx.concepts.get(cid).versions[v].compatibility
    assert brief is not None and brief.revision == summary["revision"]
    assert {f"{t}_{r}.json" for t, releases in brief.reports.items() for r in releases} == set(stored)
    return set(stored)


class _Requests:
    """S3 requests by operation (a botocore event hook), and the prefixes listed."""

    def __init__(self, storage: Any) -> None:
        self.ops: Counter[str] = Counter()
        self.listed: list[str] = []
        self.got: list[str] = []
        storage.client.meta.events.register("before-parameter-build.s3", self._count)

    def _count(self, model: Any, params: dict[str, Any], **_: object) -> None:
        self.ops[model.name] += 1
        if model.name == "ListObjectsV2":
            self.listed.append(str(params.get("Prefix", "")))
        elif model.name == "GetObject":
            self.got.append(str(params["Key"]))


def test_one_hand_in_costs_about_four_requests_per_report(s3_storage: Any, settings_factory: Any, tmp_path: Path) -> None:
    ctx = Context(settings_factory(), storage=s3_storage)
    ids = _concepts(ctx, 30)  # 60 versions, one report each per hand-in (as bench_partner_reports.py)
    requests = _Requests(s3_storage)
    ingest(ctx, "ilastik", [str(_hand_in(tmp_path / "a", "ilastik", ids))])
    first = sum(requests.ops.values()) / 60
    assert first <= 4.2, (first, requests.ops)  # 1 report + 1 summary (new) + 4 per concept of 2 versions + a few per hand-in
    listed_first = list(requests.listed)
    requests.ops.clear()
    requests.listed.clear()
    ingest(ctx, "deepimagej", [str(_hand_in(tmp_path / "b", "deepimagej", ids))])
    second = sum(requests.ops.values()) / 60
    assert second <= 5.2, (second, requests.ops)  # the summary is read once per version now: its merge
    # listings: the pending objects and the partner's ledger, never a version's reports; no other report read
    for prefix in listed_first + requests.listed:
        assert prefix.endswith((keys.PENDING_CONFLATION_PREFIX, "/ledger/")), prefix
    assert not [k for k in requests.got if "/reports/" in k]
    for cid in ids:
        for v in ("1.0", "2.0"):
            assert _consistent(ctx, cid, v) == {"ilastik_1.0.0.json", "deepimagej_1.0.0.json"}
    assert not ctx.storage.list_keys(keys.PENDING_CONFLATION_PREFIX)


def test_concurrent_hand_ins_on_the_same_versions_lose_no_report(s3_storage: Any, settings_factory: Any, tmp_path: Path) -> None:
    ctx = Context(settings_factory(), storage=s3_storage)
    ids = _concepts(ctx, 3)
    folders = {p: _hand_in(tmp_path / p, tool, ids) for p, tool in PARTNERS.items()}
    ingest(ctx, "ilastik", [str(_hand_in(tmp_path / "early", "ilastik", ids, "0.9.0"))])  # summaries exist: merges race
    errors: list[BaseException] = []
    start = threading.Barrier(len(folders))

    def run(partner: str) -> None:
        start.wait()
        try:
            ingest(ctx, partner, [str(folders[partner])])
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(p,)) for p in folders]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for cid in ids:
        for v in ("1.0", "2.0"):
            assert _consistent(ctx, cid, v) == {"ilastik_0.9.0.json"} | {f"{tool}_1.0.0.json" for tool in PARTNERS.values()}
            assert _summary(ctx, cid, v)["revision"] >= 2
        history = ctx.log(cid).read()
        assert sorted(str(e.actor) for e in history if e.step == "compatibility-report") == sorted(
            ["partner:ilastik"] + [f"partner:{p}" for p in PARTNERS])
    assert not ctx.storage.list_keys(keys.PENDING_CONFLATION_PREFIX)


def test_an_old_format_or_missing_summary_is_conflated_in_full(local_ctx: Context, tmp_path: Path) -> None:
    ctx = local_ctx
    ids = _concepts(ctx, 1)
    cid = ids[0]
    ingest(ctx, "ilastik", [str(_hand_in(tmp_path / "a", "ilastik", ids))])
    prefix = keys.version_reports(cid, "1.0")
    # as an earlier backoffice left it: a summary without etags, and a report it had not conflated yet
    old = _summary(ctx, cid, "1.0")
    del old["etags"]
    ctx.storage.put_bytes(keys.conflated_summary(prefix), json.dumps(old).encode())
    ctx.storage.put_bytes(prefix + "qupath_0.5.0.json", b'{"status": "passed"}')
    # version 2.0: its summary is gone although the concept document has a brief
    ctx.storage.delete(keys.conflated_summary(keys.version_reports(cid, "2.0")))
    ingest(ctx, "biapy", [str(_hand_in(tmp_path / "b", "biapy", ids))])
    assert _consistent(ctx, cid, "1.0") == {"ilastik_1.0.0.json", "qupath_0.5.0.json", "biapy_1.0.0.json"}
    assert _consistent(ctx, cid, "2.0") == {"ilastik_1.0.0.json", "biapy_1.0.0.json"}
    assert ctx.concepts.get(cid).versions["1.0"].compatibility.scores.tools["qupath"] == 1.0  # type: ignore[union-attr]


def test_an_ingest_failing_after_storing_is_repaired_by_the_next(local_ctx: Context, settings_factory: Any, tmp_path: Path) -> None:
    ids = _concepts(local_ctx, 4)
    faulty = FaultyStorage(local_ctx.storage)
    broken = Context(local_ctx.settings, storage=faulty)
    hand_in = _hand_in(tmp_path / "a", "ilastik", ids)
    # every summary write fails: the reports are stored, none is conflated
    original = faulty.put_bytes

    def put_bytes(key: str, data: bytes, **kwargs: Any) -> str:
        if key.endswith("/compatibility.json"):
            raise InjectedFault(f"injected at {key}")
        return original(key, data, **kwargs)

    faulty.put_bytes = put_bytes  # type: ignore[method-assign]
    with pytest.raises(InjectedFault):
        ingest(broken, "ilastik", [str(hand_in)])
    assert len(local_ctx.storage.list_keys(keys.PENDING_CONFLATION_PREFIX)) == 1
    assert local_ctx.concepts.get(ids[0]).versions["1.0"].compatibility is None
    # a young pending object belongs to an ingest that may still run: left alone
    ingest(local_ctx, "qupath", [str(_hand_in(tmp_path / "b", "qupath", ids[:1]))])
    assert len(local_ctx.storage.list_keys(keys.PENDING_CONFLATION_PREFIX)) == 1
    repairing = Context(settings_factory(pending_repair_after=0), storage=local_ctx.storage)
    ingest(repairing, "biapy", [str(_hand_in(tmp_path / "c", "biapy", ids[:1]))])
    assert not local_ctx.storage.list_keys(keys.PENDING_CONFLATION_PREFIX)
    for cid in ids:
        for v in ("1.0", "2.0"):
            assert "ilastik_1.0.0.json" in _consistent(local_ctx, cid, v)
    assert {(c, v) for c in ids for v in ("1.0", "2.0")} <= Ledger(local_ctx.storage, "ilastik").state().answered


def _store_files(store: Path, part: str) -> int:
    return sum(1 for p in store.rglob(f"*{part}*") if p.is_file())


def test_an_ingest_killed_mid_way_is_repaired_by_the_next_run(local_ctx: Context, settings_factory: Any, tmp_path: Path) -> None:
    ids = _concepts(local_ctx, 40)
    store = local_ctx.settings.local_root
    env = cli_environ(local_ctx.settings)
    cmd = [sys.executable, "-m", "backoffice", "ingest-reports", "ilastik", str(_hand_in(tmp_path / "a", "ilastik", ids))]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while proc.poll() is None and _store_files(store, "ilastik_1.0.0.json") == 0:
            time.sleep(0.002)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert local_ctx.storage.list_keys(keys.PENDING_CONFLATION_PREFIX)  # cut off before it finished
    stored = _store_files(store, "ilastik_1.0.0.json")
    assert 0 < stored
    # the next run (here the index generation) repairs it
    r = subprocess.run([sys.executable, "-m", "backoffice", "generate-collection-json"], env={**env, "BACKOFFICE_PENDING_REPAIR_AFTER": "0"},
                       cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "repaired 1 interrupted report ingest" in r.stdout
    assert not local_ctx.storage.list_keys(keys.PENDING_CONFLATION_PREFIX)
    found = 0
    for cid in ids:
        for v in ("1.0", "2.0"):
            if local_ctx.storage.exists(keys.version_reports(cid, v) + "ilastik_1.0.0.json"):
                assert _consistent(local_ctx, cid, v) == {"ilastik_1.0.0.json"}
                found += 1
    assert found == _store_files(store, "ilastik_1.0.0.json") >= stored

"""Our own checks as one `bioimageio.core_<version>.json` report assembled from per-format
parts (concurrent test jobs lose nothing, on both backends), and the scoring rules of
docs/compatibility.md."""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.records import keys
from backoffice.records.conflation import conflate_target
from backoffice.records.core_report import assemble, assemble_report, store_part
from backoffice.records.scoring import conflate, tool_score
from backoffice.records.tool_report import ToolReport
from backoffice.storage.base import Storage
from test_partner_reports import publish_record, write

CORE = "0.11.0"


def r(status: str, score: float | None = None, **extra: Any) -> ToolReport:
    data: dict[str, Any] = {"status": status, **extra}
    if score is not None:
        data["score"] = score
    return ToolReport.model_validate(data)


def test_concurrent_test_jobs_all_end_up_in_the_one_report(storage: Storage) -> None:
    prefix = keys.version_reports("brave-otter", "1.0")
    formats = [f"format{i}" for i in range(8)]
    barrier = threading.Barrier(len(formats))

    def job(wf: str) -> None:
        store_part(storage, prefix, CORE, wf, "passed" if wf != "format3" else "failed", {"status": "x"},
                   None if wf != "format3" else "elements disagree")
        barrier.wait()  # every job assembles at the same moment
        assemble_report(storage, prefix, CORE)

    threads = [threading.Thread(target=job, args=(wf,)) for wf in formats]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report = json.loads(storage.get_bytes(prefix + f"bioimageio.core_{CORE}.json"))
    assert sorted(report["details"]["weight_formats"]) == formats
    assert report["status"] == "failed" and report["score"] == 0.875 and report["error"] == "format3: elements disagree"
    assert report["tool"] == "bioimageio.core" and report["tool_version"] == CORE
    assert report["details"]["weight_formats"]["format0"]["report"] == f"parts/bioimageio.core_{CORE}/format0.json"


def test_assembled_report_statuses() -> None:
    static = {"status": "valid-format", "summary": {"metadata_completeness": 0.4}}
    only_static = assemble({"static": static}, CORE, {})
    assert (only_static["status"], only_static["score"], only_static["details"]["status"]) == ("passed", 1.0, "valid-format")
    assert only_static["details"]["metadata_completeness"] == 0.4
    tested = assemble({"static": static, "onnx": {"status": "passed"}, "keras_hdf5": {"status": "skipped"}}, CORE, {})
    assert (tested["status"], tested["score"], tested["details"]["status"]) == ("passed", 1.0, "passed")
    broken = assemble({"static": {"status": "failed", "error": "bad rdf"}}, CORE, {})
    assert (broken["status"], broken["score"], broken["error"]) == ("failed", 0.0, "static: bad rdf")


def test_newest_release_counts_and_older_only_success_scores_lower() -> None:
    """(The running collection's rules in full: tests/test_running_scores.py.)"""
    assert tool_score({"1.0": 0.0, "2.0": 1.0}) == 1.0
    assert tool_score({"1.0": 1.0, "2.0": 0.0}) == 0.5  # the mean of the best releases, at most 0.8
    assert tool_score({"1.0": 0.6, "2.0": 0.4}) == 0.5


def test_conflation_scores_tags_links_and_status() -> None:
    core_new = r("passed", details={"status": "passed", "metadata_completeness": 0.8})
    core_old = r("failed", details={"status": "failed"})
    reports = {("bioimageio.core", "0.11.0"): core_new, ("bioimageio.core", "0.10.4"): core_old,
               ("ilastik", "1.4.1"): r("passed", links=["ilastik/ilastik"], badge={"label": "ilastik", "url": "https://x"}),
               ("careamics", "0.1.0"): r("not-applicable"), ("deepimagej", "3.1.0-snapshot"): r("failed", error="boom\nmore")}
    c = conflate(reports, revision=3)
    assert c.status == "passed" and c.revision == 3
    # not-applicable counts with its score (0), as in the running collection; the snapshot release 0.1 less
    assert c.scores.tools == {"bioimageio.core": 1.0, "ilastik": 1.0, "careamics": 0.0, "deepimagej": 0.0}
    assert c.scores.metadata_format == 1.0 and c.scores.metadata_completeness == 0.8
    assert c.scores.partners == pytest.approx(1 / 3)  # the best three partner scores, divided by three
    assert c.scores.overall == pytest.approx(0.25 * (1 + 0.8 + 1 + 1 / 3))
    assert c.tags == ["bioimageio.core-compatible", "bioimageio.core_0.11.0-compatible", "ilastik-compatible", "ilastik_1.4.1-compatible"]
    assert c.links == ["ilastik/ilastik"] and [b.label for b in c.badges] == ["ilastik"]
    assert c.reports["deepimagej"]["3.1.0-snapshot"].error == "boom"
    only_old_format = conflate({("bioimageio.core", "0.11.0"): core_old, ("bioimageio.core", "0.10.4"): core_new})
    assert only_old_format.status == "failed" and only_old_format.scores.metadata_format == 0.5
    assert only_old_format.scores.core == 0.5 and only_old_format.scores.partners is None
    assert only_old_format.scores.overall == pytest.approx(0.25 * (0.5 + 0.8 + 0.5))  # no partner counts 0
    assert conflate({}).status == "untested" and conflate({}).scores.overall == 0.0


def test_concurrent_conflations_keep_the_newest(ctx: Context) -> None:
    publish_record(ctx)
    prefix = keys.version_reports("brave-otter", "1.0")
    tools = [f"tool{i}" for i in range(6)]
    barrier = threading.Barrier(len(tools))

    def partner(tool: str) -> None:
        ctx.storage.put_bytes(prefix + f"{tool}_1.0.json", b'{"status": "passed"}')
        barrier.wait()
        conflate_target(ctx.storage, ctx.concepts, "brave-otter", "1.0", prefix)

    threads = [threading.Thread(target=partner, args=(t,)) for t in tools]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    compat = ctx.concepts.get("brave-otter").versions["1.0"].compatibility
    assert compat is not None and sorted(compat.reports) == tools


def test_a_lost_summary_does_not_hide_new_reports(ctx: Context) -> None:
    """A summary made afresh (the file lost) starts above the brief the concept document
    holds, so the document takes it."""
    publish_record(ctx)
    prefix = keys.version_reports("brave-otter", "1.0")
    for i in range(3):  # three conflations: the document holds revision 3
        ctx.storage.put_bytes(prefix + f"tool{i}_1.0.json", b'{"status": "passed"}')
        conflate_target(ctx.storage, ctx.concepts, "brave-otter", "1.0", prefix)
    ctx.storage.delete(keys.conflated_summary(prefix))
    ctx.storage.put_bytes(prefix + "late_1.0.json", b'{"status": "failed", "error": "x"}')
    compat = conflate_target(ctx.storage, ctx.concepts, "brave-otter", "1.0", prefix)
    assert compat.revision == 4
    held = ctx.concepts.get("brave-otter").versions["1.0"].compatibility
    assert held is not None and "late" in held.reports and held.revision == 4


def test_only_versions_with_new_reports_are_conflated_again(local_ctx: Context, tmp_path: Path) -> None:
    from backoffice.index.generate import generate_index
    from backoffice.partners.ingest import ingest

    publish_record(local_ctx, versions=("1.0", "2.0"))
    publish_record(local_ctx, cid="calm-cow")
    for v in ("1.0", "2.0"):
        write(tmp_path / "a", f"brave-otter/{v}/ilastik_1.4.json", '{"status": "passed"}')
    write(tmp_path / "a", "calm-cow/1.0/ilastik_1.4.json", '{"status": "passed"}')
    ingest(local_ctx, "ilastik", [str(tmp_path / "a")])
    generate_index(local_ctx)

    def revisions() -> dict[str, int]:
        return {f"{c}/{v}": json.loads(local_ctx.storage.get_bytes(keys.conflated_summary(keys.version_reports(c, v))))["revision"]
                for c, v in (("brave-otter", "1.0"), ("brave-otter", "2.0"), ("calm-cow", "1.0"))}

    before = revisions()
    ingest(local_ctx, "ilastik", [str(write(tmp_path / "b", "brave-otter/2.0/ilastik_1.5.json", '{"status": "failed"}'))])
    after = revisions()
    assert after == {**before, "brave-otter/2.0": before["brave-otter/2.0"] + 1}
    assert generate_index(local_ctx).fetched == 1  # the index re-reads only that concept
    entry = next(e for e in json.loads(local_ctx.storage.get_bytes("collection.json"))["collection"] if e["id"] == "brave-otter")
    assert entry["compatibility"]["scores"]["tools"]["ilastik"] == 0.5

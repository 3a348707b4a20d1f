"""Scores as the running collection computes them: for every version in the sample
(tests/data/realdata/running/reports/bioimage-io/<id>/<version>/summary.json), our conflation of
the same report files gives the published `scores`. Where we deliberately differ
(docs/compatibility.md, "Where we differ"), the difference is named here and checked."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from backoffice.records.conflation import read_reports, report_files
from backoffice.records.scoring import conflate, partner_score, tool_score
from backoffice.records.tool_report import ToolReport
from backoffice.storage.local import LocalStorage

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "realdata" / "running" / "reports" / "bioimage-io"
SUMMARIES = sorted(SAMPLE.glob("*/*/summary.json"))
APPROX = {"abs": 1e-12}


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> LocalStorage:
    """The sample's report files in a store of ours (read the way conflation reads them)."""
    root = tmp_path_factory.mktemp("running")
    shutil.copytree(SAMPLE, root / "bioimage-io")
    return LocalStorage(root, "http://127.0.0.1")


def _published(summary: Path) -> dict[str, Any]:
    return json.loads(summary.read_text())["scores"]


@pytest.mark.parametrize("summary", SUMMARIES, ids=[s.parent.relative_to(SAMPLE).as_posix() for s in SUMMARIES])
def test_our_scores_equal_the_published_ones(store: LocalStorage, summary: Path) -> None:
    prefix = summary.parent.relative_to(SAMPLE.parent).as_posix() + "/reports/"
    ours = conflate(read_reports(store, report_files(store, prefix))).scores
    published = _published(summary)
    assert ours.tool_versions == pytest.approx(published["tool_compatibility_version_specific"], **APPROX)
    assert ours.tools == pytest.approx(published["tool_compatibility"], **APPROX)
    assert ours.core == pytest.approx(published["core_compatibility"], **APPROX)
    # the one difference in naming: no partner report is `None` here, 0 there (it counts 0 in both overalls)
    assert (ours.partners or 0.0) == pytest.approx(published["overall_partner_tool_compatibility"], **APPROX)
    assert ours.metadata_completeness == pytest.approx(published["metadata_completeness"], **APPROX)
    assert ours.metadata_format == published["metadata_format"]
    assert ours.overall == pytest.approx(published["overall_compatibility"], **APPROX)


def test_the_sample_has_the_cases_the_rules_are_about() -> None:
    """So that the comparison above cannot pass on easy data only."""
    cases = {"non-pep440": 0, "only not-applicable": 0, "top-4 mean": 0, "no partner": 0}
    for summary in SUMMARIES:
        scores = _published(summary)
        specific: dict[str, float] = scores["tool_compatibility_version_specific"]
        cases["non-pep440"] += any(k.endswith("-snapshot") for k in specific)
        reports = [json.loads(p.read_text()) for p in (summary.parent / "reports").glob("*.json")]
        tools = {p.name.split("_")[0].lower() for p in (summary.parent / "reports").glob("*.json")}
        for tool in tools:
            statuses = {r["status"] for p, r in zip((summary.parent / "reports").glob("*.json"), reports)
                        if p.name.split("_")[0].lower() == tool}
            cases["only not-applicable"] += statuses == {"not-applicable"}
        cases["top-4 mean"] += any(0 < v < 0.8 and v not in specific.values() for v in scores["tool_compatibility"].values())
        cases["no partner"] += set(scores["tool_compatibility"]) <= {"bioimageio.core"}
    assert all(n > 0 for n in cases.values()), cases


def test_the_rules() -> None:
    assert tool_score({"3.1.0-snapshot": 1.0}) == pytest.approx(0.9)  # the non-PEP 440 deduction
    assert tool_score({"3.1.0-snapshot": 0.05}) == 0.0  # never below 0
    assert tool_score({"3.1.0-snapshot": 1.0, "2.0": 0.0}) == pytest.approx(0.45)  # counts as older than 2.0: mean
    assert tool_score({"1.0": 0.0}) == 0.0  # a tool with not-applicable reports only scores 0
    assert tool_score({"2.0": 0.9, "1.0": 0.0}) == 0.9  # newest >= 0.8 counts as is
    assert tool_score({"1.0": 1.0, "1.1": 1.0, "1.2": 1.0, "1.3": 1.0, "2.0": 0.5}) == 0.8  # top-4 mean, capped
    assert tool_score({"1.0": 0.5, "1.1": 0.0, "1.2": 0.0, "1.3": 0.0, "2.0": 0.3}) == 0.3  # never below the newest
    assert tool_score({"1.10": 1.0, "1.9": 0.0}) == 1.0  # version order, not text order
    assert tool_score({}) is None
    assert partner_score({"bioimageio.core": 1.0, "ilastik": 1.0}) == pytest.approx(1 / 3)  # divided by three
    assert partner_score({"a": 1.0, "b": 1.0, "c": 0.5, "d": 0.0}) == pytest.approx(2.5 / 3)
    assert partner_score({"bioimageio.core": 1.0}) is None


def test_difference_two_files_of_one_release_take_the_better() -> None:
    """Where we differ: `CAREamics_0.1.0.json` next to `careamics_0.1.0.json` (or two non-PEP 440
    versions, which both count as 0.0.0) are one release to both; the running collection keeps
    whichever file it read last (file-system order), we keep the better scored, every time."""
    passed, failed = ToolReport(status="passed", score=1.0), ToolReport(status="failed", score=0.0)
    for order in ([("CAREamics", "0.1.0"), ("careamics", "0.1.0")], [("careamics", "0.1.0"), ("CAREamics", "0.1.0")]):
        c = conflate(dict(zip(order, (passed, failed))))
        assert c.scores.tools == {"careamics": 1.0} and c.scores.tool_versions == {"careamics_0.1.0": 1.0}
        assert c.reports["careamics"]["0.1.0"].file == f"{order[0][0]}_0.1.0.json"
    assert tool_score({"3.1.0-snapshot": 0.0, "3.2.0-snapshot": 1.0}) == pytest.approx(0.9)


def test_difference_status_is_the_newest_core_verdict(store: LocalStorage) -> None:
    """Where we differ: the published `status` is `passed` when any tool scores 0.5 or more; ours
    is the newest bioimageio.core verdict. Both rules are checked over the sample, and they do disagree there."""
    disagree = 0
    for summary in SUMMARIES:
        published = json.loads(summary.read_text())
        prefix = summary.parent.relative_to(SAMPLE.parent).as_posix() + "/reports/"
        reports = read_reports(store, report_files(store, prefix))
        ours = conflate(reports)
        assert published["status"] == ("passed" if any(v >= 0.5 for v in ours.scores.tools.values()) else "failed")
        core = {v: r for (t, v), r in reports.items() if t == "bioimageio.core"}
        if core:
            newest = core[max(core, key=lambda v: tuple(int(x) for x in v.split(".")))]
            assert ours.status == ("failed" if newest.status == "failed" else ours.status)
            assert ours.status in ("passed", "valid-format", "failed")
        else:
            assert ours.status == "untested"
        disagree += ours.status != published["status"]
    assert disagree > 0

"""Reports as partners really write them: every report file of the running collection's sample
(tests/data/realdata/running/reports/**/reports/*.json) passes the checks `ingest-reports` makes,
and the quirks seen there (`tool` holding `<tool>_<version>`, two casings of a tool name,
`score` absent, `details` of any JSON type, `error` "" or null, `not-applicable`) are read
as the running collection reads them."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from backoffice.config.collection_config import Partner
from backoffice.context import Context
from backoffice.errors import ReportRejectedError
from backoffice.partners.ingest import Candidate, check, ingest
from backoffice.records import keys
from backoffice.records.concept import ConceptRecord, ResourceSummary, VersionRecord
from backoffice.records.tool_report import ReportProblem, parse_report
from backoffice.resource_types import RESOURCE_TYPES

REPO = Path(__file__).resolve().parents[1]
RUNNING = REPO / "tests" / "data" / "realdata" / "running"
SAMPLE = RUNNING / "reports" / "bioimage-io"
REPORTS = sorted(SAMPLE.glob("*/*/reports/*.json"))
TYPES: dict[str, str] = {i["id"].split("/", 1)[1].replace(":", "_"): i["type"]  # by report folder (`imjoy:vizarr` -> `imjoy_vizarr`)
                         for i in json.loads((RUNNING / "index.json").read_text())["items"]}


def hold_sample(ctx: Context) -> None:
    """Every sample resource as a concept with its published versions and their rdf sha256."""
    for cid, rtype in TYPES.items():
        versions = {}
        for summary in sorted((SAMPLE / cid).glob("*/summary.json")):
            data = json.loads(summary.read_text())
            v = summary.parent.name
            versions[v] = VersionRecord(version=v, rdf_sha256=data["rdf_yaml_sha256"], summary=ResourceSummary(name=cid))
        ctx.concepts.save(ConceptRecord(id=cid, type=rtype, versions=versions))  # type: ignore[arg-type]


def partner_of(ctx: Context, tool: str, rtype: str) -> Partner:
    """The partner reporting as `tool` (case-insensitive). The running collection's own
    bioimageio.core checked every type; our `core-previous` partner checks models only, so for
    the others it is taken as checking every type (as an import takes the core's reports)."""
    (partner,) = [p for p in ctx.config.partners if p.tool_name.lower() == tool.lower()]
    if rtype not in partner.resource_types and partner.tool_name == "bioimageio.core":
        return partner.model_copy(update={"resource_types": list(RESOURCE_TYPES)})
    return partner


def test_every_sample_report_passes_the_ingest_checks(local_ctx: Context) -> None:
    hold_sample(local_ctx)
    refused: list[str] = []
    tools: Counter[str] = Counter()
    for path in REPORTS:
        rel = path.relative_to(SAMPLE).as_posix()
        cid = rel.split("/", 1)[0]
        tool = path.name.split("_", 1)[0]
        try:
            accepted = check(local_ctx, partner_of(local_ctx, tool, TYPES[cid]), Candidate(str(path), rel, path.read_bytes))
        except ReportRejectedError as e:
            refused.append(str(e))
            continue
        assert accepted.tool == tool  # stored as received
        assert accepted.key.endswith("/" + path.name)
        tools[tool] += 1
    assert not refused, f"{len(refused)} of {len(REPORTS)} refused, e.g. {refused[:3]}"
    assert len(REPORTS) == 544 and sum(tools.values()) == 544
    assert tools["CAREamics"] == 15 and tools["careamics"] == 119 and tools["deepimagej"] == 20


def test_the_quirks_are_in_the_sample() -> None:
    """The cases the checks must take are really there (the test above would not see them vanish)."""
    seen: Counter[str] = Counter()
    for path in REPORTS:
        raw = json.loads(path.read_text())
        seen["tool with version"] += "_" in str(raw.get("tool") or "")
        seen["no score"] += "score" not in raw
        seen["empty error"] += raw.get("error") == ""
        seen["not-applicable"] += raw["status"] == "not-applicable"
        seen[f"details {type(raw.get('details')).__name__}"] += 1
    assert seen["tool with version"] == 7 and seen["no score"] > 100 and seen["empty error"] > 10
    assert seen["not-applicable"] > 100
    assert {"details str", "details list", "details dict", "details NoneType"} <= set(seen)


def test_how_a_report_is_read() -> None:
    _, _, r = parse_report("deepimagej_3.1.0-snapshot.json", b'{"status": "failed", "tool": "deepimagej_3.1.0-snapshot", "error": "x"}')
    assert (r.status, r.score, r.error) == ("failed", 0.0, "x")
    _, _, r = parse_report("CAREamics_0.0.16.json", b'{"status": "not-applicable", "tool": "careamics", "details": ["a"], "error": ""}')
    assert (r.score, r.error, r.details) == (0.0, None, ["a"])
    tool, version, r = parse_report("ilastik_1.4.1.json", b'{"status": "passed", "error": "", "details": null}')
    assert (tool, version, r.score, r.error) == ("ilastik", "1.4.1", 1.0, None)
    for name, body in (("deepimagej_3.1.0-snapshot.json", '{"status": "failed", "tool": "deepimagej_3.1.0"}'),
                       ("deepimagej_3.1.0.json", '{"status": "failed", "tool": "ilastik"}')):
        with pytest.raises(ReportProblem, match="does not agree with the file name"):
            parse_report(name, body.encode())


def test_a_partner_report_keeps_its_casing_in_storage(local_ctx: Context, tmp_path: Path) -> None:
    hold_sample(local_ctx)
    folder = SAMPLE / "affectionate-cow" / "v0" / "reports"
    cases = sorted(folder.glob("*amics_*.json"))
    assert {p.name.split("_")[0] for p in cases} == {"CAREamics", "careamics"}
    drop = tmp_path / "drop" / "affectionate-cow" / "v0"
    drop.mkdir(parents=True)
    for p in cases:
        (drop / p.name).write_bytes(p.read_bytes())
    result = ingest(local_ctx, "careamics", [str(tmp_path / "drop")])
    prefix = keys.version_reports("affectionate-cow", "v0")
    assert sorted(a.key for a in result.accepted) == sorted(prefix + p.name for p in cases)
    for p in cases:
        assert local_ctx.storage.get_bytes(prefix + p.name) == p.read_bytes()
    conflated = json.loads(local_ctx.storage.get_bytes(keys.conflated_summary(prefix)))
    assert set(conflated["tests"]) == {"careamics"}  # one tool, as in the running collection's summary.json
    compat = local_ctx.concepts.get("affectionate-cow").versions["v0"].compatibility
    assert compat is not None and set(compat.reports) == {"careamics"} and compat.scores.tools == {"careamics": 0.0}
    assert {b.file for b in compat.reports["careamics"].values()} == {p.name for p in cases}

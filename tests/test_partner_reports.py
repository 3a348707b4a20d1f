"""Partner reports: the format of the running bioimage.io collection is ingested byte for
byte and conflated into scores, tags and links in collection.json; every malformed report
is refused with one line naming the file and field, and nothing stored changes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from backoffice.context import Context
from backoffice.errors import NotFoundError, ReportRejectedError
from backoffice.index.generate import generate_index
from backoffice.partners.ingest import ingest, load_expected
from backoffice.records import keys
from backoffice.records.concept import ConceptRecord, ResourceSummary, VersionRecord
from backoffice.records.report_names import current_core_version

REPO = Path(__file__).resolve().parents[1]
SHA = "3f" * 32
CID = "brave-otter"

# shaped like a report the running collection holds (reports/<id>/<version>/reports/ilastik_1.4.1.post1.json)
ILASTIK_REPORT = """{
    "badge": null,
    "details": {
        "details": [
            {
                "errors": [],
                "loc": [],
                "name": "Successfully created `ModelDescr` object.",
                "status": "passed",
                "warnings": []
            }
        ],
        "env": [["bioimageio.core", "0.8.0", "", ""], ["bioimageio.spec", "0.5.4.1", "", ""]],
        "format_version": "0.5.4",
        "id": "affable-shark",
        "name": "bioimageio format validation",
        "status": "passed",
        "type": "model"
    },
    "error": null,
    "links": [
        "ilastik/ilastik"
    ],
    "status": "passed",
    "tool": "ilastik"
}"""
DEEPIMAGEJ_REPORT = '{"status": "failed", "error": "java.lang.IllegalArgumentException: Invalid axis configuration", "details": "OpenJDK warning\\n..."}'


def publish_record(ctx: Context, cid: str = CID, versions: tuple[str, ...] = ("1.0",), kind: str = "model", *, sent: bool = True) -> None:
    """Published versions of `cid`, and (`sent`) the dispatch partners were sent them."""
    ctx.concepts.save(ConceptRecord(id=cid, type=kind, versions={  # type: ignore[arg-type]
        v: VersionRecord(version=v, rdf_sha256=SHA, summary=ResourceSummary(name=cid, weight_formats=["onnx"], tags=["unet"]))
        for v in versions}))
    if sent:
        sent_to_partners(ctx, cid, versions)


def sent_to_partners(ctx: Context, cid: str, versions: tuple[str, ...]) -> None:
    """Ledger entries as `dispatch-partners` writes them: a dispatch partner reports only on what it was sent."""
    from backoffice.partners.ledger import Ledger, VersionRef

    for partner in ctx.config.partners:
        if partner.dispatch is not None:
            Ledger(ctx.storage, partner.id).append("dispatched", [VersionRef(cid, v, SHA) for v in versions])


def write(folder: Path, rel: str, text: str | bytes) -> Path:
    path = folder / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


def snapshot(ctx: Context) -> dict[str, bytes]:
    return {k: ctx.storage.get_bytes(k) for k in ctx.storage.list_keys("") if not k.startswith((f"{CID}/log/", "index/dirty/"))}


def test_a_report_of_the_running_collection_is_ingested_unchanged_and_conflated(ctx: Context, tmp_path: Path) -> None:
    publish_record(ctx)
    src = write(tmp_path, f"reports/{CID}/1.0/reports/ilastik_1.4.1.post1.json", ILASTIK_REPORT)
    result = ingest(ctx, "ilastik", [str(src)])
    assert [(a.concept_id, a.version, a.tool, a.tool_version) for a in result.accepted] == [(CID, "1.0", "ilastik", "1.4.1.post1")]
    key = keys.version_reports(CID, "1.0") + "ilastik_1.4.1.post1.json"
    assert ctx.storage.get_bytes(key) == ILASTIK_REPORT.encode()  # byte for byte
    compat = ctx.concepts.get(CID).versions["1.0"].compatibility
    assert compat is not None and compat.scores.tools == {"ilastik": 1.0} and compat.scores.partners == pytest.approx(1 / 3)
    assert compat.tags == ["ilastik-compatible", "ilastik_1.4.1.post1-compatible"] and compat.links == ["ilastik/ilastik"]

    write(tmp_path, f"more/{CID}/1.0/deepimagej_3.1.0-snapshot.json", DEEPIMAGEJ_REPORT)
    ingest(ctx, "deepimagej", [str(tmp_path / "more")])
    generate_index(ctx)
    entry = json.loads(ctx.storage.get_bytes("collection.json"))["collection"][0]
    assert "ilastik-compatible" in entry["tags"] and "unet" in entry["tags"] and "deepimagej-compatible" not in entry["tags"]
    reports = entry["compatibility"]["reports"]
    assert reports["ilastik"]["1.4.1.post1"]["url"].endswith(f"{CID}/1.0/reports/ilastik_1.4.1.post1.json")
    assert reports["deepimagej"]["3.1.0-snapshot"] == {
        "status": "failed", "score": 0.0, "error": "java.lang.IllegalArgumentException: Invalid axis configuration",
        "url": ctx.storage.public_url(keys.version_reports(CID, "1.0") + "deepimagej_3.1.0-snapshot.json")}
    assert entry["compatibility"]["scores"]["partners"] == pytest.approx((1.0 + 0.0) / 3) and entry["links"] == ["ilastik/ilastik"]
    assert entry["versions"][0]["tags"] == ["ilastik-compatible", "ilastik_1.4.1.post1-compatible"]
    overview = json.loads(ctx.storage.get_bytes("compatibility.json"))["tools"]
    assert [w["id"] for w in overview["ilastik"]["works"]] == [CID]
    assert overview["deepimagej"]["fails"][0]["reason"].startswith("java.lang.IllegalArgumentException")
    summary = json.loads(ctx.storage.get_bytes(keys.conflated_summary(keys.version_reports(CID, "1.0"))))
    assert summary["tests"]["ilastik"]["1.4.1.post1"]["links"] == ["ilastik/ilastik"] and summary["revision"] == 2


def test_an_unparsable_stored_report_is_a_failed_entry_that_says_so(local_ctx: Context) -> None:
    from backoffice.records.conflation import conflate_target

    publish_record(local_ctx)
    prefix = keys.version_reports(CID, "1.0")
    local_ctx.storage.put_bytes(prefix + "biapy_3.6.5.json", b"{not json")
    compat = conflate_target(local_ctx.storage, local_ctx.concepts, CID, "1.0", prefix)
    brief = compat.reports["biapy"]["3.6.5"]
    assert brief.status == "failed" and brief.score == 0 and brief.error is not None and "could not be parsed" in brief.error


def _zip(path: Path, members: dict[str, str]) -> Path:
    with zipfile.ZipFile(path, "w") as z:
        for name, text in members.items():
            z.writestr(name, text)
    return path


def test_artifact_zip_and_url_sources(local_ctx: Context, tmp_path: Path, file_server: tuple[Path, str]) -> None:
    publish_record(local_ctx, versions=("1.0", "2.0"))
    art = _zip(tmp_path / "artifact.zip", {f"{CID}/1.0/biapy_3.6.8.json": '{"status": "passed", "score": 0.9}',
                                           f"{CID}/2.0/biapy_3.6.8.json": '{"status": "passed"}'})
    assert len(ingest(local_ctx, "biapy", [str(art)]).accepted) == 2
    served, base = file_server
    write(served, f"{CID}/2.0/biapy_3.6.9.json", '{"status": "failed", "error": "boom"}')
    (served / "reports.zip").write_bytes(art.read_bytes())
    got = ingest(local_ctx, "biapy", [f"{base}/{CID}/2.0/biapy_3.6.9.json", f"{base}/reports.zip"])
    assert {(a.version, a.tool_version) for a in got.accepted} == {("2.0", "3.6.9"), ("1.0", "3.6.8"), ("2.0", "3.6.8")}
    compat = local_ctx.concepts.get(CID).versions["2.0"].compatibility
    assert compat is not None and compat.scores.tools["biapy"] == 0.5  # newest fails: the mean of the best releases (at most 0.8)


GOOD = '{"status": "passed"}'
BAD_CASES: list[tuple[str, str, str | bytes, str]] = [
    ("wrong status", f"ilastik/{CID}/1.0/ilastik_1.4.json", '{"status": "ok"}', "status"),
    ("score above 1", f"ilastik/{CID}/1.0/ilastik_1.4.json", '{"status": "passed", "score": 1.5}', "score"),
    ("unknown version", f"ilastik/{CID}/9.9/ilastik_1.4.json", GOOD, "version"),
    ("unknown concept", "ilastik/calm-cow/1.0/ilastik_1.4.json", GOOD, "concept"),
    ("foreign partner", f"ilastik/{CID}/1.0/deepimagej_3.1.json", GOOD, "tool"),
    ("50 MB file", f"ilastik/{CID}/1.0/ilastik_1.4.json", b'{"status": "passed", "details": "' + b"x" * (50 * 1024 * 1024) + b'"}', "size"),
    ("not JSON", f"ilastik/{CID}/1.0/ilastik_1.4.json", "status: passed", "content"),
    ("not an object", f"ilastik/{CID}/1.0/ilastik_1.4.json", '["passed"]', "content"),
    ("_ in the name", f"ilastik/{CID}/1.0/ilastik_1_4.json", GOOD, "file name"),
    ("mismatching tool inside", f"ilastik/{CID}/1.0/ilastik_1.4.json", '{"status": "passed", "tool": "biapy"}', "tool"),
    ("mismatching version inside", f"ilastik/{CID}/1.0/ilastik_1.4.json", '{"status": "passed", "tool_version": "1.5"}', "tool_version"),
    ("bad version pattern", f"ilastik/{CID}/1.0/ilastik_1.4B.json", GOOD, "tool_version"),
    ("sha256 mismatch", f"ilastik/{CID}/1.0/ilastik_1.4.json", '{"status": "passed", "rdf_sha256": "' + "00" * 32 + '"}', "rdf_sha256"),
    ("no status", f"ilastik/{CID}/1.0/ilastik_1.4.json", '{"score": 1}', "status"),
    ("badge without label", f"ilastik/{CID}/1.0/ilastik_1.4.json", '{"status": "passed", "badge": {"icon": "x"}}', "badge.label"),
    ("path without version", "flat/ilastik_1.4.json", GOOD, "path"),  # the folder `flat` is handed in
]


@pytest.mark.parametrize(("case", "rel", "content", "field"), BAD_CASES, ids=[c[0] for c in BAD_CASES])
def test_malformed_report_is_refused_with_one_line_and_nothing_changes(
    ctx: Context, tmp_path: Path, case: str, rel: str, content: str | bytes, field: str
) -> None:
    publish_record(ctx)
    ingest(ctx, "ilastik", [str(write(tmp_path / "earlier", f"{CID}/1.0/ilastik_1.3.json", GOOD))])
    before = snapshot(ctx)
    good = write(tmp_path / "ilastik", f"{CID}/1.0/ilastik_1.5.json", GOOD)  # checked first, yet not stored either
    bad = write(tmp_path, rel, content)
    with pytest.raises(ReportRejectedError) as info:
        ingest(ctx, "ilastik", [str(good), str(bad.parent if rel.startswith("flat/") else bad)])
    message = str(info.value)
    assert "\n" not in message and message.startswith(f"{bad}: {field}: "), message
    assert snapshot(ctx) == before


def test_partner_types_and_our_own_release_are_guarded(local_ctx: Context, tmp_path: Path) -> None:
    publish_record(local_ctx, cid="tasty-cake", kind="dataset")
    with pytest.raises(ReportRejectedError, match="type: partner 'ilastik' does not check datasets"):
        ingest(local_ctx, "ilastik", [str(write(tmp_path, "tasty-cake/1.0/ilastik_1.4.json", GOOD))])
    publish_record(local_ctx)
    own = write(tmp_path, f"{CID}/1.0/bioimageio.core_{current_core_version()}.json", GOOD)
    with pytest.raises(ReportRejectedError, match="tool_version: bioimageio.core .* is the release the backoffice reports on itself"):
        ingest(local_ctx, "core-previous", [str(own)])
    with pytest.raises(NotFoundError, match="is not a partner"):
        ingest(local_ctx, "nobody", [str(own)])


def test_cli_one_line_error_and_exit_code(local_ctx: Context, tmp_path: Path) -> None:
    publish_record(local_ctx)
    bad = write(tmp_path, f"{CID}/1.0/ilastik_1.4.json", '{"status": "passed", "score": 2}')
    s = local_ctx.settings
    env = {**os.environ, "PYTHONPATH": str(REPO), "BACKOFFICE_LOCAL_ROOT": str(s.local_root),
           "BACKOFFICE_CONFIG_PATH": str(s.config_path), "BACKOFFICE_COLLECTION_DIR": str(s.collection_dir)}
    r = subprocess.run([sys.executable, "-m", "backoffice", "ingest-reports", "ilastik", str(bad)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 15 and r.stderr.strip().splitlines() == [f"error: {bad}: score: Input should be less than or equal to 1"]
    good = write(tmp_path, f"ok/{CID}/1.0/ilastik_1.4.json", '{"status": "passed", "score": 1}')
    r = subprocess.run([sys.executable, "-m", "backoffice", "ingest-reports", "ilastik", str(good)],
                       env=env, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert f"{CID} 1.0: ilastik 1.4 passed (score 1)" in r.stdout



def test_a_planned_check_hands_in_only_reports_on_what_it_was_given(local_ctx: Context, tmp_path: Path) -> None:
    """A `script` partner's check runs uploaded code: its reports count only for the
    resources it was given, naming the rdf it checked and the release its environment pins."""
    publish_record(local_ctx, versions=("1.0", "2.0"))
    planned = tmp_path / "resources.json"
    planned.write_text(json.dumps([{"id": CID, "version": "1.0", "type": "model", "rdf_url": "x", "sha256": SHA}]))
    expected = load_expected(planned)
    pinned = '{"status": "failed", "rdf_sha256": "%s"}' % SHA
    before = snapshot(local_ctx)
    cases = {
        "resource": write(tmp_path, f"a/{CID}/2.0/bioimageio.core_0.10.4.json", pinned),  # not given to the check
        "rdf_sha256": write(tmp_path, f"b/{CID}/1.0/bioimageio.core_0.10.4.json", '{"status": "failed"}'),
        "tool_version": write(tmp_path, f"c/{CID}/1.0/bioimageio.core_99.0.json", pinned),  # not the pinned release
    }
    for field, path in cases.items():
        with pytest.raises(ReportRejectedError, match=f": {field}: "):
            ingest(local_ctx, "core-previous", [str(path)], expected=expected)
    assert snapshot(local_ctx) == before
    ok = write(tmp_path, f"d/{CID}/1.0/bioimageio.core_0.10.4.json", pinned)
    assert len(ingest(local_ctx, "core-previous", [str(ok)], expected=expected).accepted) == 1

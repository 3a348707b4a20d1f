"""A hostile imported collection (review of issue 25's import): what one resource of the
running collection writes into its own `summary.json` must not take another concept's
DOI in id_map.json, and a date without a time zone must not end the whole import."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from backoffice.config.collection_config import load_collection_config
from backoffice.importer.models import GitopsEntry, RunningItem, RunningSummary, RunningVersion
from backoffice.importer.plan import ConceptPlan, LoadedItem, LoadedVersion, plan_import
from backoffice.index.plan import plan_index
from backoffice.records.concept import ConceptRecord
from config_paths import TEST_CONFIG

if TYPE_CHECKING:
    from pathlib import Path

    from backoffice.context import Context

AT = datetime(2026, 6, 1, tzinfo=timezone.utc)
TYPES = ("model", "dataset", "notebook", "application")
CONFIG = load_collection_config(TEST_CONFIG)


def _item(nick: str, rdf_id: str | None = None, created: datetime | None = None, sha: str = "a" * 64) -> LoadedItem:
    entry = RunningVersion(version="v0", sha256=sha, source=f"https://files.example.org/{nick}/rdf.yaml",
                           created_at=created or datetime(2025, 1, 1, tzinfo=timezone.utc))
    content: dict[str, Any] = {"type": "model", "name": nick, "uploader": {"email": f"{nick}@example.org"}}
    if rdf_id is not None:
        content["id"] = rdf_id
    return LoadedItem(RunningItem(id=f"bioimage-io/{nick}", type="model", versions=[entry]),
                      [LoadedVersion(entry, RunningSummary(rdf_content=content, rdf_yaml_sha256=sha), [])])


def _record(cp: ConceptPlan) -> ConceptRecord:
    """The concept the import writes (as `importer/execute.py` does: version records with their old ids)."""
    assert cp.record is not None, cp.notes
    record = cp.record.model_copy(deep=True)
    for vp in cp.versions:
        v = vp.record.model_copy(deep=True)
        v.rdf_sha256 = f"sha-{cp.id}"
        assert v.legacy is not None
        v.legacy = v.legacy.model_copy(update={"ids": vp.legacy_ids})
        record.versions[vp.label] = v
    return record


def test_an_imported_rdf_id_cannot_take_another_concepts_doi() -> None:
    gitops = [GitopsEntry(id="10.5281/zenodo.100", nickname="good-dog", versions=["103", "101"], created="2022-06-15")]
    # `able-ant` sorts first; its rdf (summary.json rdf_content, written upstream by its uploader) claims
    # good-dog's concept DOI, version DOI and GitOps-era rdf id
    hostile = [_item("able-ant", "10.5281/zenodo.100"), _item("able-bee", "10.5281/zenodo.103"),
               _item("able-cat", "10.5281/zenodo.100/101"), _item("able-dog", "10.5281/zenodo.101")]
    plan = plan_import([*hostile, _item("good-dog")], gitops, {}, types=TYPES, source="src", at=AT, files=False, update=False)
    records = [_record(cp) for cp in plan.concepts]
    good = records[-1]
    assert good.concept_doi == "10.5281/zenodo.100" and good.versions["v0"].doi == "10.5281/zenodo.103"
    assert records[3].legacy is not None and "10.5281/zenodo.101" not in records[3].legacy.ids  # a bare DOI is never an rdf's old id
    id_map = plan_index(records, {}, CONFIG, lambda k: "http://x/" + k).id_map
    for doi in ("10.5281/zenodo.100", "10.5281/zenodo.103", "10.5281/zenodo.100/101", "10.5281/zenodo.101"):
        assert id_map[doi].sha256 == "sha-good-dog", doi
    # an rdf id naming no other concept's DOI still resolves (the GitOps-era ids of the issue)
    own = plan_import([_item("brisk-eel", "10.5281/zenodo.900/901")], [], {}, types=TYPES, source="src", at=AT,
                      files=False, update=False)
    assert plan_index([_record(own.concepts[0])], {}, CONFIG, lambda k: "http://x/" + k).id_map["10.5281/zenodo.900/901"].sha256 == "sha-brisk-eel"


def test_a_date_without_time_zone_does_not_end_the_import() -> None:
    naive = _item("good-dog", created=datetime(2021, 3, 4))  # index.json `created_at: 2021-03-04T00:00:00`
    gitops = [GitopsEntry(id="10.5281/zenodo.100", nickname="good-dog", versions=["103"], created="2022-06-15")]
    plan = plan_import([naive, _item("fine-fox")], gitops, {}, types=TYPES, source="src", at=AT, files=False, update=False)
    by = {cp.id: cp for cp in plan.concepts}
    assert by["fine-fox"].action == "create"
    good = by["good-dog"]
    assert good.action == "create" and good.record is not None
    assert good.record.created == datetime(2021, 3, 4, tzinfo=timezone.utc)  # read as UTC, like the GitOps dates
    records = [_record(cp) for cp in plan.concepts]
    index = plan_index(records, {}, CONFIG, lambda k: "http://x/" + k)
    assert {e.id for e in index.collection.collection} == {"good-dog", "fine-fox"}


def test_a_naive_running_version_date_is_utc() -> None:
    v = RunningVersion.model_validate({"version": "v0", "sha256": "a" * 64, "source": "https://x/rdf.yaml",
                                       "created_at": "2021-03-04T05:06:07"})
    assert v.created_at == datetime(2021, 3, 4, 5, 6, 7, tzinfo=timezone.utc)


# upload-artifact refuses these in a name (NTFS and macOS limits)
ARTIFACT_NAME_REFUSED = set('":<>|*?\r\n\\/')


def _render(template: str, values: dict[str, str]) -> str:
    """`${{ a || b || 'c' }}` expressions of a workflow value with `values` (a tiny evaluator for names)."""
    import re

    def one(m: re.Match[str]) -> str:
        for alt in (a.strip() for a in m.group(1).split("||")):
            value = alt.strip("'") if alt.startswith("'") else values.get(alt, "")
            if value:
                return value
        return ""

    return re.sub(r"\$\{\{(.*?)\}\}", one, template)


def test_a_retest_leg_of_an_imported_partner_application_can_hand_over_its_summary() -> None:
    """retest_all plans a leg for every published version, the imported `imjoy:vizarr` among
    them (its id passes the one id rule); the leg's hand-over must have a name upload-artifact takes."""
    from backoffice.layout import checked
    from test_workflows import workflow

    entry = {"matrix.index": "7", "matrix.concept_id": checked("imjoy:vizarr"), "matrix.version": "v0",
             "matrix.weight_format": "", "inputs.run_key": "retest-123-0", "inputs.concept_id": "", "inputs.version": ""}
    run = workflow("test_matrix.yaml")["jobs"]["run"]
    upload = next(s for s in run["steps"] if str(s.get("uses", "")).startswith("actions/upload-artifact@"))
    name = _render(upload["with"]["name"], entry)
    assert not ARTIFACT_NAME_REFUSED & set(name), name
    # the store job finds that hand-over under the same name (by the entry's index)
    store = next(s["run"] for s in workflow("test_matrix.yaml")["jobs"]["store"]["steps"] if "store-test-result" in s.get("run", ""))
    assert 'file="handovers/$RUN_KEY--$index--${weight_format:-static}/summary.json"' in store
    assert name == "retest-123-0--7--static"


def test_a_version_published_in_the_future_is_refused() -> None:
    """Versions are ordered by their published date: one dated 2099 would be the concept's latest
    (what its id resolves to) whatever is published after it."""
    item = _item("good-dog")
    later = RunningVersion(version="v1", sha256="b" * 64, source="https://files.example.org/good-dog/v1/rdf.yaml",
                           created_at=datetime(2099, 1, 1, tzinfo=timezone.utc))
    item.item.versions.append(later)
    item.versions.append(LoadedVersion(later, RunningSummary(rdf_content={"type": "model", "name": "x"}, rdf_yaml_sha256="b" * 64), []))
    [cp] = plan_import([item], [], {}, types=TYPES, source="src", at=AT, files=False, update=False).concepts
    assert cp.action == "create" and [v.label for v in cp.versions] == ["v0"]
    assert "date to come" in cp.refusals and any(n.startswith("v1: refused: published 2099-01-01") for n in cp.notes)


def test_a_tool_version_of_5000_digits_in_a_summary_does_not_end_the_import() -> None:
    """summary.json `tests` names the tool versions; packaging's Version turns a release number into
    an int, and Python refuses more than 4300 digits with a ValueError (not InvalidVersion)."""
    from backoffice.records.scoring import newest_version

    huge = "1" * 5000
    item = _item("good-dog")
    summary = item.versions[0].summary
    assert summary is not None
    summary.tests = {"bioimageio.core": {huge: {"status": "passed"}, "0.9.0": {"status": "failed"}}}
    plan = plan_import([item, _item("fine-fox")], [], {}, types=TYPES, source="src", at=AT, files=False, update=False)
    by = {cp.id: cp for cp in plan.concepts}
    assert by["good-dog"].action == "create" and by["fine-fox"].action == "create"
    assert by["good-dog"].versions[0].record.legacy is not None
    assert by["good-dog"].versions[0].record.legacy.status_tests == {"bioimageio.core": "failed"}  # a PEP 440 version is newer
    assert newest_version([huge, "0.9.0"]) == "0.9.0"


def test_one_unreadable_summary_refuses_its_version_and_the_import_goes_on(local_ctx: "Context", tmp_path: "Path") -> None:
    """summary.json is read as a model since `status` is one of its fields: a summary whose status
    is a number (or that is no JSON at all) ended the whole import with one error, before a thing was
    planned; it refuses its own version with that reason."""
    import json

    from backoffice.importer.run import import_collection
    from import_helpers import AT as SAMPLE_AT
    from import_helpers import copy_running

    src = copy_running(tmp_path / "running")
    index = json.loads((src / "index.json").read_text())
    index["items"] = [i for i in index["items"] if i["id"] in ("bioimage-io/chatty-frog", "bioimage-io/fearless-crab")]
    (src / "index.json").write_text(json.dumps(index))
    bad = src / "reports" / "bioimage-io" / "chatty-frog"
    for summary in bad.glob("*/summary.json"):
        data = json.loads(summary.read_text())
        data["status"] = 5
        summary.write_text(json.dumps(data))
    [report] = import_collection(local_ctx, [str(src)], at=datetime.fromisoformat(SAMPLE_AT), workers=1, files=False)
    assert local_ctx.concepts.find("fearless-crab") is not None
    assert local_ctx.concepts.find("chatty-frog") is None
    assert report.refusals().get("unreadable summary.json", 0) >= 1
    [frog] = [o for o in report.outcomes if o.id == "chatty-frog"]
    assert any("not a summary" in n for n in frog.notes), frog.notes

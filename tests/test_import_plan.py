"""The import's plan (pure): which concepts and versions it writes, what it refuses and why,
how GitOps-era DOIs map onto running versions, which files an rdf names."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from backoffice.importer.models import GitopsEntry, RunningItem, RunningSummary, RunningVersion
from backoffice.importer.plan import LoadedItem, LoadedVersion, plan_import
from backoffice.importer.rdf_files import named_files
from backoffice.records.concept import ConceptRecord, VersionRecord
from backoffice.records.imported import LegacyConcept, LegacyVersion, RemoteFile

AT = datetime(2026, 6, 1, tzinfo=timezone.utc)
TYPES = ("model", "dataset", "notebook", "application")
URL = "https://files.example.org/ws/artifacts/good-dog/files/rdf.yaml?version=v0"


def _item(nick: str = "good-dog", versions: tuple[str, ...] = ("v0",), rtype: str = "model", sha: str = "a" * 64,
          summary_sha: str | None = None, rdf: dict[str, Any] | None = None) -> LoadedItem:
    entries = [RunningVersion(version=v, sha256=sha, source=URL.replace("v0", v), created_at=datetime(2025, 1, 1 + i, tzinfo=timezone.utc))
               for i, v in enumerate(versions)]
    content = rdf or {"type": rtype, "name": "Good dog", "covers": ["cover.png"], "uploader": {"email": "up@example.org"}}
    return LoadedItem(RunningItem(id=f"bioimage-io/{nick}", type=rtype, versions=entries),
                      [LoadedVersion(e, RunningSummary(rdf_content=content, rdf_yaml_sha256=summary_sha or sha), ["ilastik_1.4.1.json"])
                       for e in entries])


def _plan(items: list[LoadedItem], existing: dict[str, ConceptRecord | None] | None = None,
          gitops: list[GitopsEntry] | None = None, **kw: Any):  # noqa: ANN202
    opts: dict[str, Any] = {"files": True, "update": False, **kw}
    return plan_import(items, gitops or [], existing or {}, types=TYPES, source="src", at=AT, **opts)


def _imported(sha: str = "a" * 64, remote: dict[str, RemoteFile] | None = None, exact: bool = True) -> ConceptRecord:
    v = VersionRecord(version="v0", legacy=LegacyVersion(source_url=URL, source_sha256=sha, rdf_exact=exact, remote_files=remote or {}))
    return ConceptRecord(id="good-dog", type="model", versions={"v0": v}, legacy=LegacyConcept(source="src", imported=AT))


def test_a_new_resource_becomes_a_concept_with_its_versions_ids_and_gitops_fields() -> None:
    gitops = GitopsEntry(id="10.5281/zenodo.100", nickname="good-dog", nickname_icon="🐕", owners=[7], download_count=12,
                         versions=["103", "101"], created="2022-06-15 22:06:22.658325")
    [cp] = _plan([_item(versions=("v0", "v1"))], gitops=[gitops]).concepts
    assert cp.action == "create" and cp.record is not None and cp.id == "good-dog"
    assert [v.label for v in cp.versions] == ["v0", "v1"] and cp.versions[0].reports == ["ilastik_1.4.1.json"]
    r = cp.record
    assert r.legacy and r.legacy.ids == ["bioimage-io/good-dog", "10.5281/zenodo.100"] and r.concept_doi == "10.5281/zenodo.100"
    assert r.owners == ["up@example.org", "zenodo|7"] and r.downloads is not None and r.downloads.legacy == 12 and r.legacy.nickname_icon == "🐕"
    assert r.created == datetime(2022, 6, 15, 22, 6, 22, 658325, tzinfo=timezone.utc)  # the older of both
    # the newest GitOps record is the running collection's first version; older records resolve to it too
    assert cp.versions[0].record.doi == "10.5281/zenodo.103"
    assert cp.versions[0].legacy_ids == ["10.5281/zenodo.100/103", "10.5281/zenodo.101", "10.5281/zenodo.100/101"]  # rdf ids too
    assert cp.versions[1].record.doi is None and cp.versions[1].legacy_ids == []
    assert cp.versions[1].record.published == datetime(2025, 1, 2, tzinfo=timezone.utc)
    assert cp.versions[0].record.summary.version == "v0" and cp.versions[0].record.summary.covers == ["cover.png"]


def test_refusals_say_why() -> None:
    plan = _plan([_item("odd-type", rtype="collection"), _item("bad-sum", summary_sha="b" * 64), _item("good-dog"), _item("good-dog")],
                 existing={"native-cat": None})
    by = {(c.id, i): c for i, c in enumerate(plan.concepts)}
    assert by[("odd-type", 0)].action == "refused" and "type 'collection'" in by[("odd-type", 0)].notes[0]
    assert by[("bad-sum", 1)].action == "refused" and by[("bad-sum", 1)].notes[0].startswith("v0: refused: summary.json's rdf has sha256 bbbb")
    assert by[("good-dog", 3)].action == "refused" and "listed twice" in by[("good-dog", 3)].notes[0]
    native = ConceptRecord(id="good-dog", type="model")
    [cp] = _plan([_item()], existing={"good-dog": native}).concepts
    assert cp.action == "refused" and "not imported" in cp.notes[0]
    no_summary = _item()
    no_summary = LoadedItem(no_summary.item, [LoadedVersion(no_summary.versions[0].entry, None, [])])
    [cp] = _plan([no_summary]).concepts
    assert cp.action == "refused" and cp.notes == ["v0: refused: no summary.json (its rdf is not published)"]


def test_held_versions_are_left_mirrored_or_updated() -> None:
    [cp] = _plan([_item()], existing={"good-dog": _imported()}).concepts
    assert cp.action == "unchanged" and not cp.versions and not cp.notes
    remote = {"w.pt": RemoteFile(url="https://x/w.pt", reason="not mirrored (--no-files)")}
    [cp] = _plan([_item()], existing={"good-dog": _imported(remote=remote)}).concepts
    assert cp.action == "mirror" and cp.mirror == ["v0"]
    [cp] = _plan([_item()], existing={"good-dog": _imported(remote=remote)}, files=False).concepts
    assert cp.action == "unchanged"
    [cp] = _plan([_item(versions=("v0", "v1"))], existing={"good-dog": _imported()}).concepts
    assert cp.action == "extend" and [v.label for v in cp.versions] == ["v1"]
    [cp] = _plan([_item()], existing={"good-dog": _imported(sha="c" * 64)}).concepts
    assert cp.action == "unchanged" and "changed upstream" in cp.notes[0] and "--update" in cp.notes[0]
    [cp] = _plan([_item()], existing={"good-dog": _imported(sha="c" * 64)}, update=True).concepts
    assert cp.action == "extend" and cp.versions[0].replace


def test_files_an_rdf_names() -> None:
    rdf: dict[str, Any] = {
        "covers": ["cover.png", "https://elsewhere.org/c.png"], "documentation": "README.md",
        "attachments": [{"source": "macro.ijm", "sha256": "d" * 64}, {"source": "../escape.txt"}],
        "weights": {"pytorch_state_dict": {"source": "https://files.example.org/ws/artifacts/good-dog/files/w.pt?version=v0",
                                           "sha256": "e" * 64, "architecture": {"source": "unet.py", "callable": "UNet"},
                                           "dependencies": "conda:environment.yaml"}},
        "inputs": [{"test_tensor": {"source": "in.npy", "sha256": "f" * 64}}],
        "cite": [{"url": "https://doi.org/x"}], "config": {"deepimagej": {"source": "not-a-file"}},
    }
    files = {f.name: f for f in named_files(rdf, URL)}
    assert sorted(files) == sorted(["cover.png", "README.md", "macro.ijm", "w.pt", "unet.py", "environment.yaml", "in.npy"])
    assert files["w.pt"].sha256 == "e" * 64 and files["cover.png"].sha256 is None
    assert files["in.npy"].url == "https://files.example.org/ws/artifacts/good-dog/files/in.npy?version=v0"


def test_gitops_records_go_to_the_running_version_that_shares_their_files() -> None:
    def with_weights(sha: str) -> dict[str, Any]:
        return {"type": "model", "name": "Good dog", "weights": {"onnx": {"source": "w.onnx", "sha256": sha}}}

    item = _item(versions=("v0", "v1"))
    item = LoadedItem(item.item, [LoadedVersion(v.entry, RunningSummary(rdf_content=with_weights(sha), rdf_yaml_sha256="a" * 64), [])
                                  for v, sha in zip(item.versions, ("1" * 64, "2" * 64), strict=True)])
    gitops = GitopsEntry(id="10.5281/zenodo.100", nickname="good-dog", versions=["105", "103", "101"],
                         record_files={"105": ["2" * 64], "103": ["1" * 64, "9" * 64]})  # 101: no rdf in rdfs/
    [cp] = _plan([item], gitops=[gitops]).concepts
    v0, v1 = cp.versions
    assert (v1.record.doi, v1.legacy_ids) == ("10.5281/zenodo.105", ["10.5281/zenodo.100/105"])
    assert (v0.record.doi, v0.legacy_ids) == ("10.5281/zenodo.103", ["10.5281/zenodo.100/103", "10.5281/zenodo.101", "10.5281/zenodo.100/101"])


def test_the_bot_is_never_an_owner_and_maintainers_are_named_owners() -> None:
    bot = {"type": "application", "name": "Vizarr", "uploader": {"email": "robot@example.org"}}
    person = {"type": "application", "name": "App", "uploader": {"email": "robot@example.org"},
              "maintainers": [{"github_user": "octo"}, {"name": "no login"}]}
    plain = {"type": "application", "name": "Mine", "uploader": {"email": "sender@example.org"}}
    plan = _plan([_item("imjoy:vizarr", rtype="application", rdf=bot), _item("good-app", rtype="application", rdf=person),
                  _item("my-app", rtype="application", rdf=plain)], mail_from=["sender@example.org"])
    vizarr, app, mine = (cp.record for cp in plan.concepts)
    assert vizarr and app and mine
    # the uploader of partner applications is the running collection's bot, found in the data; mail_from is ours
    assert vizarr.owners == [] and app.owners == [] and mine.owners == []
    assert app.legacy and app.legacy.named_owners == ["github-user|octo"]
    assert vizarr.legacy and vizarr.legacy.ids == ["bioimage-io/imjoy:vizarr", "imjoy/vizarr"]

"""Back up to Zenodo against the stand-in: concept and version DOIs written back into
the records and the index, new versions through `newversion`, files reused by checksum,
per-version refusals, retries honouring Retry-After, the command and its summary."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from backoffice.backup.run import run_backup
from backoffice.context import Context
from backoffice.errors import ZenodoUnavailableError
from backoffice.index.generate import generate_index
from backoffice.records import keys
from backup_helpers import CID, TOKEN, add_published, client
from zenodo_server import ZenodoStandIn, zenodo_standin
from config_paths import EXAMPLE_COLLECTION, TEST_CONFIG

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture()
def zenodo() -> Iterator[ZenodoStandIn]:
    with zenodo_standin(TOKEN) as standin:
        yield standin


def _say(lines: list[str]):  # noqa: ANN202
    return lines.append


def test_versions_become_zenodo_versions_of_one_concept(ctx: Context, zenodo: ZenodoStandIn) -> None:
    add_published(ctx, versions=("1.0",))
    lines: list[str] = []
    report = run_backup(ctx, client(zenodo.url), _say(lines))
    assert [(o.version, o.outcome) for o in report.outcomes] == [("1.0", "backed up")]
    (first,) = zenodo.published()
    assert first.metadata["version"] == "1.0" and sorted(f.filename for f in first.files) == [
        "cover.png", "doc/README.md", "rdf.yaml", "weights.pt"]
    record = ctx.concepts.get(CID)
    v1 = record.versions["1.0"]
    assert v1.doi == f"10.5072/zenodo.{first.id}" and v1.status.value == "backed up" and v1.zenodo_deposition_id == first.id
    assert record.concept_doi == f"10.5072/zenodo.{first.conceptrecid}" and record.zenodo_concept_id == first.conceptrecid

    add_published(ctx, versions=("2.0",))  # a later version: newversion of the same concept
    report = run_backup(ctx, client(zenodo.url), _say(lines))
    assert [(o.version, o.outcome) for o in report.outcomes] == [("2.0", "backed up")]
    versions = sorted(zenodo.versions_of(first.conceptrecid), key=lambda d: d.id)
    assert [d.metadata["version"] for d in versions] == ["1.0", "2.0"]
    assert not zenodo.drafts()
    assert any(s.path.endswith(f"/{first.id}/actions/newversion") for s in zenodo.requests)
    # unchanged files carried over by newversion are kept, the changed rdf.yaml replaced
    puts = [s.path for s in zenodo.requests if s.method == "PUT" and s.path.startswith("/api/files/")]
    assert sum(p.endswith("/weights.pt") for p in puts) == 1 and sum(p.endswith("/rdf.yaml") for p in puts) == 2
    record = ctx.concepts.get(CID)
    assert record.versions["2.0"].doi == f"10.5072/zenodo.{versions[1].id}"
    assert record.concept_doi == f"10.5072/zenodo.{first.conceptrecid}" and record.zenodo_latest_id == versions[1].id

    generate_index(ctx)
    (entry,) = json.loads(ctx.storage.get_bytes(keys.COLLECTION_JSON))["collection"]
    assert entry["concept_doi"] == record.concept_doi and entry["doi"] == record.versions["2.0"].doi
    assert {v["version"]: (v["doi"], v["status"]) for v in entry["versions"]} == {
        "1.0": (v1.doi, "backed up"), "2.0": (record.versions["2.0"].doi, "backed up")}
    entries = [e for e in ctx.log(CID).read() if e.step == "backup"]
    assert [e.subject for e in entries] == ["1.0", "2.0"] and entries[0].details["doi"] == v1.doi
    # the token went in the header only
    assert {s.auth for s in zenodo.requests} == {"header"}
    # nothing left to do: a second run asks Zenodo nothing
    n = len(zenodo.requests)
    assert run_backup(ctx, client(zenodo.url), _say(lines)).outcomes == []
    assert len(zenodo.requests) == n


def test_metadata_sent_to_zenodo(local_ctx: Context, zenodo: ZenodoStandIn) -> None:
    add_published(local_ctx, "humble-hare")  # no declared overrides
    run_backup(local_ctx, client(zenodo.url), _say([]))
    (dep,) = zenodo.published()
    m = dep.metadata
    assert m["title"] == "Shark humble-hare" and m["upload_type"] == "software" and m["license"] == "cc-by-4.0"
    assert m["creators"] == [{"name": "Ada Lovelace", "affiliation": "Analytical Engines", "orcid": "0000-0002-1825-0097"}]
    assert m["keywords"] == ["unet", "bioimage.io", "segmentation"]
    assert {"identifier": "10.1234/paper.5", "relation": "cites"} in m["related_identifiers"]
    assert "https://bioimage.io/#/?id=humble-hare" in m["description"] and "&lt;model&gt;" in m["description"]


def test_refused_metadata_fails_that_version_only(local_ctx: Context, zenodo: ZenodoStandIn) -> None:
    add_published(local_ctx, "bad-license", license="not-a-license")
    add_published(local_ctx, "no-authors", authors=[])
    add_published(local_ctx, "good-one")
    report = run_backup(local_ctx, client(zenodo.url), _say([]))
    by_id = {o.concept_id: o for o in report.outcomes}
    assert by_id["good-one"].outcome == "backed up"
    assert by_id["bad-license"].outcome == "failed" and "metadata.license" in (by_id["bad-license"].error or "")
    assert by_id["no-authors"].outcome == "failed" and "metadata.creators" in (by_id["no-authors"].error or "")
    assert len(zenodo.published()) == 1 and not zenodo.drafts()  # refused at creation: nothing made
    (entry,) = [e for e in local_ctx.log("bad-license").read() if e.step == "backup"]
    assert entry.subject == "1.0" and "Invalid license identifier" in entry.message
    assert local_ctx.concepts.get("bad-license").versions["1.0"].doi is None
    summary = report.markdown(zenodo.url)
    assert "| bad-license | 1.0 | failed |" in summary and "| good-one | 1.0 | backed up | 10.5072/zenodo." in summary


def test_refusal_of_a_later_version_keeps_its_draft_for_the_next_run(local_ctx: Context, zenodo: ZenodoStandIn) -> None:
    add_published(local_ctx, versions=("1.0",))
    run_backup(local_ctx, client(zenodo.url), _say([]))
    add_published(local_ctx, versions=("2.0", "3.0"), license="not-a-license")
    report = run_backup(local_ctx, client(zenodo.url), _say([]))
    assert [(o.version, o.outcome) for o in report.outcomes] == [("2.0", "failed"), ("3.0", "waiting")]
    (draft,) = zenodo.drafts()
    assert local_ctx.concepts.get(CID).versions["2.0"].zenodo_deposition_id == draft.id
    add_published(local_ctx, versions=("2.0", "3.0"))  # the description is fixed (same files otherwise)
    report = run_backup(local_ctx, client(zenodo.url), _say([]))
    assert [(o.version, o.outcome) for o in report.outcomes] == [("2.0", "backed up"), ("3.0", "backed up")]
    assert sorted(d.metadata["version"] for d in zenodo.published()) == ["1.0", "2.0", "3.0"]
    assert next(d for d in zenodo.published() if d.metadata["version"] == "2.0").id == draft.id


def test_429_waits_as_long_as_retry_after_says(local_ctx: Context, zenodo: ZenodoStandIn) -> None:
    add_published(local_ctx)
    zenodo.rate_limit, zenodo.retry_after = 3, "7"
    sleeps: list[float] = []
    report = run_backup(local_ctx, client(zenodo.url, give_up=60, sleeps=sleeps), _say([]))
    assert report.outcomes[0].outcome == "backed up"
    assert sleeps == [7.0, 7.0, 7.0]
    assert len(zenodo.published()) == 1


def test_gives_up_after_the_bounded_time_with_one_line(local_ctx: Context, zenodo: ZenodoStandIn) -> None:
    add_published(local_ctx)
    zenodo.rate_limit, zenodo.retry_after = 10_000, "0"
    c = client(zenodo.url, give_up=0.3)
    report = run_backup(local_ctx, c, _say([]))
    (o,) = report.outcomes
    assert o.outcome == "failed" and "gave up after" in (o.error or "") and "\n" not in (o.error or "")
    with pytest.raises(ZenodoUnavailableError, match="HTTP 429; gave up"):
        c.list_files(1)


def _cli(args: list[str], store: Path, zenodo_url: str | None, summary: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO), "BACKOFFICE_LOCAL_ROOT": str(store),
           "BACKOFFICE_CONFIG_PATH": str(TEST_CONFIG),
           "BACKOFFICE_COLLECTION_DIR": str(EXAMPLE_COLLECTION), "GITHUB_STEP_SUMMARY": str(summary),
           "BACKOFFICE_ZENODO_GIVE_UP_SECONDS": "0"}
    if zenodo_url:
        env["BACKOFFICE_ZENODO_URL"] = zenodo_url
    return subprocess.run([sys.executable, "-m", "backoffice", "-v", *args], env=env, capture_output=True, text=True,
                          timeout=300, cwd=store.parent)


def test_backup_command(local_ctx: Context, zenodo: ZenodoStandIn, tmp_path: Path) -> None:
    store: Path = local_ctx.storage.root  # type: ignore[attr-defined]
    summary = tmp_path / "summary.md"
    add_published(local_ctx, "bad-license", license="not-a-license")
    add_published(local_ctx, versions=("1.0", "2.0"))

    r = _cli(["backup"], store, None, summary)  # no URL: skipped, exit 0
    assert r.returncode == 0 and "backup: skipped" in r.stdout and "BACKOFFICE_ZENODO_TOKEN" in r.stdout
    assert not zenodo.requests

    r = _cli(["backup", CID, "1.0"], store, zenodo.url, summary)
    assert r.returncode == 0, r.stderr
    assert [d.metadata["version"] for d in zenodo.published()] == ["1.0"]

    r = _cli(["backup"], store, zenodo.url, summary)
    assert r.returncode == 13, r.stderr
    assert r.stderr.strip().splitlines()[-1] == "error: 1 version(s) not backed up: bad-license 1.0"
    assert f"{CID} 2.0: backed up, DOI 10.5072/zenodo." in r.stdout
    text = summary.read_text()
    assert "| bad-license | 1.0 | failed | Zenodo refused POST /api/deposit/depositions: Validation error." in text
    collection = json.loads((store / "collection.json").read_text())
    (entry,) = [e for e in collection["collection"] if e["id"] == CID]
    assert entry["concept_doi"] and entry["doi"] == local_ctx.concepts.get(CID).versions["2.0"].doi
    for out in (r.stdout, r.stderr, text):
        assert TOKEN not in out

    r = _cli(["backup", "no-such-concept"], store, zenodo.url, summary)
    assert r.returncode == 4 and r.stderr.strip().splitlines()[-1] == "error: concept 'no-such-concept' does not exist"
    r = _cli(["backup", CID, "9.9"], store, zenodo.url, summary)
    assert r.returncode == 4 and "has no published version 9.9" in r.stderr


def test_declared_overrides_fix_what_zenodo_refused(local_ctx: Context, zenodo: ZenodoStandIn) -> None:
    add_published(local_ctx, "humble-hare", license="not-a-license", authors=[])
    (o,) = run_backup(local_ctx, client(zenodo.url), _say([])).outcomes
    assert o.outcome == "failed"
    (local_ctx.settings.collection_dir / "humble-hare.yaml").write_text(
        "overrides:\n  license: MIT\n  authors: [Ada Lovelace, Charles Babbage]\n")
    del local_ctx.__dict__["curation"]  # re-read collection/ (a new run would)
    (o,) = run_backup(local_ctx, client(zenodo.url), _say([])).outcomes
    assert o.outcome == "backed up", o.error
    (dep,) = zenodo.published()
    assert dep.metadata["license"] == "mit"
    assert dep.metadata["creators"] == [{"name": "Ada Lovelace"}, {"name": "Charles Babbage"}]


def test_the_stand_in_checks_the_token_and_validates_like_zenodo(zenodo: ZenodoStandIn) -> None:
    import requests

    api = f"{zenodo.url}/api/deposit/depositions"
    assert requests.get(api, timeout=10).status_code == 401
    r = requests.get(api, params={"access_token": TOKEN, "status": "draft"}, timeout=10)
    assert r.status_code == 200 and r.json() == []
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    r = requests.post(api, json={"metadata": {"license": "nope", "creators": []}}, headers=bearer, timeout=10)
    assert r.status_code == 400 and {e["field"] for e in r.json()["errors"]} == {"metadata.license", "metadata.creators"}
    r = requests.post(api, json={}, headers=bearer, timeout=10)
    assert r.status_code == 201 and r.json()["state"] == "unsubmitted" and r.json()["submitted"] is False
    dep = r.json()
    r = requests.post(dep["links"]["publish"], headers=bearer, timeout=10)
    assert r.status_code == 400 and "metadata.title" in r.text  # required fields checked at publish
    assert [(s.auth, s.query) for s in zenodo.requests[:2]] == [("none", ""), ("query", "status=draft")]


def test_a_publish_answer_without_dois_is_completed_by_asking(local_ctx: Context, zenodo: ZenodoStandIn) -> None:
    add_published(local_ctx)
    zenodo.publish_answers_without_dois = True
    (o,) = run_backup(local_ctx, client(zenodo.url), _say([])).outcomes
    (dep,) = zenodo.published()
    assert o.outcome == "backed up" and o.doi == dep.doi and o.concept_doi == f"10.5072/zenodo.{dep.conceptrecid}"
    assert (zenodo.requests[-1].method, zenodo.requests[-1].path) == ("GET", f"/api/deposit/depositions/{dep.id}")

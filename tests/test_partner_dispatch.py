"""Dispatching partner checks: the plan (pure: which versions, chunked under GitHub's
limits, what a partner missed is sent again) and its execution through github3.py
against a recording GitHub API server on 127.0.0.1 that serves several repositories."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from backoffice.config.collection_config import CollectionConfig, load_collection_config
from backoffice.context import Context
from backoffice.partners.dispatch import MAX_RESOURCES, Candidate, chunk, plan_dispatches
from backoffice.partners.ingest import ingest
from backoffice.partners.ledger import Ledger, LedgerState, VersionRef
from backoffice.partners.service import dispatch_partners, plan_now
from backoffice_fixtures import SECRETS
from github_server import MAX_DISPATCH_INPUT_CHARS, FakeGitHub, serve_github
from test_partner_reports import SHA, publish_record, write
from config_paths import TEST_CONFIG

REPO = Path(__file__).resolve().parents[1]
TOKEN = SECRETS["BACKOFFICE_GITHUB_TOKEN"]
NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


# --------------------------------------------------------------------------
# a recording GitHub API server with many repositories
# --------------------------------------------------------------------------


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    with serve_github(token=TOKEN) as fake:
        yield fake


@pytest.fixture()
def gh_ctx(local_ctx: Context, github: FakeGitHub) -> Context:
    settings = local_ctx.settings.model_copy(update={"github_api_url": github.base})
    return Context(settings, storage=local_ctx.storage)


def config() -> CollectionConfig:
    return load_collection_config(TEST_CONFIG)


def cands(n: int, kind: str = "model", pad: int = 0) -> list[Candidate]:
    return [Candidate(f"m{i:05d}" + "x" * pad, "1.0", kind, f"https://store.example/m{i:05d}/1.0/files/rdf.yaml", SHA) for i in range(n)]


# --------------------------------------------------------------------------
# the plan
# --------------------------------------------------------------------------


def test_plan_sends_each_partner_the_versions_of_its_types() -> None:
    versions = cands(3) + [Candidate("tasty-cake", "1.0", "dataset", "https://x/rdf.yaml", SHA)]
    plan = plan_dispatches(config(), versions, {}, NOW, "bioimage-io/collection")
    assert [(d.partner, d.repository, d.workflow) for d in plan.dispatches] == [
        ("ilastik", "ilastik/bioimage-io-resources", "test_bioimageio_resources.yaml"),
        ("deepimagej", "deepimagej/bioimage-io-resources", "test_bioimageio_resources.yaml"),
        ("biapy", "BiaPy-team/bioimage-io-resources", "test_bioimageio_resources.yaml"),
        ("qupath", "qupath/bioimage-io-resources", "test_bioimageio_resources.yaml")]
    inputs = plan.dispatches[0].inputs()
    assert set(inputs) == {"resources", "reply_to", "dispatch_id"} and inputs["reply_to"] == "bioimage-io/collection"
    assert json.loads(inputs["resources"])[0] == {"id": "m00000", "version": "1.0", "type": "model",
                                                  "rdf_url": "https://store.example/m00000/1.0/files/rdf.yaml", "sha256": SHA}
    assert [c.concept_id for c in plan.script_pending["core-previous"]] == ["m00000", "m00001", "m00002"]


def test_answered_and_recently_sent_versions_wait_and_missed_ones_are_sent_again() -> None:
    versions = cands(4)
    state = LedgerState(answered={("m00000", "1.0")},
                        last_sent={("m00001", "1.0"): NOW - timedelta(hours=1), ("m00002", "1.0"): NOW - timedelta(days=5)})
    plan = plan_dispatches(config(), versions, {"ilastik": state}, NOW, "bioimage-io/collection")
    ilastik = [d for d in plan.dispatches if d.partner == "ilastik"]
    assert [c.concept_id for d in ilastik for c in d.versions] == ["m00002", "m00003"]  # m00002: sent, never answered
    assert plan.answered == 1 and plan.waiting == 1


@pytest.mark.parametrize(("n", "pad"), [(1, 0), (MAX_RESOURCES, 0), (MAX_RESOURCES + 1, 0), (1000, 0), (300, 200)])
def test_chunks_stay_under_githubs_limits_and_lose_nothing(n: int, pad: int) -> None:
    versions = cands(n, pad=pad)
    chunks = chunk(versions)
    assert [c for part in chunks for c in part] == versions
    for part in chunks:
        text = json.dumps([c.entry() for c in part], separators=(",", ":"))
        assert len(part) <= MAX_RESOURCES and len(text) < MAX_DISPATCH_INPUT_CHARS - 1000
    if pad:
        assert len(chunks[0]) < MAX_RESOURCES  # split by size, not by count
    with pytest.raises(ValueError, match="longer than"):
        chunk(cands(1, pad=70_000))


# --------------------------------------------------------------------------
# execution against the recording server
# --------------------------------------------------------------------------


def test_dispatch_after_publish_sends_what_each_partner_has_not_seen(gh_ctx: Context, github: FakeGitHub) -> None:
    publish_record(gh_ctx, versions=("1.0",), sent=False)
    github.down.add("deepimagej/bioimage-io-resources")
    run = dispatch_partners(gh_ctx)
    assert [s.dispatch.partner for s in run.sent if s.error] == ["deepimagej"]
    (body,) = github.dispatches("ilastik/bioimage-io-resources")
    assert body["ref"] == "main" and json.loads(body["inputs"]["resources"]) == [{
        "id": "brave-otter", "version": "1.0", "type": "model", "sha256": SHA,
        "rdf_url": gh_ctx.storage.public_url("brave-otter/1.0/files/rdf.yaml")}]
    assert all(r.headers["Authorization"] == f"token {TOKEN}" for r in github.requests)

    # a new version is published (an update); deepimagej is back and gets what it missed
    publish_record(gh_ctx, versions=("1.0", "2.0"), sent=False)
    github.down.clear()
    before = len(github.requests)
    dispatch_partners(gh_ctx)
    sent = {r.path.split("/")[4]: json.loads(r.body["inputs"]["resources"]) for r in github.requests[before:] if r.method == "POST"}
    assert [e["version"] for e in sent["ilastik"]] == ["2.0"]
    assert [e["version"] for e in sent["deepimagej"]] == ["1.0", "2.0"]

    # the retest round: a partner that answered is not asked again; one that did not waits for the retry interval
    ingest(gh_ctx, "ilastik", [str(write(Path(str(gh_ctx.settings.local_root)).parent / "r", "brave-otter/2.0/ilastik_1.4.json", '{"status": "passed"}'))])
    ingest(gh_ctx, "ilastik", [str(write(Path(str(gh_ctx.settings.local_root)).parent / "r2", "brave-otter/1.0/ilastik_1.4.json", '{"status": "passed"}'))])
    before = len(github.requests)
    again = dispatch_partners(gh_ctx)
    assert not [r for r in github.requests[before:] if r.method == "POST"] and again.plan.answered == 2
    assert again.plan.waiting == 6  # deepimagej 2, biapy 2, qupath 2 still within the retry interval
    entries = Ledger(gh_ctx.storage, "deepimagej").entries()
    assert [e["kind"] for e in entries] == ["dispatch-failed", "dispatched"] and "503" in entries[0]["note"]


def test_cli_dispatch_partners_dry_run_and_outputs(gh_ctx: Context, tmp_path: Path) -> None:
    publish_record(gh_ctx, sent=False)
    Ledger(gh_ctx.storage, "qupath").append("reported", [VersionRef("brave-otter", "1.0")])
    s = gh_ctx.settings
    out = tmp_path / "out"
    env = {**os.environ, "PYTHONPATH": str(REPO), "GITHUB_OUTPUT": str(out), "BACKOFFICE_LOCAL_ROOT": str(s.local_root),
           "BACKOFFICE_CONFIG_PATH": str(s.config_path), "BACKOFFICE_COLLECTION_DIR": str(s.collection_dir),
           "BACKOFFICE_GITHUB_API_URL": s.github_api_url}
    r = subprocess.run([sys.executable, "-m", "backoffice", "dispatch-partners", "--dry-run"], env=env,
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "ilastik: 1 versions -> ilastik/bioimage-io-resources" in r.stdout and "qupath" not in r.stdout.split("planned")[0]
    assert "core-previous: 1 versions for our own script check" in r.stdout
    assert 'script_partners=["core-previous"]' in out.read_text()


def test_plan_now_reads_the_ledgers(gh_ctx: Context) -> None:
    publish_record(gh_ctx, sent=False)
    Ledger(gh_ctx.storage, "ilastik").append("dispatched", [VersionRef("brave-otter", "1.0", SHA)])
    plan = plan_now(gh_ctx)
    assert "ilastik" not in {d.partner for d in plan.dispatches} and plan.waiting == 1



def test_only_the_declared_identity_may_hand_in_reports() -> None:
    from backoffice.config.collection_config import Partner
    from backoffice.errors import PermissionDeniedError
    from backoffice.partners.identity import verify_reporter

    ilastik = config().partner("ilastik")
    assert verify_reporter(ilastik, 999, "artifact") == "ilastik/bioimage-io-resources"  # from its declared repository
    with pytest.raises(PermissionDeniedError, match="GitHub user 999 may not hand in reports of 'ilastik' by URL"):
        verify_reporter(ilastik, 999, "url")
    strict = Partner.model_validate({**ilastik.model_dump(), "reporters": {"repositories": ["ilastik/reports"], "github_ids": [4242]}})
    assert verify_reporter(strict, 4242, "url") is None and verify_reporter(strict, 4242, "artifact") == "ilastik/reports"
    with pytest.raises(PermissionDeniedError):
        verify_reporter(strict, 999, "artifact")
    assert strict.may_report("ilastik/reports", None) and strict.may_report(None, 4242) and not strict.may_report("evil/repo", 1)

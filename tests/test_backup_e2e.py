"""The tiny model from publish to backed up against the Zenodo stand-in (both backends),
its DOIs in collection.json; the README's main job names the backup step."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from backoffice.backup.run import make_client, run_backup
from backoffice.context import Context
from backoffice.demo.pipeline import run_demo
from backoffice.index.generate import generate_index
from backoffice.records import keys
from backoffice.records.concept import ConceptRecord
from backoffice.records.status import DraftStatus
from backoffice.review.publish import publish
from backoffice.stage.stage import stage
from backup_helpers import TOKEN
from zenodo_server import zenodo_standin

REVIEWER = "github|10000001"


def _ready_for_review(ctx: Context, cid: str) -> None:
    """Skip the dynamic tests (covered elsewhere): the draft awaits review."""

    def mutate(record: ConceptRecord) -> None:
        record.require_draft().status = DraftStatus.AWAITING_REVIEW

    ctx.concepts.update(cid, mutate)


def test_tiny_model_from_publish_to_backed_up(ctx: Context, packages: dict[str, Path]) -> None:
    cid = stage(ctx, str(packages["model"]), uploader="github|4242", progress=False).concept_id
    _ready_for_review(ctx, cid)
    publish(ctx, cid, REVIEWER)
    with zenodo_standin(TOKEN) as zenodo:
        ctx.settings = ctx.settings.model_copy(update={"zenodo_url": zenodo.url})
        client = make_client(ctx)
        assert client is not None
        (outcome,) = run_backup(ctx, client, lambda _: None).outcomes
        assert outcome.outcome == "backed up", outcome.error
        (dep,) = zenodo.published()
        rdf = YAML(typ="safe").load(ctx.storage.get_bytes(keys.version_files(cid, "1.0") + "rdf.yaml"))
        assert dep.metadata["title"] == rdf["name"] and dep.metadata["version"] == "1.0"
        assert [c["name"] for c in dep.metadata["creators"]] == [a["name"] for a in rdf["authors"]]
        stored = {o.key.rsplit("/files/", 1)[1]: o.size for o in ctx.storage.list(keys.version_files(cid, "1.0"))}
        assert {f.filename: f.filesize for f in dep.files} == stored

    generate_index(ctx)
    (entry,) = json.loads(ctx.storage.get_bytes(keys.COLLECTION_JSON))["collection"]
    assert entry["id"] == cid
    assert entry["doi"] == dep.doi and entry["concept_doi"] == f"10.5072/zenodo.{dep.conceptrecid}"
    assert entry["versions"][0]["doi"] == dep.doi and entry["versions"][0]["status"] == "backed up"
    id_map = json.loads(ctx.storage.get_bytes(keys.ID_MAP_JSON))
    assert id_map[dep.doi] == id_map[f"{entry['id']}/{entry['version']}"]  # the version DOI resolves
    assert id_map[entry["concept_doi"]] == id_map[entry["id"]]  # the concept DOI: the latest version
    record = ctx.concepts.get(cid)
    assert record.versions["1.0"].status.value == "backed up"
    assert [e.message for e in ctx.log(cid).read() if e.step == "backup"] == [
        f"backed up version 1.0 to Zenodo: DOI {dep.doi} (concept DOI {entry['concept_doi']})"]


@pytest.mark.slow
def test_readme_main_job_backs_up_when_zenodo_is_set(local_ctx: Context) -> None:
    lines: list[str] = []
    with zenodo_standin(TOKEN) as zenodo:
        local_ctx.settings = local_ctx.settings.model_copy(update={"zenodo_url": zenodo.url})
        result = run_demo(local_ctx, lines.append)
        (dep,) = zenodo.published()
    assert f"backup {result.version}: DOI {dep.doi}, concept DOI 10.5072/zenodo.{dep.conceptrecid}" in lines
    (entry,) = json.loads(local_ctx.storage.get_bytes(keys.COLLECTION_JSON))["collection"]
    assert entry["doi"] == dep.doi


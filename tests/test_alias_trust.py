"""id_map aliases an upload can reach: an uploaded rdf's own `id` (kept as `summary.declared_id`,
while the stored rdf gets the concept id, so a reviewer does not see it) must never take
another concept's name — e.g. the running collection's `bioimage-io/<nickname>`, which
bioimageio.spec users load by."""

from __future__ import annotations

from datetime import datetime, timezone

from backoffice.config.collection_config import load_collection_config
from backoffice.config.curation import CurationDecl
from backoffice.index.plan import plan_index
from backoffice.records.concept import ConceptRecord, ResourceSummary, VersionRecord
from backoffice_fixtures import REPO
from config_paths import TEST_CONFIG

CONFIG = load_collection_config(TEST_CONFIG)
WHEN = datetime(2026, 1, 1, tzinfo=timezone.utc)


def _concept(cid: str, declared: str | None) -> ConceptRecord:
    summary = ResourceSummary(name=cid, declared_id=declared)
    return ConceptRecord(id=cid, type="model", versions={
        "1": VersionRecord(version="1", published=WHEN, rdf_sha256=f"sha-{cid}", summary=summary)})


def test_an_upload_cannot_take_another_concepts_namespaced_name() -> None:
    real = _concept("affable-shark", "bioimage-io/affable-shark")
    hostile = _concept("able-ant", "bioimage-io/affable-shark")  # sorts first: it used to win the alias
    for curation in ({}, {"affable-shark": CurationDecl.model_validate({"legacy": {"ids": ["bioimage-io/affable-shark"]}})}):
        id_map = plan_index([hostile, real], curation, CONFIG, lambda k: "http://x/" + k).id_map
        assert id_map["bioimage-io/affable-shark"].sha256 == "sha-affable-shark"
    alone = plan_index([hostile, _concept("affable-shark", None)], {}, CONFIG, lambda k: "http://x/" + k).id_map
    assert "bioimage-io/affable-shark" not in alone  # no concept may resolve under another's name
    legit = plan_index([_concept("brisk-ant", "deepimagej/UNet2D")], {}, CONFIG, lambda k: "http://x/" + k).id_map
    assert legit["deepimagej/UNet2D"].sha256 == "sha-brisk-ant"  # an old-style id naming no concept stays an alias

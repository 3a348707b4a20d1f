"""The one table of resource types (`backoffice/resource_types.py`) and `application`, the fourth
type: ids from the clothing and gear list (as the running collection's applications), static
checks only, the index, Zenodo's upload type, and a config that names the word lists the table needs."""

from __future__ import annotations

import json
import random
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, get_args

import pytest
from stage_helpers import UPLOADER, do_stage, load_yaml, write_zip

from backoffice.backup.metadata import zenodo_metadata
from backoffice.config.collection_config import CollectionConfig
from backoffice.context import Context
from backoffice.errors import InvalidIdError
from backoffice.ids import check_id, emoji_of, random_id, split_id
from backoffice.index.plan import plan_index
from backoffice.records import keys
from backoffice.records.concept import ConceptRecord, ResourceSummary, VersionRecord
from backoffice.resource_types import (
    ID_WORD_LISTS,
    RESOURCE_KINDS,
    RESOURCE_TYPES,
    ResourceType,
    dynamic_formats,
    has_weights,
    static_only_formats,
)
from backoffice.retest.plan import PublishedVersion, RetestJob, jobs_of
from test_index import CONFIG, url_of
from config_paths import TEST_CONFIG

REPO = Path(__file__).resolve().parents[1]
RUNNING_INDEX = REPO / "tests" / "data" / "realdata" / "running" / "index.json"
SAMPLE: list[tuple[str, str]] = [  # partner applications (`imjoy:vizarr`) keep ids of their own form
    (item["id"].split("/", 1)[1], item["type"]) for item in json.loads(RUNNING_INDEX.read_text())["items"] if ":" not in item["id"]
]


def test_the_table_is_the_type_list() -> None:
    assert set(RESOURCE_TYPES) == set(get_args(ResourceType)) == set(RESOURCE_KINDS)
    assert RESOURCE_TYPES == ("model", "dataset", "notebook", "application")
    assert set(ID_WORD_LISTS) == set(CONFIG.id_parts) == {"model", "dataset", "notebook"}
    assert [t for t in RESOURCE_TYPES if has_weights(t)] == ["model"]
    assert {t: RESOURCE_KINDS[t].zenodo_upload_type for t in RESOURCE_TYPES} == {
        "model": "software", "dataset": "dataset", "notebook": "software", "application": "software"}
    assert not has_weights("workflow")  # an unknown type has no weights


def test_which_formats_are_tested_dynamically() -> None:
    declared = ["tensorflow_js", "onnx", "made_up", "torchscript"]
    assert dynamic_formats("model", declared) == ["onnx", "torchscript"]
    assert static_only_formats("model", declared) == ["tensorflow_js", "made_up"]
    for rtype in ("dataset", "notebook", "application"):
        assert dynamic_formats(rtype, declared) == [] and static_only_formats(rtype, declared) == []


def test_retest_plans_static_checks_for_applications_and_notebooks() -> None:
    for rtype in ("application", "notebook", "dataset"):
        v = PublishedVersion("brisk-scarf", rtype, "v0", weight_formats=("onnx",))
        assert jobs_of(v) == [RetestJob("brisk-scarf", "v0")]
    model = PublishedVersion("affable-shark", "model", "v0", weight_formats=("onnx", "tensorflow_js"))
    assert jobs_of(model) == [RetestJob("affable-shark", "v0", "onnx")]


@pytest.mark.parametrize(("nickname", "rtype"), SAMPLE, ids=[n for n, _ in SAMPLE])
def test_every_sample_id_is_a_memorable_id_of_its_type(nickname: str, rtype: ResourceType) -> None:
    check_id(CONFIG, nickname, rtype)
    emoji = emoji_of(CONFIG, nickname)
    assert emoji and not emoji.isascii()


def test_the_sample_holds_all_four_types() -> None:
    assert {t for _, t in SAMPLE} == set(RESOURCE_TYPES)


def test_application_ids_draw_from_clothing_and_gear() -> None:
    rng = random.Random(7)
    clothing = CONFIG.id_parts["notebook"]
    for _ in range(20):
        cid = random_id(CONFIG, "application", lambda _: False, rng)
        found = split_id(CONFIG, cid)
        assert found is not None and found[0] == "notebook", cid
        assert found[1] in clothing.adjectives and found[2] in clothing.nouns
        check_id(CONFIG, cid, "application")
    for nickname in ("assertive-hiking-boot", "breezy-handbag", "invigorating-lab-coat", "flattering-bikini"):
        check_id(CONFIG, nickname, "application")
        check_id(CONFIG, nickname, "notebook")
    with pytest.raises(InvalidIdError, match="'affable-shark' is a model id, but the resource is an application"):
        check_id(CONFIG, "affable-shark", "application")
    with pytest.raises(InvalidIdError, match="is a notebook or application id, but the resource is a model"):
        check_id(CONFIG, "brisk-scarf", "model")
    assert split_id(CONFIG, "brisk-scarf") == ("notebook", "brisk", "scarf")


def _config(**id_parts: Any) -> dict[str, Any]:
    raw = json.loads((TEST_CONFIG).read_text())
    raw["id_parts"].update(id_parts)
    return raw


def test_config_names_the_word_lists_the_table_needs() -> None:
    raw = _config()
    del raw["id_parts"]["notebook"]
    with pytest.raises(ValueError, match="id_parts lacks notebook"):
        CollectionConfig.model_validate(raw)
    raw = _config(application={"adjectives": ["brisk"], "nouns": {"scarf": "🧣"}})
    with pytest.raises(ValueError, match="id_parts.application is not used .applications use notebook's word list"):
        CollectionConfig.model_validate(raw)


def test_partners_may_check_applications() -> None:
    raw = _config()
    raw["partners"][0]["resource_types"] = ["model", "application"]
    config = CollectionConfig.model_validate(raw)
    assert config.partners[0].resource_types == ["model", "application"]


def test_zenodo_upload_type_of_an_application() -> None:
    meta = zenodo_metadata("brisk-scarf", "application", "v0", {"name": "Scarf app"}, datetime(2026, 1, 1).date())
    assert meta["upload_type"] == "software"


def test_an_application_is_indexed_with_its_type_and_emoji() -> None:
    r = ConceptRecord(id="brisk-scarf", type="application", owners=["github|1"])
    r.versions["v0"] = VersionRecord(version="v0", published=datetime(2026, 1, 1, tzinfo=timezone.utc),
                                     rdf_sha256="sha", summary=ResourceSummary(name="Scarf app", version="v0"))
    data = plan_index([r], {}, CONFIG, url_of).collection.model_dump(mode="json")
    (e,) = data["collection"]
    assert (e["type"], e["id_emoji"]) == ("application", "🧣")
    assert data["config"]["n_resources"]["application"] == 1
    assert data["config"]["resource_types"] == ["application"]


def test_an_application_is_staged_under_a_clothing_id(ctx: Context, tmp_path: Path) -> None:
    rdf = b'type: application\nname: tiny app\nversion: "1.0"\ndescription: an application\n'
    result = do_stage(ctx, write_zip(tmp_path / "app.zip", {"rdf.yaml": rdf, "README.md": b"hi"}), uploader=UPLOADER)
    found = split_id(ctx.config, result.concept_id)
    assert found is not None and found[0] == "notebook", result.concept_id
    assert ctx.concepts.get(result.concept_id).type == "application"
    stored = load_yaml(ctx.storage.get_bytes(keys.draft_files(result.concept_id, result.token) + "rdf.yaml"))
    assert stored["id"] == result.concept_id and stored["type"] == "application"


def test_an_application_gets_static_checks_only(local_ctx: Context, tmp_path: Path) -> None:
    from backoffice.dynamic.run import run_static_only_test
    from backoffice.validate.static import validate_format

    rdf = (b'type: application\nformat_version: 0.3.0\nname: tiny app\nversion: "1.0"\ndescription: an application\n'
           b'authors: [{name: Ada}]\ncite: [{text: a paper, doi: "10.1234/abc"}]\nlicense: MIT\ndocumentation: README.md\n'
           b'tags: [demo]\n')
    src = write_zip(tmp_path / "app.zip", {"rdf.yaml": rdf, "README.md": b"# tiny app\n"})
    cid = do_stage(local_ctx, src, uploader=UPLOADER).concept_id
    static = validate_format(local_ctx, cid)
    assert (static.status, static.dynamic_formats, static.static_only_formats) == ("valid-format", [], [])
    outcome = run_static_only_test(local_ctx, cid, "draft")
    assert (outcome.weight_format, outcome.status) == ("", "valid-format"), outcome.first_error
    assert outcome.report_name.startswith("bioimageio.spec_")

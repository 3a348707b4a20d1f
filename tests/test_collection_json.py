"""collection.json as the bioimage.io website reads it, all_versions.json, versions.json
and the id_map aliases — written by the suite through `generate_index` and checked
against the field list of issue 12 (and the generated JSON schema)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from backoffice.config.curation import BlockedVersion, CurationDecl, LegacyDecl
from backoffice.context import Context
from backoffice.index.generate import generate_index
from backoffice.index.plan import plan_index
from backoffice.records.concept import (
    BadgeSummary,
    ConceptRecord,
    PersonSummary,
    ResourceSummary,
    ReportBrief,
    VersionRecord,
)
from test_index import CONFIG, url_of

REPO = Path(__file__).resolve().parents[1]
T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)

# the field list the website reads (issue 12), with the JSON types each must have
ENTRY_FIELDS: dict[str, tuple[type, ...]] = {
    "id": (str,), "type": (str,), "name": (str,), "description": (str,), "version": (str,),
    "authors": (list,), "uploader": (dict,), "badges": (list,), "icon": (str, type(None)), "links": (list,),
    "tags": (list,), "training_data": (dict, type(None)), "root_url": (str,), "source": (str, type(None)),
    "covers": (list,), "license": (str, type(None)), "rdf_source": (str,), "rdf_sha256": (str,),
    "download_url": (str,), "concept_doi": (str, type(None)), "doi": (str, type(None)), "id_emoji": (str, type(None)),
    "test_summary": (dict,), "versions": (list,), "created": (str,),
}
OPTIONAL_ENTRY_FIELDS: dict[str, tuple[type, ...]] = {
    "download_count": (int,), "nickname": (str, type(None)), "nickname_icon": (str, type(None)),
}
AUTHOR_FIELDS = {"name", "affiliation", "orcid", "github_user"}
CONFIG_FIELDS: dict[str, tuple[type, ...]] = {
    "n_resources": (dict,), "n_resource_versions": (dict,), "resource_types": (list,), "url_root": (str,),
    "partners": (list,),
}
PARTNER_FIELDS = {"id", "name", "logo", "icon", "docs", "splash_title", "splash_subtitle", "resource_types", "default_type"}


def check_collection_json(data: dict[str, Any]) -> None:
    """Fail with the offending field unless `data` has every field the website reads, in its shape."""
    config = data["config"]
    for name, types in CONFIG_FIELDS.items():
        assert isinstance(config.get(name), types), f"config.{name}"
    for p in config["partners"]:
        assert PARTNER_FIELDS <= set(p), f"config.partners[{p.get('id')}] lacks {PARTNER_FIELDS - set(p)}"
        assert p["logo"] and p["docs"] and p["splash_title"], p["id"]
    total = 0
    for e in data["collection"]:
        for name, types in ENTRY_FIELDS.items():
            assert name in e and isinstance(e[name], types), f"{e['id']}.{name}: {e.get(name)!r}"
        for name, types in OPTIONAL_ENTRY_FIELDS.items():
            assert name not in e or isinstance(e[name], types), f"{e['id']}.{name}"
        assert "download_count" not in e or e["download_count"] is not None  # absent where unknown
        for a in e["authors"]:
            assert set(a) == AUTHOR_FIELDS, f"{e['id']}.authors"
        assert set(e["uploader"]) == {"id", "email", "name"}
        for b in e["badges"]:
            assert {"label", "icon", "url"} <= set(b)
        assert e["rdf_source"].startswith(e["root_url"] + "/")
        assert e["root_url"].startswith(config["url_root"])
        total += len(e["versions"])
    assert sum(config["n_resource_versions"].values()) == total
    assert sum(config["n_resources"].values()) == len(data["collection"])
    schema = json.loads((REPO / "docs" / "schemas" / "collection.schema.json").read_text())
    jsonschema.validate(data, schema)


def _rich_record(cid: str = "affable-shark") -> ConceptRecord:
    summary = ResourceSummary(
        name="Shark", description="finds nuclei", tags=["nuclei"], authors=["Ada", "Bob"],
        author_details=[PersonSummary(name="Ada", affiliation="EMBL", orcid="0000-0002-1825-0097", github_user="ada"),
                        PersonSummary(name="Bob")],
        uploader_name="Ada", uploader_email="ada@example.org", covers=["cover.png"],
        badges=[BadgeSummary(label="Open in Colab", icon="colab.svg", url="https://colab.example/x")],
        icon="🦈", links=["ilastik/ilastik"], training_data="uplifting-ice-cream",
        declared_id="10.5281/zenodo.5764892/5764893", nickname="impartial-shrimp", nickname_icon="🦐",
    )
    tests = {
        "bioimageio.core_0.11.0_onnx": ReportBrief(status="passed", report="x", tool="bioimageio.core", weight_format="onnx"),
        "ilastik": ReportBrief(status="passed", report="ilastik", tool="ilastik"),
        "deepimagej": ReportBrief(status="failed", report="deepimagej", tool="deepimagej"),
    }
    r = ConceptRecord(id=cid, type="model", owners=["github|1"], concept_doi="10.5281/zenodo.1000")
    for i, v in enumerate(("1", "2")):
        r.versions[v] = VersionRecord(version=v, published=T0 + timedelta(days=i), rdf_sha256=f"sha-{v}",
                                      uploader="github|1", summary=summary.model_copy(update={"version": v}),
                                      tests=tests, doi=f"10.5281/zenodo.100{i + 1}")
    return r


def test_entry_carries_what_the_website_reads() -> None:
    decl = CurationDecl(legacy=LegacyDecl(ids=["10.5281/zenodo.5764892"], download_count=1234))
    files = plan_index([_rich_record()], {"affable-shark": decl}, CONFIG, url_of)
    data = files.collection.model_dump(mode="json")
    check_collection_json(data)
    (e,) = data["collection"]
    assert e["authors"][0] == {"name": "Ada", "affiliation": "EMBL", "orcid": "0000-0002-1825-0097", "github_user": "ada"}
    assert e["uploader"] == {"id": "github|1", "email": "ada@example.org", "name": "Ada"}
    assert e["badges"] == [{"label": "Open in Colab", "icon": "https://store.example/affable-shark/2/files/colab.svg",
                            "url": "https://colab.example/x"}]
    assert e["icon"] == "🦈" and e["links"] == ["ilastik/ilastik"] and e["training_data"] == {"id": "uplifting-ice-cream"}
    assert e["root_url"] == "https://store.example/affable-shark/2/files"
    assert e["download_count"] == 1234
    assert (e["nickname"], e["nickname_icon"]) == ("impartial-shrimp", "🦐")
    # `<tool>-compatible` tags come from the conflated compatibility reports only (test_compat_scoring.py)
    assert e["tags"] == ["nuclei"]
    cfg = data["config"]
    assert cfg["n_resources"] == {"model": 1, "dataset": 0, "notebook": 0, "application": 0}
    assert cfg["n_resource_versions"]["model"] == 2 and cfg["resource_types"] == ["model"]
    assert cfg["url_root"] == "https://store.example" and cfg["splash_title"] == "BioImage Model Zoo"
    ilastik = next(p for p in cfg["partners"] if p["id"] == "ilastik")
    assert ilastik["logo"].startswith("https://") and ilastik["icon"] == ilastik["logo"] and ilastik["splash_subtitle"]
    # unknown download count: the key is absent
    plain = plan_index([_rich_record()], {}, CONFIG, url_of).collection.model_dump(mode="json")
    assert "download_count" not in plain["collection"][0]


def test_all_versions_and_versions_json() -> None:
    decl = CurationDecl(blocked_versions=[BlockedVersion(version="1", reason="broken")])
    files = plan_index([_rich_record(), _rich_record("bold-bat")], {"bold-bat": decl}, CONFIG, url_of)
    entries = {e.concept: e for e in files.all_versions.entries}
    assert [v.v for v in entries["affable-shark"].versions] == ["2", "1"]
    assert entries["affable-shark"].concept_doi == "10.5281/zenodo.1000"
    assert [(v.v, v.doi) for v in entries["bold-bat"].versions] == [("2", "10.5281/zenodo.1002")]
    assert entries["affable-shark"].versions[1].source == "https://store.example/affable-shark/1/files/rdf.yaml"
    assert [v.v for v in files.versions["bold-bat"].versions] == ["2"]


def test_aliases_resolve_and_never_shadow_a_concept() -> None:
    shark = _rich_record()
    # bold-bat claims shark's concept id and its DOI as legacy ids: both stay with affable-shark
    bat = _rich_record("bold-bat")
    bat.concept_doi = "10.5281/zenodo.2000"
    for i, v in enumerate(bat.versions.values()):
        v.doi = f"10.5281/zenodo.200{i + 1}"
        v.summary = v.summary.model_copy(update={"declared_id": None, "nickname": None})
    curation = {
        "affable-shark": CurationDecl(legacy=LegacyDecl(ids=["10.5281/zenodo.5764892", "old-shark"], nickname="impartial-shrimp")),
        "bold-bat": CurationDecl(legacy=LegacyDecl(ids=["affable-shark", "10.5281/zenodo.1001", "affable-shark/1"])),
    }
    ids = plan_index([shark, bat], curation, CONFIG, url_of).id_map
    v1 = "https://store.example/affable-shark/1/files/rdf.yaml"
    v2 = "https://store.example/affable-shark/2/files/rdf.yaml"
    assert ids["10.5281/zenodo.1001"].source == v1  # version DOI -> that version
    assert ids["10.5281/zenodo.1002"].source == v2
    assert ids["10.5281/zenodo.1000"].source == v2  # concept DOI -> latest
    assert "10.5281/zenodo.5764892/5764893" not in ids  # a DOI the upload itself gives is no alias (it could be another's)
    assert ids["10.5281/zenodo.5764892"].source == v2 and ids["old-shark"].source == v2  # legacy ids
    assert ids["impartial-shrimp"].source == v2  # legacy nickname (declared by reviewers)
    assert ids["affable-shark"].source == v2 and ids["affable-shark/1"].source == v1  # real ids win
    assert ids["10.5281/zenodo.2000"].source.startswith("https://store.example/bold-bat/2/")


def test_suite_written_files_and_incremental_aliases(ctx: Context) -> None:
    ctx.concepts.save(_rich_record())
    ctx.concepts.save(_rich_record("bold-bat"))
    generate_index(ctx)
    data = json.loads(ctx.storage.get_bytes("collection.json"))
    check_collection_json(data)
    assert data["config"]["url_root"] == ctx.storage.public_url("collection.json").rsplit("/", 1)[0]
    all_versions = json.loads(ctx.storage.get_bytes("all_versions.json"))
    assert [e["concept"] for e in all_versions["entries"]] == ["affable-shark", "bold-bat"]
    versions = json.loads(ctx.storage.get_bytes("affable-shark/versions.json"))
    assert versions == {"concept_doi": "10.5281/zenodo.1000", "versions": [
        {"v": "2", "created": "2026-01-02T00:00:00Z", "doi": "10.5281/zenodo.1002"},
        {"v": "1", "created": "2026-01-01T00:00:00Z", "doi": "10.5281/zenodo.1001"}]}
    id_map = json.loads(ctx.storage.get_bytes("id_map.json"))
    # the DOIs of both concepts are the same here: the first concept by id keeps them
    assert id_map["10.5281/zenodo.1001"]["source"].endswith("/affable-shark/1/files/rdf.yaml")
    # a later incremental run that replans only bold-bat keeps affable-shark's aliases
    bat = _rich_record("bold-bat")
    bat.versions["2"].doi = "10.5281/zenodo.3002"
    ctx.concepts.save(bat)
    assert generate_index(ctx).fetched == 1
    again = json.loads(ctx.storage.get_bytes("id_map.json"))
    assert again["10.5281/zenodo.1001"] == id_map["10.5281/zenodo.1001"]
    assert again["10.5281/zenodo.1000"] == id_map["10.5281/zenodo.1000"]
    assert again["10.5281/zenodo.3002"]["source"].endswith("/bold-bat/2/files/rdf.yaml")


@pytest.mark.parametrize("broken", ["authors", "config", "download_count"])
def test_the_check_notices_a_missing_field(broken: str) -> None:
    data = plan_index([_rich_record()], {}, CONFIG, url_of).collection.model_dump(mode="json")
    if broken == "authors":
        data["collection"][0]["authors"] = ["Ada"]
    elif broken == "config":
        del data["config"]["url_root"]
    else:
        data["collection"][0]["download_count"] = None
    with pytest.raises((AssertionError, jsonschema.ValidationError)):
        check_collection_json(data)


def test_every_field_is_documented() -> None:
    """Every model of the index's output modules (and each model their fields name) has its table."""
    import inspect

    from pydantic import BaseModel

    from backoffice.index import compatibility, models, version_models

    doc = (REPO / "docs" / "collection_json.md").read_text()
    found = [m for module in (models, version_models, compatibility) for _, m in inspect.getmembers(module, inspect.isclass)
             if issubclass(m, BaseModel) and m.__module__ == module.__name__ and m.model_fields and not m.__name__.startswith("_")]
    assert len(found) > 20
    for model in found:
        section = doc.split(f"### `{model.__name__}`", 1)
        assert len(section) == 2, f"docs/collection_json.md has no section for {model.__name__}"
        table = section[1].split("###", 1)[0]
        for field in model.model_fields:
            assert f"| `{field}` |" in table, f"{model.__name__}.{field} is not documented"

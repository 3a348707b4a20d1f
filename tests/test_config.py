"""The collection config and `collection/` declarations: valid as shipped, and a wrong
file fails with a message naming the file and the field."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from backoffice.config.collection_config import load_collection_config
from backoffice.config.curation import load_curation, load_curation_file
from backoffice.errors import ConfigError
from backoffice.ids import check_id, emoji_of, random_id, split_id
from backoffice.errors import InvalidIdError
from config_paths import EXAMPLE_COLLECTION, TEST_CONFIG

REPO = Path(__file__).resolve().parents[1]
CONFIG = TEST_CONFIG


def test_shipped_config_valid_with_full_word_tables() -> None:
    config = load_collection_config(CONFIG)
    counts = {t: (len(p.adjectives), len(p.nouns)) for t, p in config.id_parts.items()}
    assert counts == {"model": (174, 87), "dataset": (83, 76), "notebook": (173, 42)}
    assert config.demo_reviewer in {r.id for r in config.reviewers}


def test_every_collection_file_validates() -> None:
    config = load_collection_config(CONFIG)
    decls = load_curation(EXAMPLE_COLLECTION)
    assert decls, "ship at least one example declaration"
    for concept_id in decls:
        assert split_id(config, concept_id) is not None, f"collection/{concept_id}.yaml is not named by a memorable id"


def _broken_config(tmp_path: Path, mutate) -> Path:  # noqa: ANN001
    raw = json.loads(CONFIG.read_text())
    mutate(raw)
    path = tmp_path / "bioimageio_collection_config.json"
    path.write_text(json.dumps(raw))
    return path


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: c["reviewers"][0].update(id="octocat"), "reviewers[0].id"),
        (lambda c: c["reviewers"][1].update(email="not-an-email"), "reviewers[1].email"),
        (lambda c: c["reviewers"][0].update(nickname="x"), "reviewers[0].nickname"),
        (lambda c: c["partners"][0]["dispatch"].pop("workflow"), "partners[0].dispatch.workflow"),
        (lambda c: c["id_parts"]["model"]["nouns"].update(shark=""), "id_parts.model.nouns"),
        (lambda c: c["id_parts"]["dataset"]["adjectives"].append("Not A Word"), "id_parts.dataset.adjectives"),
    ],
)
def test_wrong_config_names_file_and_field(tmp_path: Path, mutate, field: str) -> None:  # noqa: ANN001
    path = _broken_config(tmp_path, mutate)
    with pytest.raises(ConfigError) as info:
        load_collection_config(path)
    assert str(path) in str(info.value)
    assert f"field '{field}'" in str(info.value)
    assert "\n" not in str(info.value)


def test_config_not_json(tmp_path: Path) -> None:
    path = tmp_path / "c.json"
    path.write_text("{nope")
    with pytest.raises(ConfigError, match="c.json: not valid JSON"):
        load_collection_config(path)


@pytest.mark.parametrize(
    ("text", "field"),
    [
        ("blocked_versions:\n  - version: '1'\n", "blocked_versions[0].reason"),
        ("extra_owners: ['octocat']\n", "extra_owners"),
        ("test_kwargs:\n  caffe: {}\n", "test_kwargs"),
        ("overrides:\n  weights: {}\n", "overrides.weights"),
        ("overrides:\n  tags: nuclei\n", "overrides.tags"),
        ("blocked: true\n", "blocked"),
    ],
)
def test_wrong_curation_file_names_file_and_field(tmp_path: Path, text: str, field: str) -> None:
    path = tmp_path / "affable-shark.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_curation_file(path)
    assert str(path) in str(info.value) and f"field '{field}'" in str(info.value)


def test_curation_yaml_syntax_error(tmp_path: Path) -> None:
    path = tmp_path / "affable-shark.yaml"
    path.write_text("blocked_versions: [\n")
    with pytest.raises(ConfigError, match="affable-shark.yaml is not valid YAML"):
        load_curation_file(path)


def test_check_config_command_reports_broken_file(tmp_path: Path) -> None:
    collection = tmp_path / "collection"
    collection.mkdir()
    (collection / "affable-shark.yaml").write_text("extra_owners: ['octocat']\n")
    env = {"BACKOFFICE_CONFIG_PATH": str(CONFIG), "BACKOFFICE_COLLECTION_DIR": str(collection),
           "BACKOFFICE_LOCAL_ROOT": str(tmp_path / "store"), "PATH": "/usr/bin:/bin"}
    r = subprocess.run([sys.executable, "-m", "backoffice", "check-config"], env={**env, "PYTHONPATH": str(REPO)},
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == ConfigError.exit_code
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "field 'extra_owners'" in lines[0]
    (collection / "affable-shark.yaml").write_text("extra_owners: ['github|1']\n")
    r = subprocess.run([sys.executable, "-m", "backoffice", "check-config"], env={**env, "PYTHONPATH": str(REPO)},
                       capture_output=True, text=True, cwd=tmp_path)
    assert r.returncode == 0, r.stderr


def test_memorable_ids() -> None:
    config = load_collection_config(CONFIG)
    assert split_id(config, "affable-shark") == ("model", "affable", "shark")
    assert emoji_of(config, "affable-shark") == config.id_parts["model"].nouns["shark"]
    check_id(config, "affable-shark", "model")
    food = next(iter(config.id_parts["dataset"].nouns))
    adjective = config.id_parts["dataset"].adjectives[0]
    with pytest.raises(InvalidIdError, match="is a dataset id, but the resource is a model"):
        check_id(config, f"{adjective}-{food}", "model")
    with pytest.raises(InvalidIdError, match="not a memorable"):
        check_id(config, "shark", "model")
    taken = {"affable-shark"}
    new = random_id(config, "notebook", taken.__contains__)
    assert split_id(config, new) is not None and split_id(config, new)[0] == "notebook"  # type: ignore[index]

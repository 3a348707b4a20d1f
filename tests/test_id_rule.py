"""The one id rule and the one label rule (`records/keys.py`), and that stage, import and
curation each go through them (issue 26 Medium)."""

from __future__ import annotations

import json
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from backoffice.config.curation import load_curation_file
from backoffice.context import Context
from backoffice.errors import ConfigError, InvalidIdError, PackageError
from backoffice.importer.models import RunningItem
from backoffice.importer.run import import_collection
from backoffice.importer.sources import version_dir
from backoffice.records import keys
from backoffice.stage.stage import check_version
from import_helpers import AT, RUNNING

pytest_plugins = ["backoffice_fixtures"]


@pytest.mark.parametrize("concept_id", ["affable-shark", "imjoy:vizarr", "fiji:Fiji", "ilastik:ilastik", "Notebook_1.2"])
def test_every_form_the_running_collection_uses_is_admitted(concept_id: str) -> None:
    assert keys.checked(concept_id) == concept_id


@pytest.mark.parametrize(("concept_id", "why"), [
    ("partners", "a name the store keeps for itself"), ("Pending", "a name the store keeps for itself"),
    ("concepts", "a name the store keeps for itself"), ("imports", "a name the store keeps for itself"),
    ("collection.json", "a name the store keeps for itself"), ("a/b", "letters, digits"), ("..", "letters, digits"),
    ("a..b", "letters, digits"), (":x", "letters, digits"), ("a\nb", "letters, digits"), ("x\ud800", "letters, digits"),
    ("", "letters, digits"), ("a" * 101, "letters, digits"),
])
def test_reserved_and_unplain_ids_are_refused(concept_id: str, why: str) -> None:
    with pytest.raises(InvalidIdError, match=why) as e:
        keys.checked(concept_id)
    str(e.value).encode("utf-8")  # printable: a lone surrogate is shown escaped, never a UnicodeEncodeError


def test_reserved_names_come_from_the_layout() -> None:
    assert {"partners", "pending", "concepts", "index", "dashboard", "imports", "downloads", "id_map.json"} <= keys.RESERVED_IDS
    tops = {k.key.split("/", 1)[0] if "/" in k.key else k.key for k in keys.LAYOUT if not k.key.startswith("<")}
    assert all(name in keys.RESERVED_IDS for top in tops for name in top.split(", "))
    assert {"log", "chat", "drafts", "versions.json", "downloads.json"} == keys.RESERVED_LABELS


def test_a_case_variant_of_a_held_id_is_refused() -> None:
    with pytest.raises(InvalidIdError, match="only its case differs from the held concept 'affable-shark'"):
        keys.checked("Affable-Shark", ["affable-shark", "chatty-frog"])
    assert keys.checked("affable-shark", ["affable-shark"]) == "affable-shark"


@pytest.mark.parametrize("label", ["log", "LOG", "chat", "drafts", "versions.json", "../x", "a/b", "", "v\u00e9"])
def test_labels_that_are_no_plain_key_or_a_folder_name_are_refused(label: str) -> None:
    with pytest.raises(InvalidIdError):
        keys.checked_label(label)
    with pytest.raises(InvalidIdError):
        keys.version_root("affable-shark", label)


def test_stage_takes_the_label_rule() -> None:
    assert check_version("1.0+cpu") == "1.0+cpu"
    with pytest.raises(PackageError):
        check_version("1..2")


def test_curation_takes_the_id_rule(tmp_path: Path) -> None:
    (tmp_path / "imjoy:vizarr.yaml").write_text("legacy:\n  ids: [imjoy/vizarr]\n")
    assert load_curation_file(tmp_path / "imjoy:vizarr.yaml").legacy.ids == ["imjoy/vizarr"]
    (tmp_path / "partners.yaml").write_text("{}\n")
    with pytest.raises(ConfigError, match="a name the store keeps for itself"):
        load_curation_file(tmp_path / "partners.yaml")


def test_import_refuses_a_version_labelled_log_and_keeps_the_rest(local_ctx: Context, tmp_path: Path) -> None:
    src = shutil.copytree(RUNNING, tmp_path / "running")
    index = json.loads((src / "index.json").read_text())
    frog = next(i for i in index["items"] if i["id"] == "bioimage-io/chatty-frog")
    frog["versions"].append({**frog["versions"][0], "version": "log"})
    item = RunningItem.model_validate(frog)
    shutil.copytree(src / version_dir(item, "v0"), src / version_dir(item, "log"))
    (src / "index.json").write_text(json.dumps(index))
    [report] = import_collection(local_ctx, [str(src)], files=False, at=datetime.fromisoformat(AT), workers=2)
    [out] = [o for o in report.outcomes if o.id == "chatty-frog"]
    assert out.action == "create" and out.versions == ["v0"] and out.refusals == ["version label"]
    assert any("'log': refused: invalid version label 'log': a name of the concept's own folder" in n for n in out.notes)
    assert list(local_ctx.concepts.get("chatty-frog").versions) == ["v0"]
    assert not local_ctx.storage.list_keys("chatty-frog/log/files/")


def test_import_reads_nothing_outside_the_reports_of_a_plain_workspace(local_ctx: Context, tmp_path: Path) -> None:
    src = shutil.copytree(RUNNING, tmp_path / "running")
    index = json.loads((src / "index.json").read_text())
    frog = next(i for i in index["items"] if i["id"] == "bioimage-io/chatty-frog")
    index["items"].append({**frog, "id": "../../outside/sneaky-frog"})
    (src / "index.json").write_text(json.dumps(index))
    [report] = import_collection(local_ctx, [str(src)], files=False, at=datetime.fromisoformat(AT), workers=2)
    [out] = [o for o in report.outcomes if o.id == "sneaky-frog"]
    assert out.action == "refused" and out.refusals == ["concept id"] and "workspace is not a plain folder name" in out.notes[0]
    assert "sneaky-frog" not in local_ctx.concepts.list_ids()

"""Shared by the import tests: the real-data sample, a copy to edit, and store snapshots."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from backoffice.importer.models import RunningItem
from backoffice.importer.sources import version_dir
from backoffice.storage.base import Storage

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "tests" / "data" / "realdata"
RUNNING = SAMPLE / "running"
GITOPS = SAMPLE / "gitops" / "collection.json"
AT = "2026-06-01T12:00:00+00:00"


def sample_index() -> dict[str, Any]:
    return json.loads((RUNNING / "index.json").read_text())


def sample_report_files() -> dict[str, list[Path]]:
    """nickname/version -> its report files in the sample."""
    out: dict[str, list[Path]] = {}
    for item in sample_index()["items"]:
        for v in item["versions"]:
            folder = RUNNING / version_dir(RunningItem.model_validate(item), v["version"]) / "reports"
            out[f"{item['id'].split('/')[-1]}/{v['version']}"] = sorted(folder.glob("*.json")) if folder.is_dir() else []
    return out


def copy_running(dest: Path) -> Path:
    shutil.copytree(RUNNING, dest)
    return dest


def store_state(storage: Storage) -> list[tuple[str, str]]:
    """Every key with its etag (change markers included: an import names them itself)."""
    return [(o.key, o.etag) for o in storage.list("")]


def change_upstream(src: Path, item_id: str) -> None:
    """Edit a version's rdf in place in a copied running collection, as the running collection does
    (its summary's description and the rdf sha256 in summary.json and index.json change)."""
    index = json.loads((src / "index.json").read_text())
    item = next(i for i in index["items"] if i["id"] == item_id)
    summary_path = src / "reports" / item["id"] / "v0" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["rdf_content"]["description"] = "edited in place upstream"
    summary["rdf_yaml_sha256"] = item["versions"][0]["sha256"] = "ab" * 32
    summary_path.write_text(json.dumps(summary))
    (src / "index.json").write_text(json.dumps(index))

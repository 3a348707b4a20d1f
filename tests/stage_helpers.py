"""Helpers of the staging tests: constants, storage snapshots, zip writers."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from backoffice.context import Context
from backoffice.errors import (
    BackofficeError,
)
from backoffice.records import keys
from backoffice.stage.stage import StageResult, stage
from backoffice.storage.base import Storage

REPO = Path(__file__).resolve().parents[1]

UPLOADER = "github|7"
OTHER = "github|8"
EXTRA_OWNER = "github|10000003"  # collection/affable-shark.yaml
REVIEWER = "github|10000001"
SHARK = "affable-shark"
NEW_MODEL_ID = "adaptable-badger"
DATASET_ID = "ambrosial-apple"

MINIMAL_RDF = b'type: model\nname: minimal\nversion: "1.0"\n'




def snapshot(storage: Storage, prefix: str = "") -> list[tuple[str, int, str]]:
    """Every stored key with its size and etag (but the index's change markers)."""
    return [(o.key, o.size, o.etag) for o in storage.list(prefix) if not o.key.startswith(keys.DIRTY_PREFIX)]


def all_keys(storage: Storage, prefix: str = "") -> list[str]:
    """Every stored key (but the index's change markers, which only say 'look again')."""
    return [o.key for o in storage.list(prefix) if not o.key.startswith(keys.DIRTY_PREFIX)]


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    """A zip with entry names written raw (no normalisation by zipfile)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def zip_names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename for i in zf.infolist() if not i.is_dir()}


def load_yaml(data: bytes) -> Any:
    return YAML(typ="safe").load(data.decode())


def do_stage(ctx: Context, source: str | Path, **kwargs: Any) -> StageResult:
    return stage(ctx, str(source), progress=False, **kwargs)


def assert_one_line(error: BackofficeError, fragment: str) -> None:
    assert "\n" not in error.message and "\r" not in error.message, error.message
    assert "\n" not in str(error)
    assert fragment in str(error), str(error)


def log_messages(ctx: Context, cid: str) -> list[str]:
    return [e.message for e in ctx.log(cid).read()]

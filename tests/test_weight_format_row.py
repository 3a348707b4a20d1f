"""A new weight format is one `WeightFormat` row: a made-up pickle-based format added to the
table (and nothing else) has its weights scanned, its notes shown in the scan's report and
its row in the generated docs."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.records.target import resolve_target
from backoffice.records.weight_scan import scan_lines
from backoffice.stage.stage import stage
from backoffice.validate.weight_safety import scan_target
from backoffice.weight_formats import WEIGHT_FORMATS, WeightFormat
from package_edits import edit_package

MADE_UP = WeightFormat("made_up_pickles", "pytorch", False, True, "made-up pickles for this test: scanned.")
PROTOCOL_0 = b"cos\nsystem\n(S'echo pwned'\ntR."
"""A protocol 0 pickle calling os.system: no header or name marks it as a pickle."""
REPO = Path(__file__).resolve().parents[1]


def _generate_docs() -> Any:
    spec = importlib.util.spec_from_file_location("generate_docs", REPO / "scripts" / "generate_docs.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_made_up_pickle_format_is_one_row(local_ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from backoffice.demo.packages import build_model_package

    monkeypatch.setitem(WEIGHT_FORMATS, MADE_UP.name, MADE_UP)
    tiny = build_model_package(tmp_path / "model.zip", formats=("pytorch_state_dict",))

    def edit(rdf: dict[str, Any]) -> None:
        rdf["weights"][MADE_UP.name] = {"source": "weights.made_up", "sha256": hashlib.sha256(PROTOCOL_0).hexdigest(),
                                        "parent": "pytorch_state_dict"}

    pkg = edit_package(tiny, tmp_path / "p.zip", edit, {"weights.made_up": PROTOCOL_0})
    cid = stage(local_ctx, str(pkg), uploader="jane@example.org", progress=False).concept_id
    scan = scan_target(local_ctx.storage, resolve_target(local_ctx.concepts, cid, "draft"))

    scanned = {f.file: f for f in scan.files}
    assert scanned["weights.made_up"].weight_format == MADE_UP.name  # scanned although nothing marks it as a pickle
    assert [g.dotted for _, g in scan.found("dangerous")] == ["os.system"] and scan.status == "failed"
    assert scan.formats[MADE_UP.name] == MADE_UP.notes
    assert f"  {MADE_UP.name}: {MADE_UP.notes}" in scan_lines(scan)
    assert f"| `{MADE_UP.name}` | `pytorch` | no | yes | {MADE_UP.notes} |" in _generate_docs().weight_formats_markdown()


def test_without_the_row_such_weights_are_not_scanned_as_weights(local_ctx: Context, tmp_path: Path) -> None:
    """The counterpart: the row is what makes the difference (the file has no pickle mark)."""
    from backoffice.demo.packages import build_model_package

    tiny = build_model_package(tmp_path / "model.zip", formats=("pytorch_state_dict",))
    pkg = edit_package(tiny, tmp_path / "p.zip", lambda rdf: None, {"weights.made_up": PROTOCOL_0})
    cid = stage(local_ctx, str(pkg), uploader="jane@example.org", progress=False).concept_id
    scan = scan_target(local_ctx.storage, resolve_target(local_ctx.concepts, cid, "draft"))
    assert "weights.made_up" not in {f.file for f in scan.files}

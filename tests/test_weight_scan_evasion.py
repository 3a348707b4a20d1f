"""The weight scan against a hostile uploader: pickles that do not look like pickles, a
pickle with a zip appended (picklescan then reads only the zip), weights that are not a file
of the package. Every malicious file here is crafted byte by byte and never loaded."""

from __future__ import annotations

import hashlib
import io
import zipfile
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.stage.stage import stage
from backoffice.records.weight_scan import assess, scan_reason
from backoffice.validate.pickle_scan import scan_file, scanner_name
from backoffice.validate.static import validate_format
from package_edits import edit_package, reduce_pickle, stack_global_pickle

PROTOCOL_0 = b"cos\nsystem\n(S'echo pwned'\ntR."
"""A protocol 0 pickle (no PROTO header: it starts with GLOBAL) calling os.system."""


def _benign_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("archive/data.pkl", b"\x80\x02}q\x00.")  # an empty dict
    return buf.getvalue()


def _dangerous(scan: Any) -> list[str]:
    assert scan is not None, "the file was not scanned"
    return [g.dotted for g in scan.globals if g.level == "dangerous"]


def test_pickle_with_a_zip_appended_is_scanned_as_the_pickle_it_starts_with(tmp_path: Path) -> None:
    """A legacy `torch.load` reads the pickle at the start; picklescan saw a zip (its end
    record) under an unknown extension and scanned only the zip's entries."""
    path = tmp_path / "model.weights"
    path.write_bytes(reduce_pickle("os", "system") + _benign_zip())
    assert "os.system" in _dangerous(scan_file(path, "model.weights"))


def test_protocol_0_weights_under_any_name_are_scanned(tmp_path: Path) -> None:
    path = tmp_path / "weights.model"
    path.write_bytes(PROTOCOL_0)
    assert scan_file(path, "weights.model") is None  # not a weight file: nothing marks it as a pickle
    assert _dangerous(scan_file(path, "weights.model", weights=True)) == ["os.system"]


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from backoffice.demo.packages import build_model_package

    return build_model_package(tmp_path_factory.mktemp("pkg") / "model.zip", formats=("pytorch_state_dict",))


def _scan(ctx: Context, cid: str, which: str) -> Any:
    from backoffice.records.target import resolve_target
    from backoffice.validate.weight_safety import scan_target

    return scan_target(ctx.storage, resolve_target(ctx.concepts, cid, which))


def _with_source(tiny_model: Path, out: Path, source: str, data: bytes | None) -> Path:
    def edit(rdf: dict[str, Any]) -> None:
        rdf["weights"]["pytorch_state_dict"]["source"] = source
        if data is not None:
            rdf["weights"]["pytorch_state_dict"]["sha256"] = hashlib.sha256(data).hexdigest()

    return edit_package(tiny_model, out, edit, {source: data} if data is not None else None)


def test_state_dict_weights_named_unlike_a_pickle_fail_validation(local_ctx: Context, tiny_model: Path, tmp_path: Path) -> None:
    pkg = _with_source(tiny_model, tmp_path / "p.zip", "weights.model", PROTOCOL_0)
    cid = stage(local_ctx, str(pkg), uploader="mallory@example.org", progress=False).concept_id
    result = validate_format(local_ctx, cid)
    assert result.status == "failed" and result.weight_scan is not None
    assert [(w, g.dotted) for w, g in result.weight_scan.found("dangerous")] == [("weights.model", "os.system")]


@pytest.mark.parametrize("source", ["https://example.org/weights.pt", "../other/weights.pt"])
def test_weights_outside_the_package_cannot_be_scanned_and_fail(local_ctx: Context, tiny_model: Path, tmp_path: Path,
                                                                source: str) -> None:
    """Weights the package does not hold were never scanned and can change after review."""
    pkg = _with_source(tiny_model, tmp_path / "p.zip", source, None)
    cid = stage(local_ctx, str(pkg), uploader="mallory@example.org", progress=False).concept_id
    scan = _scan(local_ctx, cid, "draft")  # the scan alone: bioimageio.spec would try to fetch the URL
    assert scan.status == "failed" and any(source in (f.error or "") for f in scan.files)


@pytest.mark.parametrize(("module", "name"), [("torch.storage", "_load_from_bytes"), ("torch", "load"), ("numpy", "load")])
def test_globals_that_load_another_pickle_are_dangerous(tmp_path: Path, module: str, name: str) -> None:
    """`torch.storage._load_from_bytes(b)` is `torch.load(BytesIO(b), weights_only=False)`:
    a nested pickle the scan never reads runs whatever it names."""
    inner = reduce_pickle("os", "system")
    path = tmp_path / "weights.pt"
    path.write_bytes(b"\x80\x02" + f"c{module}\n{name}\n".encode() + b"C" + bytes([len(inner)]) + inner + b"\x85R.")
    assert _dangerous(scan_file(path, "weights.pt")) == [f"{module}.{name}"]


def test_a_published_version_naming_its_weights_by_url_is_not_failed_for_it(local_ctx: Context, tiny_model: Path,
                                                                             tmp_path: Path) -> None:
    """Versions taken over from the earlier collection name mirrored weights by their Zenodo URL:
    a retest must not fail them for it (only a draft's weights must be files of the package)."""
    from backoffice.records.status import DraftStatus
    from backoffice.review.publish import publish

    pkg = _with_source(tiny_model, tmp_path / "p.zip", "https://zenodo.org/api/records/1/files/weights.pt/content", None)
    cid = stage(local_ctx, str(pkg), uploader="jane@example.org", progress=False).concept_id
    def to_review(record: Any) -> None:
        record.set_draft_status(DraftStatus.TESTING)
        record.set_draft_status(DraftStatus.AWAITING_REVIEW)

    local_ctx.concepts.update(cid, to_review)
    publish(local_ctx, cid, "github|10000001")
    scan = _scan(local_ctx, cid, "1.0")
    assert not [f for f in scan.files if f.error] and {f.file for f in scan.files} == {"weights.pt"}, scan


# ----------------------------------------------------------------------------- the scan fails closed (issue 26)

CODE_RUNNING = [
    ("logging.config", "dictConfig"),  # its handler factories run whatever they name (os.system)
    ("_posixsubprocess", "fork_exec"),
    ("torch.utils.cpp_extension", "load_inline"),  # compiles and loads C++ source
    ("numpy.ctypeslib", "load_library"),
    ("_ctypes", "dlopen"),
    ("site", "addpackage"),  # runs the `import` lines of a .pth file
]
"""Globals that passed the scan with a warning before it failed closed."""


@pytest.mark.parametrize("write", [reduce_pickle, stack_global_pickle], ids=["GLOBAL", "STACK_GLOBAL"])
@pytest.mark.parametrize(("module", "name"), CODE_RUNNING, ids=[f"{m}.{n}" for m, n in CODE_RUNNING])
def test_code_running_globals_fail_and_are_named(tmp_path: Path, module: str, name: str, write: Any) -> None:
    path = tmp_path / "weights.pt"
    path.write_bytes(write(module, name))  # written opcode by opcode, never loaded
    scan = scan_file(path, "weights.pt", weights=True)
    assert _dangerous(scan) == [f"{module}.{name}"]
    result = assess(scanner_name(), [scan] if scan else [], ["pytorch_state_dict"], 1)
    assert result.status == "failed"
    assert f"weights.pt imports {module}.{name} (dangerous)" in scan_reason(result)


@pytest.mark.parametrize(("module", "name"), [("argparse", "Namespace"), ("zipimport", "zipimporter"), ("mylab.layers", "Custom"),
                                              ("torch.nn.modules.conv", "Conv2d"), ("collections", "OrderedDict.fromkeys")])
def test_a_global_on_neither_list_fails(tmp_path: Path, module: str, name: str) -> None:
    """Not known to be harmless is not passed: a global nobody listed fails the scan too."""
    path = tmp_path / "weights.pt"
    path.write_bytes(stack_global_pickle(module, name))
    scan = scan_file(path, "weights.pt", weights=True)
    assert scan is not None and [(g.dotted, g.level) for g in scan.globals] == [(f"{module}.{name}", "unusual")]
    result = assess(scanner_name(), [scan], ["pytorch_state_dict"], 1)
    assert result.status == "failed"
    assert scan_reason(result) == f"; weight safety scan: weights.pt imports {module}.{name} (not known to be harmless)"


def test_validate_format_names_the_unknown_global_in_its_one_line(local_ctx: Context, tiny_model: Path, tmp_path: Path) -> None:
    """Through the command line: the one `error:` line names the file and the global, for the reviewer."""
    from package_edits import with_weights
    from test_trust_handover import _bo, _env  # pyright: ignore[reportPrivateUsage]

    pkg = with_weights(tiny_model, tmp_path / "p.zip", {"weights.pt": reduce_pickle("zipimport", "zipimporter", "/tmp/x.zip")})
    cid = stage(local_ctx, str(pkg), uploader="mallory@example.org", progress=False).concept_id
    r = _bo(["validate-format", cid, "draft"], _env(local_ctx), tmp_path)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("error: ")]
    assert r.returncode != 0 and len(lines) == 1, r.stdout + r.stderr
    assert "static validation failed; weight safety scan: weights.pt imports zipimport.zipimporter (not known to be harmless)" in lines[0]
    assert "global zipimport.zipimporter in weights.pt: not known to be harmless" in r.stdout
    draft = local_ctx.concepts.get(cid).require_draft()
    assert draft.weight_scan is not None and draft.weight_scan.status == "failed"

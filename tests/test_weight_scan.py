"""The weight safety scan: pickles crafted here (never loaded) are caught, naming the file
and the global; benign PyTorch weights pass; the scan runs in validate-format, in the job
without secrets, and a dangerous global stops the draft before any test is planned."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from backoffice.context import Context
from backoffice.records.status import DraftStatus
from backoffice.records.weight_scan import HARMLESS_GLOBALS, FileScan, FoundGlobal, assess, judge, scan_detail, scan_reason
from backoffice.stage.stage import stage
from backoffice.validate.pickle_scan import scan_file
from backoffice.validate.static import validate_format
from test_trust_handover import _bo, _env
from package_edits import npy_with_objects, reduce_pickle, replace_in_zip, stack_global_pickle, with_weights


def _flagged(scan: FileScan | None) -> list[tuple[str, str, str]]:
    assert scan is not None
    return [(g.where, g.dotted, g.level) for g in scan.globals if g.level != "harmless"]


@pytest.fixture(scope="module")
def torch_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A state dict (torch.save) and a TorchScript archive of a small network."""
    import torch

    folder = tmp_path_factory.mktemp("torch")
    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU())
    torch.save(net.state_dict(), folder / "state.pt")
    torch.jit.trace(net, torch.zeros(1, 1, 8, 8)).save(str(folder / "script.pt"))  # pyright: ignore[reportUnknownMemberType, reportPrivateImportUsage]
    return {"state_dict": folder / "state.pt", "torchscript": folder / "script.pt"}


def test_reduce_calling_os_system_is_dangerous(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    path = tmp_path / "weights.pt"
    path.write_bytes(reduce_pickle("os", "mkdir", str(marker)))
    scan = scan_file(path, "weights.pt")
    assert _flagged(scan) == [("", "os.mkdir", "dangerous")]
    assert not marker.exists()  # scanned, never loaded
    result = assess("picklescan", [scan] if scan else [], ["pytorch_state_dict"], 1)
    assert result.status == "failed"
    detail = scan_detail(result)
    assert detail["status"] == "failed"
    assert detail["errors"][0]["msg"].startswith("weights.pt imports the dangerous global os.mkdir")


@pytest.mark.parametrize(("module", "name"), [("subprocess", "check_output"), ("builtins", "exec"), ("builtins", "__import__"),
                                              ("posix", "system"), ("builtins", "eval")])
def test_stack_global_dangerous_names(tmp_path: Path, module: str, name: str) -> None:
    path = tmp_path / "model.pkl"
    path.write_bytes(stack_global_pickle(module, name))
    assert _flagged(scan_file(path, "model.pkl")) == [("", f"{module}.{name}", "dangerous")]


def test_legacy_torch_file_with_payload_in_a_later_pickle(tmp_path: Path) -> None:
    """The legacy (non-zip) torch.save format is several pickles in a row: all are scanned,
    not only the first (the bypass reported against other scanners)."""
    import pickle

    magic, protocol = 0x1950A86A20F9469CFC6C, 1001
    header = b"".join(pickle.dumps(v, protocol=2) for v in (magic, protocol, {"protocol_version": protocol}))
    path = tmp_path / "model.ckpt"
    path.write_bytes(header + reduce_pickle("posix", "system"))
    assert ("", "posix.system", "dangerous") in _flagged(scan_file(path, "model.ckpt"))


def test_benign_state_dict_and_torchscript_pass(torch_files: dict[str, Path]) -> None:
    scans = [scan_file(p, p.name) for p in torch_files.values()]
    assert all(s is not None and s.kind == "zip of pickles" and s.globals for s in scans)
    assert [_flagged(s) for s in scans] == [[], []]  # torch's own globals and TorchScript's are harmless
    result = assess("picklescan", [s for s in scans if s], ["pytorch_state_dict", "torchscript"], 2)
    assert result.status == "passed"
    assert all(f.globals == [] and f.harmless > 0 for f in result.files)  # the stored scan keeps only a count of those
    assert "cannot carry" not in result.formats["torchscript"] and "scanned" in result.formats["pytorch_state_dict"]


def test_torch_checkpoints_of_every_kind_pass(tmp_path: Path) -> None:
    """What `torch.save` writes beyond a plain state dict (parameters, quantized tensors,
    sizes, dtypes, devices, sets, bytes, counters, numpy scalars), in the zip and the legacy
    format: only harmless globals, nothing to fail."""
    from collections import Counter

    import torch

    net = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.BatchNorm2d(2))
    checkpoint = {
        "state_dict": net.state_dict(), "parameter": torch.nn.Parameter(torch.ones(2)), "size": torch.Size([1, 2]),
        "dtype": torch.float16, "device": torch.device("cpu"), "ids": {1, 2}, "raw": b"\x00\x01", "complex": 1j,
        "buffer": bytearray(b"ab"), "counts": Counter(a=1), "half": torch.zeros(2, dtype=torch.bfloat16),
        "quantized": torch.quantize_per_tensor(torch.ones(2), 0.1, 0, torch.quint8), "best": np.float32(0.5),
    }
    files = {"zip.pt": {}, "legacy.pt": {"_use_new_zipfile_serialization": False}}
    for name, options in files.items():
        torch.save(checkpoint, tmp_path / name, **options)  # pyright: ignore[reportUnknownMemberType]
    scans = [scan_file(tmp_path / name, name, weights=True) for name in files]
    assert [_flagged(s) for s in scans] == [[], []]
    assert assess("picklescan", [s for s in scans if s], ["pytorch_state_dict"], 2).status == "passed"


def test_the_tiny_models_cover_every_pickle_based_format_and_pass(local_ctx: Context, tmp_path: Path) -> None:
    """The suite's tiny models (`backoffice/demo/`) hold every weight format whose loader
    unpickles, and the scan passes each of them; the keras ones hold no pickle."""
    from backoffice.demo.keras_packages import build_keras_model_package
    from backoffice.demo.packages import TORCH_WEIGHT_FORMATS, build_model_package
    from backoffice.records.target import resolve_target
    from backoffice.validate.weight_safety import PICKLE_FORMATS, scan_target

    assert PICKLE_FORMATS <= set(TORCH_WEIGHT_FORMATS)
    for pkg in (build_model_package(tmp_path / "torch.zip"), build_keras_model_package(tmp_path / "keras.zip")):
        cid = stage(local_ctx, str(pkg), uploader="jane@example.org", progress=False).concept_id
        scan = scan_target(local_ctx.storage, resolve_target(local_ctx.concepts, cid, "draft"))
        assert scan.status == "passed", scan
        scanned = {f.weight_format for f in scan.files}
        assert scanned == (PICKLE_FORMATS if pkg.name == "torch.zip" else set())
        assert all(f.harmless > 0 and not f.globals for f in scan.files)


def test_torchscript_with_malicious_inner_pickle(torch_files: dict[str, Path], tmp_path: Path) -> None:
    bad = replace_in_zip(torch_files["torchscript"], tmp_path / "ts.pt", {"/constants.pkl": reduce_pickle("subprocess", "Popen")})
    flagged = _flagged(scan_file(bad, "weights_torchscript.pt"))
    assert len(flagged) == 1
    where, dotted, level = flagged[0]
    assert where.endswith("constants.pkl") and (dotted, level) == ("subprocess.Popen", "dangerous")


def test_a_global_not_known_to_be_harmless_fails_and_names_itself(tmp_path: Path) -> None:
    """The scan fails closed: a global on neither list fails it, and the report names it."""
    path = tmp_path / "weights.pth"
    path.write_bytes(reduce_pickle("mylab.layers", "Custom", "x"))
    scan = scan_file(path, "weights.pth")
    assert _flagged(scan) == [("", "mylab.layers.Custom", "unusual")]
    result = assess("picklescan", [scan] if scan else [], [], 1)
    detail = scan_detail(result)
    assert result.status == "failed" and detail["status"] == "failed" and not detail["warnings"]
    assert detail["errors"][0]["msg"].startswith("weights.pth imports the global mylab.layers.Custom, not known to be harmless")
    assert scan_reason(result) == "; weight safety scan: weights.pth imports mylab.layers.Custom (not known to be harmless)"


def test_numpy_files(tmp_path: Path) -> None:
    plain = tmp_path / "plain.npy"
    np.save(plain, np.zeros((2, 2), dtype=np.float32))
    assert scan_file(plain, "plain.npy") is None  # no objects: no pickle
    objects = tmp_path / "objects.npy"
    objects.write_bytes(npy_with_objects(reduce_pickle("os", "system")))
    scan = scan_file(objects, "objects.npy")
    assert scan is not None and scan.kind == "numpy array with objects"
    assert _flagged(scan) == [("", "os.system", "dangerous")]
    png = tmp_path / "cover.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 32)
    assert scan_file(png, "cover.png") is None


def test_judge_table() -> None:
    assert judge("torch._utils", "_rebuild_tensor_v2", "suspicious") == "harmless"
    assert judge("__torch__.torch.nn.modules.conv", "Conv2d", "suspicious") == "harmless"
    assert judge("torch.nn.modules.conv", "Conv2d", "suspicious") == "unusual"  # a whole pickled module, not a state dict
    assert judge("torch", "Size", "dangerous") == "dangerous"  # the scanner's verdict of danger always stands
    assert judge("builtins", "__import__", "suspicious") == "dangerous"  # on our list, whatever the scanner says
    assert judge("importlib", "import_module", "suspicious") == "dangerous"
    assert judge("builtins", "set", "suspicious") == "harmless"
    assert judge("__builtin__", "set", "suspicious") == "harmless"  # protocol 2's name of it, as the loaders read it
    assert judge("__builtin__", "intern", "suspicious") == "dangerous"  # read as sys.intern
    assert judge("collections", "OrderedDict", "innocuous") == "harmless"
    assert judge("mylab", "Thing", "innocuous") == "unusual"  # the scanner's "innocuous" alone does not pass a global
    assert judge("torch.jit._pickle", "torch.load", "suspicious") == "unusual"  # a dotted name reaches beyond the module
    assert judge("collections", "OrderedDict.fromkeys", "suspicious") == "unusual"
    assert judge("torch", "FloatStorage.from_file", "suspicious") == "unusual"
    assert FoundGlobal(module="a.b", name="c", level="unusual").dotted == "a.b.c"


def test_harmless_globals_are_torch_weights_only_allow_list() -> None:
    """The facts behind `HARMLESS_GLOBALS`: torch's own `weights_only` unpickler allows the
    same torch globals, less those only sparse tensors use."""
    wo = pytest.importorskip("torch._weights_only_unpickler")
    torch_allowed: set[str] = set(wo._get_allowed_globals())  # pyright: ignore[reportPrivateUsage, reportUnknownMemberType, reportUnknownArgumentType]
    sparse = {g for g in torch_allowed if ".sparse." in g} | {"torch.serialization._get_layout"}
    split = [g.rsplit(".", 1) for g in torch_allowed - sparse]
    assert {f"{m}.{n}" for m, n in split if judge(m, n, "suspicious") != "harmless"} == set()
    ours = {f"{m}.{n}" for m, names in HARMLESS_GLOBALS.items() if names != "*" for n in names}
    beyond = {g for g in ours - torch_allowed if not g.startswith(("torch.jit._pickle.", "numpy."))}
    assert beyond == set()  # only TorchScript's helpers and numpy's arrays are ours on top


def test_unscannable_file_fails(tmp_path: Path) -> None:
    result = assess("picklescan", [FileScan(file="w.pt", kind="pickle", error="ValueError: bad")], [], 1)
    assert result.status == "failed" and "could not be scanned" in scan_detail(result)["errors"][0]["msg"]


# ----------------------------------------------------------------------------- in the pipeline


@pytest.fixture(scope="module")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from backoffice.demo.packages import build_model_package

    return build_model_package(tmp_path_factory.mktemp("pkg") / "model.zip", formats=("pytorch_state_dict", "torchscript"))


def _malicious(tiny_model: Path, out: Path, marker: Path) -> Path:
    with zipfile.ZipFile(tiny_model) as zf:
        script = zf.read("weights_torchscript.pt")
    ts = out.parent / "ts.pt"
    ts.write_bytes(script)
    bad_ts = replace_in_zip(ts, out.parent / "bad_ts.pt", {"/constants.pkl": reduce_pickle("builtins", "exec", "print(1)")})
    return with_weights(tiny_model, out, {"weights.pt": reduce_pickle("os", "mkdir", str(marker)),
                                          "weights_torchscript.pt": bad_ts.read_bytes()})


def test_malicious_package_fails_validation_before_any_test(local_ctx: Context, tiny_model: Path, served: str, tmp_path: Path) -> None:  # noqa: F811
    """Through the workflow's path: validate-format in the job without secrets (public URLs),
    then store-test-result: no test matrix, the draft goes back to its uploader."""
    marker = tmp_path / "pwned"
    pkg = _malicious(tiny_model, tmp_path / "bad.zip", marker)
    cid = stage(local_ctx, str(pkg), uploader="mallory@example.org", progress=False).concept_id
    outputs = tmp_path / "outputs.txt"
    public = _env(local_ctx, BACKOFFICE_STORAGE="public", BACKOFFICE_PUBLIC_BASE_URL=served, GITHUB_OUTPUT=str(outputs),
                  GITHUB_ACTIONS="true")
    r = _bo(["validate-format", cid, "draft", "--handover-out", "v.json"], public, tmp_path)
    assert r.returncode != 0 and "static validation failed" in r.stderr
    assert "dangerous global os.mkdir in weights.pt" in r.stdout
    assert "::error::weight safety scan: weights.pt imports the dangerous global os.mkdir" in r.stderr  # an annotation
    assert "dangerous global builtins.exec in weights_torchscript.pt:" in r.stdout and "constants.pkl" in r.stdout
    out = outputs.read_text().splitlines()
    assert "has_dynamic_test_cases=no" in out and 'dynamic_test_cases={"include": []}' in out  # no test job starts
    handover: Any = json.loads((tmp_path / "v.json").read_text())
    assert handover["status"] == "failed" and handover["dynamic_formats"] == []
    assert handover["weight_scan"]["status"] == "failed"

    r = _bo(["store-test-result", cid, "draft", "v.json", "--expect-step", "validate-format"], _env(local_ctx), tmp_path)
    assert r.returncode != 0 and "changes requested from the uploader" in r.stderr
    draft = local_ctx.concepts.get(cid).require_draft()
    assert draft.status == DraftStatus.CHANGES_REQUESTED and draft.expected_tests == []
    assert draft.weight_scan is not None and draft.weight_scan.status == "failed"
    assert {(w, g.dotted) for w, g in draft.weight_scan.found("dangerous")} >= {("weights.pt", "os.mkdir")}
    messages = [e.details for e in local_ctx.log(cid).read() if e.step == "validate-format" and isinstance(e.details, dict)]
    # what the uploader's e-mail says
    assert any("- weight safety scan: weights.pt imports the dangerous global os.mkdir" in str(d.get("errors")) for d in messages)
    assert not marker.exists()


def test_benign_package_passes_and_the_version_keeps_the_scan(local_ctx: Context, tiny_model: Path) -> None:
    from backoffice.review.publish import publish

    cid = stage(local_ctx, str(tiny_model), uploader="jane@example.org", progress=False).concept_id
    result = validate_format(local_ctx, cid)
    assert result.status != "failed" and result.dynamic_formats == ["pytorch_state_dict", "torchscript"]
    assert result.weight_scan is not None and result.weight_scan.status == "passed"
    assert {f.file for f in result.weight_scan.files} == {"weights.pt", "weights_torchscript.pt"}
    assert "weight safety scan (picklescan" in result.markdown
    assert any(d["name"].startswith("weight safety scan") for d in result.summary["details"])
    assert any(e.message == "static validation valid-format; weight safety scan passed" for e in local_ctx.log(cid).read())

    def to_review(record: Any) -> None:
        record.set_draft_status(DraftStatus.AWAITING_REVIEW)

    local_ctx.concepts.update(cid, to_review)
    publish(local_ctx, cid, "github|10000001")
    version = local_ctx.concepts.get(cid).versions["1.0"]
    assert version.weight_scan is not None and version.weight_scan.status == "passed"
    assert version.weight_scan.files == result.weight_scan.files
    local_ctx.concepts.update(cid, lambda r: setattr(r.versions["1.0"], "weight_scan", None))
    assert validate_format(local_ctx, cid, "1.0").weight_scan is not None  # a retest of the version scans again
    assert local_ctx.concepts.get(cid).versions["1.0"].weight_scan is not None


def test_version_without_files_json_is_scanned_through_public_urls(local_ctx: Context, tiny_model: Path, served: str,  # noqa: F811
                                                                   tmp_path: Path) -> None:
    """A version taken over without `files.json`: the secretless job cannot list the store,
    so it scans the files the rdf names."""
    from backoffice.records import keys

    marker = tmp_path / "pwned"
    pkg = _malicious(tiny_model, tmp_path / "bad.zip", marker)
    staged = stage(local_ctx, str(pkg), uploader="mallory@example.org", progress=False)
    local_ctx.storage.delete(keys.files_manifest(keys.draft_files(staged.concept_id, staged.token)))
    public = _env(local_ctx, BACKOFFICE_STORAGE="public", BACKOFFICE_PUBLIC_BASE_URL=served)
    r = _bo(["validate-format", staged.concept_id, "draft", "--handover-out", "v.json"], public, tmp_path)
    assert r.returncode != 0 and "dangerous global os.mkdir in weights.pt" in r.stdout, r.stdout + r.stderr
    assert not marker.exists()

"""The reproduction tolerance of an output, read from the description as bioimageio.core's
test reads it (the backoffice's own reading: no private module of bioimageio.core)."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from backoffice.dynamic.runner_outputs import tolerance


def _model(tmp_path: Path, config: dict[str, Any] | None) -> Any:
    from bioimageio.spec import load_model_description

    from backoffice.demo.packages import build_model_package

    pkg = build_model_package(tmp_path / "model.zip", formats=("onnx",))
    folder = tmp_path / "model"
    with zipfile.ZipFile(pkg) as zf:
        zf.extractall(folder)
    yaml = YAML(typ="safe")
    rdf: Any = yaml.load((folder / "rdf.yaml").read_text())
    if config is not None:
        rdf["config"] = config
    with (folder / "rdf.yaml").open("w") as f:
        yaml.dump(rdf, f)
    return load_model_description(folder / "rdf.yaml", perform_io_checks=False)


def test_defaults_then_the_first_matching_entry(tmp_path: Path) -> None:
    plain = _model(tmp_path / "a", None)
    member = str(plain.outputs[0].id)
    assert tolerance(plain, "onnx", member, {}) == (1e-3, 1e-3, 100)  # the spec's defaults
    entries = {"bioimageio": {"reproducibility_tolerance": [
        {"weights_formats": ["torchscript"], "relative_tolerance": 0.005},
        {"output_ids": [member], "relative_tolerance": 0.0025, "absolute_tolerance": 0.1, "mismatched_elements_per_million": 7},
    ]}}
    assert tolerance(_model(tmp_path / "b", entries), "onnx", member, {}) == (0.0025, 0.1, 7)
    legacy = {"bioimageio": {"test_kwargs": {"onnx": {"relative_tolerance": 0.01}}}}
    assert tolerance(_model(tmp_path / "c", legacy), "onnx", member, {}) == (0.01, 1e-3, 100.0)


def test_a_0_4_description_takes_the_test_arguments() -> None:
    assert tolerance(object(), "onnx", "out", {"decimal": 2}) == (0.0, 0.015, 0.0)
    assert tolerance(object(), "onnx", "out", {}) == (1e-3, 1e-3, 0.0)

"""Build tiny bioimage.io resource packages (zip files) offline.

The packages are described with bioimageio.spec's description classes
(`bioimageio.spec.model.v0_5.ModelDescr`, `dataset.v0_3.DatasetDescr`,
`notebook.v0_3.NotebookDescr`) and written with `bioimageio.spec.save_bioimageio_package`,
which puts `rdf.yaml` at the zip's root and re-validates the written package.

The descriptions contain no http(s) URLs and no GitHub user names, so validating them
with io checks needs no network (see `backoffice.bioimageio_environ`).

`build_model_package` needs the `demo` extra (torch, onnx); torch is imported lazily.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from bioimageio.spec import ValidationContext
from bioimageio.spec.dataset.v0_3 import DatasetDescr, DatasetId
from bioimageio.spec.model.v0_5 import (
    ArchitectureFromFileDescr,
    FileDescr,
    Identifier,
    ModelDescr,
    ModelId,
    OnnxWeightsDescr,
    PytorchStateDictWeightsDescr,
    TorchscriptWeightsDescr,
    Version,
    WeightsDescr,
)
from bioimageio.spec.notebook.v0_3 import NotebookDescr, NotebookId, RelativeFilePath
from numpy.typing import NDArray

from .builder import (
    BIAS,
    KERNEL,
    SLIGHTLY_OFF,
    WRONG_OUTPUT_OFFSET,
    common_fields,
    demo_image,
    io_tensors,
    model_readme,
    png_bytes,
    save_package,
    side_by_side,
    write_images,
    write_test_tensors,
)

TorchWeightFormat = Literal["pytorch_state_dict", "torchscript", "onnx"]
"""Weight formats `build_model_package` can write (names of `weight_formats.WEIGHT_FORMATS`,
which holds what the backoffice knows about each; the keras ones are in `keras_packages`)."""

TORCH_WEIGHT_FORMATS: tuple[TorchWeightFormat, ...] = ("pytorch_state_dict", "torchscript", "onnx")
"""The torch demo's formats in parent order: the first one requested is the parent of the others."""

ONNX_OPSET = 15
"""ONNX opset used for the onnx weights."""

BROKEN_IMPORT_MESSAGE = "this architecture is broken on purpose"
"""Message of the `RuntimeError` raised on import of a `broken_import` architecture."""

_ARCHITECTURE_SOURCE = '''\
"""Architecture of the tiny demo model: a single 3x3 convolution."""

import torch


class TinyNet(torch.nn.Module):
    """One 1-channel 3x3 convolution (zero padding keeps the spatial size)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(1, 1, kernel_size=3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv(x)
'''

_BROKEN_ARCHITECTURE_SOURCE = (
    f"raise RuntimeError({BROKEN_IMPORT_MESSAGE!r})\n\n" + _ARCHITECTURE_SOURCE
)

def _ordered_formats(formats: Sequence[str], broken_import: bool) -> list[TorchWeightFormat]:
    """The requested weight formats in `TORCH_WEIGHT_FORMATS` order (the first is the parent of the others)."""
    requested = set(formats)
    unknown = requested - set(TORCH_WEIGHT_FORMATS)
    if unknown or not requested:
        raise ValueError(
            f"unsupported or no weight formats {sorted(unknown) or list(formats)};"
            + f" choose from {TORCH_WEIGHT_FORMATS}"
        )
    if broken_import and "pytorch_state_dict" not in requested:
        raise ValueError("broken_import needs the pytorch_state_dict weight format")
    return [f for f in TORCH_WEIGHT_FORMATS if f in requested]


def _tiny_net() -> Any:
    """The network of `_ARCHITECTURE_SOURCE` with its fixed weights, in eval mode."""
    import torch

    namespace: dict[str, Any] = {}
    exec(compile(_ARCHITECTURE_SOURCE, "tiny_net.py", "exec"), namespace)
    net = cast(torch.nn.Module, namespace["TinyNet"]())
    with torch.no_grad():
        conv = cast(torch.nn.Conv2d, net.conv)
        _ = conv.weight.copy_(torch.tensor(KERNEL).reshape(1, 1, 3, 3))
        assert conv.bias is not None
        _ = conv.bias.fill_(BIAS)
    _ = net.eval()
    return net


def _write_weights(d: Path, net: Any, example: Any, ordered: list[TorchWeightFormat], broken_import: bool) -> dict[str, Any]:
    """Write the weights of each format into `d`; their descriptions by format."""
    import torch

    torch_any: Any = torch
    parent: TorchWeightFormat = ordered[0]
    torch_version = Version(torch.__version__.split("+")[0])
    weights: dict[str, Any] = {}
    for wf in ordered:
        wf_parent: TorchWeightFormat | None = None if wf == parent else parent
        if wf == "pytorch_state_dict":
            arch_path = d / "tiny_net.py"
            _ = arch_path.write_text(
                _BROKEN_ARCHITECTURE_SOURCE if broken_import else _ARCHITECTURE_SOURCE,
                encoding="utf-8",
            )
            torch.save(net.state_dict(), d / "weights.pt")
            weights[wf] = PytorchStateDictWeightsDescr(
                source=d / "weights.pt",
                architecture=ArchitectureFromFileDescr(
                    source=arch_path, callable=Identifier("TinyNet")
                ),
                pytorch_version=torch_version,
                parent=wf_parent,
            )
        elif wf == "torchscript":
            traced: Any = torch_any.jit.trace(net, example)
            traced.save(str(d / "weights_torchscript.pt"))
            weights[wf] = TorchscriptWeightsDescr(
                source=d / "weights_torchscript.pt",
                pytorch_version=torch_version,
                parent=wf_parent,
            )
        else:
            _export_onnx(net, example, d / "weights.onnx")
            weights[wf] = OnnxWeightsDescr(
                source=d / "weights.onnx", opset_version=ONNX_OPSET, parent=wf_parent
            )
    return weights


def build_model_package(
    out: Path,
    *,
    formats: Sequence[str] = TORCH_WEIGHT_FORMATS,
    concept_id: str | None = None,
    version: str | None = "1.0",
    name: str = "Tiny Demo Model",
    wrong_output: bool = False,
    slightly_off: bool = False,
    broken_import: bool = False,
) -> Path:
    """Build a tiny model package: one 3x3 convolution, input/output `(batch, channel, y, x)`.

    Args:
        out: path of the zip file to write (parent folders are created).
        formats: weight formats to include, any of `TORCH_WEIGHT_FORMATS`; the first in
            `TORCH_WEIGHT_FORMATS` order is the parent of the others.
        concept_id: if given, the description's `id`.
        version: the description's `version` (None: the description has none).
        name: the description's `name` (letters, digits, ` _+-()`, 5 to 128 characters).
        wrong_output: store a test output that is off by `WRONG_OUTPUT_OFFSET`,
            so that the reproducibility test fails.
        slightly_off: store a test output with a few elements a little off (`SLIGHTLY_OFF`):
            the model runs but does not reproduce its test output.
        broken_import: the architecture file of the pytorch_state_dict weights raises
            `RuntimeError(BROKEN_IMPORT_MESSAGE)` on import (requires that format).

    Returns:
        `out`
    """
    import torch

    torch_any: Any = torch  # torch's stubs are partially unknown to strict pyright
    ordered = _ordered_formats(formats, broken_import)

    with tempfile.TemporaryDirectory(prefix="demo_model_") as tmp:
        d = Path(tmp)
        net = _tiny_net()

        input_array = demo_image(64, 64)[None, None]
        example = cast(torch.Tensor, torch_any.from_numpy(input_array))
        with torch.no_grad():
            output_array = cast(NDArray[np.float32], net(example).numpy())

        write_test_tensors(d, input_array, output_array, wrong_output=wrong_output, slightly_off=slightly_off)
        write_images(d, input_array[0, 0], output_array[0, 0])
        notes = [f"the stored test output is off by {WRONG_OUTPUT_OFFSET}."] if wrong_output else []
        if slightly_off:
            notes.append(f"{SLIGHTLY_OFF[1]} elements of the stored test output are off by {SLIGHTLY_OFF[0]}.")
        if broken_import:
            notes.append("the architecture file `tiny_net.py` raises on import.")
        what = ("A tiny demo model: a single 3x3 convolution (`tiny_net.py`, class `TinyNet`)"
                " with fixed weights that mildly sharpens a 2d grayscale image.")
        _ = (d / "README.md").write_text(model_readme(name, what, ordered, notes), encoding="utf-8")

        weights = _write_weights(d, net, example, ordered, broken_import)

        inputs, outputs = io_tensors(d, channels_last=False)
        model = ModelDescr(
            **common_fields(
                d, name=name, version=version,
                description="A tiny single-convolution demo model built offline by the"
                " bioimage.io collection backoffice (for tests and demos only).",
                tags=["demo", "test", "backoffice", "2d", "fluorescence-light-microscopy"],
            ),
            id=None if concept_id is None else ModelId(concept_id),
            inputs=inputs,
            outputs=outputs,
            weights=WeightsDescr(**weights),
        )
        return save_package(model, out)


def build_dataset_package(
    out: Path, *, concept_id: str | None = None, version: str = "1.0"
) -> Path:
    """Build a tiny dataset package: two 32x32 images as `images.npy` plus a CSV index.

    Args:
        out: path of the zip file to write (parent folders are created).
        concept_id: if given, the description's `id`.
        version: the description's `version`.

    Returns:
        `out`
    """
    with tempfile.TemporaryDirectory(prefix="demo_dataset_") as tmp:
        d = Path(tmp)
        images = np.stack([demo_image(32, 32, seed=s) for s in (1, 2)])
        np.save(d / "images.npy", images)
        _ = (d / "index.csv").write_text(
            "index,name,shape\n0,blobs_a,32x32\n1,blobs_b,32x32\n", encoding="utf-8"
        )
        _ = (d / "cover.png").write_bytes(png_bytes(side_by_side(images[0], images[1])))
        _ = (d / "README.md").write_text(
            "# Tiny Demo Dataset\n\nTwo synthetic 32x32 float32 images (`images.npy`,"
            + " shape `(2, 32, 32)`) and an index (`index.csv`).\n"
            + "Built offline by the bioimage.io collection backoffice for tests and demos.\n",
            encoding="utf-8",
        )
        dataset = DatasetDescr(
            **common_fields(
                d, name="Tiny Demo Dataset", version=version,
                description="Two synthetic 32x32 images, built offline for tests and demos.",
                tags=["demo", "test", "backoffice", "2d"],
            ),
            id=None if concept_id is None else DatasetId(concept_id),
            attachments=[
                FileDescr(source=d / "images.npy"),
                FileDescr(source=d / "index.csv"),
            ],
        )
        return save_package(dataset, out)


def build_notebook_package(
    out: Path, *, concept_id: str | None = None, version: str = "1.0"
) -> Path:
    """Build a tiny notebook package: a two-cell `demo.ipynb` (nbformat 4.5).

    Args:
        out: path of the zip file to write (parent folders are created).
        concept_id: if given, the description's `id`.
        version: the description's `version`.

    Returns:
        `out`
    """
    with tempfile.TemporaryDirectory(prefix="demo_notebook_") as tmp:
        d = Path(tmp)
        _ = (d / "demo.ipynb").write_text(json.dumps(_NOTEBOOK, indent=1), encoding="utf-8")
        _ = (d / "cover.png").write_bytes(
            png_bytes(side_by_side(demo_image(64, 64, seed=3), demo_image(64, 64, seed=4)))
        )
        _ = (d / "README.md").write_text(
            "# Tiny Demo Notebook\n\nA two-cell Jupyter notebook (`demo.ipynb`)."
            + " Built offline by the bioimage.io collection backoffice for tests and demos.\n",
            encoding="utf-8",
        )
        with ValidationContext(root=d, perform_io_checks=True):
            notebook = NotebookDescr(
                **common_fields(
                    d, name="Tiny Demo Notebook", version=version,
                    description="A two-cell Jupyter notebook, built offline for tests and demos.",
                    tags=["demo", "test", "backoffice", "notebook"],
                ),
                id=None if concept_id is None else NotebookId(concept_id),
                # `source` (a path, not a `FileDescr`) is not copied into the package by
                # spec 0.5.12, so the notebook is also an attachment; relative to the root.
                source=RelativeFilePath(Path("demo.ipynb")),
                attachments=[FileDescr(source=d / "demo.ipynb")],
            )
        return save_package(notebook, out)


_NOTEBOOK: dict[str, Any] = {
    "cells": [
        {
            "cell_type": "markdown",
            "id": "intro",
            "metadata": {},
            "source": ["# Tiny demo notebook\n", "Prints a greeting."],
        },
        {
            "cell_type": "code",
            "execution_count": None,
            "id": "greet",
            "metadata": {},
            "outputs": [],
            "source": ['print("hello from the bioimage.io backoffice demo")'],
        },
    ],
    "metadata": {
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    },
    "nbformat": 4,
    "nbformat_minor": 5,
}


def _export_onnx(net: Any, example: Any, path: Path) -> None:
    """Export with the TorchScript-based exporter (`dynamo=False`: no onnxscript needed)."""
    import torch

    torch_any: Any = torch
    dyn = {0: "batch", 2: "y", 3: "x"}
    _ = torch_any.onnx.export(
        net,
        (example,),
        str(path),
        dynamo=False,
        opset_version=ONNX_OPSET,
        input_names=["input"],
        output_names=["output"],
        dynamic_axes={"input": dyn, "output": dyn},
    )

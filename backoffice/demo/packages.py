"""Build tiny bioimage.io resource packages (zip files) offline.

The packages are described with bioimageio.spec's description classes
(`bioimageio.spec.model.v0_5.ModelDescr`, `dataset.v0_3.DatasetDescr`,
`notebook.v0_3.NotebookDescr`) and written with `bioimageio.spec.save_bioimageio_package`,
which puts `rdf.yaml` at the zip's root and re-validates the written package.

The descriptions contain no http(s) URLs and no GitHub user names, so validating them
with io checks needs no network (see `backoffice.bioimageio_env`).

`build_model_package` needs the `demo` extra (torch, onnx); torch is imported lazily.
"""

from __future__ import annotations

import json
import struct
import tempfile
import zlib
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, cast

import numpy as np
from numpy.typing import NDArray

from bioimageio.spec import save_bioimageio_package
from bioimageio.spec.dataset.v0_3 import DatasetDescr, DatasetId
from bioimageio.spec.model.v0_5 import (
    ArchitectureFromFileDescr,
    Author,
    AxisId,
    BatchAxis,
    ChannelAxis,
    CiteEntry,
    Doi,
    FileDescr,
    Identifier,
    InputTensorDescr,
    IntervalOrRatioDataDescr,
    LicenseId,
    Maintainer,
    ModelDescr,
    ModelId,
    OnnxWeightsDescr,
    OutputTensorDescr,
    ParameterizedSize,
    PytorchStateDictWeightsDescr,
    SizeReference,
    SpaceInputAxis,
    SpaceOutputAxis,
    TensorId,
    TorchscriptWeightsDescr,
    Version,
    WeightsDescr,
)
from bioimageio.spec.notebook.v0_3 import NotebookDescr, NotebookId, RelativeFilePath
from bioimageio.spec import ValidationContext

WeightFormat = Literal["pytorch_state_dict", "torchscript", "onnx"]
"""Weight formats `build_model_package` can write."""

WEIGHT_FORMATS: tuple[WeightFormat, ...] = ("pytorch_state_dict", "torchscript", "onnx")
"""All supported weight formats; the first one requested is the parent of the others."""

ONNX_OPSET = 15
"""ONNX opset used for the onnx weights."""

BROKEN_IMPORT_MESSAGE = "this architecture is broken on purpose"
"""Message of the `RuntimeError` raised on import of a `broken_import` architecture."""

WRONG_OUTPUT_OFFSET = 1.0
"""Added to the stored test output of a `wrong_output` model."""

_AUTHORS = [Author(name="Demo Author", affiliation="bioimage.io collection backoffice")]
_CITE = [
    CiteEntry(
        text="Ouyang et al. BioImage Model Zoo: A Community-Driven Resource for "
        + "Accessible Deep Learning in BioImage Analysis.",
        doi=Doi("10.1101/2022.06.07.495102"),
    )
]
_LICENSE = LicenseId("MIT")
_MAINTAINERS = [Maintainer(github_user="bioimageiobot", name="bioimageiobot")]
"""Without a maintainer (or an author with `github_user`) spec warns. GitHub user names
are looked up at api.github.com during io checks unless listed in spec's
`KNOWN_GITHUB_USERS` (bioimageiobot is), so this one needs no network."""

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

_KERNEL = [[0.0, -0.25, 0.0], [-0.25, 1.5, -0.25], [0.0, -0.25, 0.0]]
"""Deterministic weights of the tiny network (a mild sharpening filter)."""
_BIAS = 0.1


def build_model_package(
    out: Path,
    *,
    formats: Sequence[str] = WEIGHT_FORMATS,
    concept_id: str | None = None,
    version: str | None = "1.0",
    name: str = "Tiny Demo Model",
    wrong_output: bool = False,
    broken_import: bool = False,
) -> Path:
    """Build a tiny model package: one 3x3 convolution, input/output `(batch, channel, y, x)`.

    Args:
        out: path of the zip file to write (parent folders are created).
        formats: weight formats to include, any of `WEIGHT_FORMATS`; the first in
            `WEIGHT_FORMATS` order is the parent of the others.
        concept_id: if given, the description's `id`.
        version: the description's `version` (None: the description has none).
        name: the description's `name` (letters, digits, ` _+-()`, 5 to 128 characters).
        wrong_output: store a test output that is off by `WRONG_OUTPUT_OFFSET`,
            so that the reproducibility test fails.
        broken_import: the architecture file of the pytorch_state_dict weights raises
            `RuntimeError(BROKEN_IMPORT_MESSAGE)` on import (requires that format).

    Returns:
        `out`
    """
    import torch

    torch_any: Any = torch  # torch's stubs are partially unknown to strict pyright
    requested = set(formats)
    unknown = requested - set(WEIGHT_FORMATS)
    if unknown or not requested:
        raise ValueError(
            f"unsupported or no weight formats {sorted(unknown) or list(formats)};"
            + f" choose from {WEIGHT_FORMATS}"
        )
    if broken_import and "pytorch_state_dict" not in requested:
        raise ValueError("broken_import needs the pytorch_state_dict weight format")

    ordered: list[WeightFormat] = [f for f in WEIGHT_FORMATS if f in requested]
    parent: WeightFormat = ordered[0]
    torch_version = Version(torch.__version__.split("+")[0])

    with tempfile.TemporaryDirectory(prefix="demo_model_") as tmp:
        d = Path(tmp)
        namespace: dict[str, Any] = {}
        exec(compile(_ARCHITECTURE_SOURCE, "tiny_net.py", "exec"), namespace)
        net = cast(torch.nn.Module, namespace["TinyNet"]())
        with torch.no_grad():
            conv = cast(torch.nn.Conv2d, net.conv)
            _ = conv.weight.copy_(torch.tensor(_KERNEL).reshape(1, 1, 3, 3))
            assert conv.bias is not None
            _ = conv.bias.fill_(_BIAS)
        _ = net.eval()

        input_array = _demo_image(64, 64)[None, None]
        example = cast(torch.Tensor, torch_any.from_numpy(input_array))
        with torch.no_grad():
            output_array = cast(NDArray[np.float32], net(example).numpy())

        np.save(d / "test_input.npy", input_array)
        offset = WRONG_OUTPUT_OFFSET if wrong_output else 0.0
        stored_output = output_array + np.float32(offset)
        np.save(d / "test_output.npy", stored_output.astype(np.float32))

        _ = (d / "cover.png").write_bytes(
            _png_bytes(_side_by_side(input_array[0, 0], output_array[0, 0]))
        )
        # sample tensors: human-facing images (imageio-readable; .npy is not allowed)
        _ = (d / "sample_input.png").write_bytes(_png_bytes(_to_uint8(input_array[0, 0])))
        _ = (d / "sample_output.png").write_bytes(_png_bytes(_to_uint8(output_array[0, 0])))
        _ = (d / "README.md").write_text(
            _model_readme(name, ordered, wrong_output, broken_import), encoding="utf-8"
        )

        weights: dict[str, Any] = {}
        for wf in ordered:
            wf_parent: WeightFormat | None = None if wf == parent else parent
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

        model = ModelDescr(
            name=name,
            description="A tiny single-convolution demo model built offline by the"
            + " bioimage.io collection backoffice (for tests and demos only).",
            id=None if concept_id is None else ModelId(concept_id),
            version=None if version is None else Version(version),
            authors=_AUTHORS,
            maintainers=_MAINTAINERS,
            cite=_CITE,
            license=_LICENSE,
            tags=["demo", "test", "backoffice", "2d", "fluorescence-light-microscopy"],
            covers=[FileDescr(source=d / "cover.png")],
            documentation=FileDescr(source=d / "README.md"),
            inputs=[
                InputTensorDescr(
                    id=TensorId("input"),
                    description="a 2d grayscale image",
                    axes=[
                        BatchAxis(),
                        ChannelAxis(channel_names=[Identifier("raw")]),
                        SpaceInputAxis(id=AxisId("y"), size=ParameterizedSize(min=16, step=16)),
                        SpaceInputAxis(id=AxisId("x"), size=ParameterizedSize(min=16, step=16)),
                    ],
                    test_tensor=FileDescr(source=d / "test_input.npy"),
                    sample_tensor=FileDescr(source=d / "sample_input.png"),
                    data=IntervalOrRatioDataDescr(type="float32"),
                )
            ],
            outputs=[
                OutputTensorDescr(
                    id=TensorId("output"),
                    description="the sharpened image",
                    axes=[
                        BatchAxis(),
                        ChannelAxis(channel_names=[Identifier("sharpened")]),
                        SpaceOutputAxis(
                            id=AxisId("y"),
                            size=SizeReference(tensor_id=TensorId("input"), axis_id=AxisId("y")),
                        ),
                        SpaceOutputAxis(
                            id=AxisId("x"),
                            size=SizeReference(tensor_id=TensorId("input"), axis_id=AxisId("x")),
                        ),
                    ],
                    test_tensor=FileDescr(source=d / "test_output.npy"),
                    sample_tensor=FileDescr(source=d / "sample_output.png"),
                    data=IntervalOrRatioDataDescr(type="float32"),
                )
            ],
            weights=WeightsDescr(**weights),
        )
        return _save(model, out)


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
        images = np.stack([_demo_image(32, 32, seed=s) for s in (1, 2)])
        np.save(d / "images.npy", images)
        _ = (d / "index.csv").write_text(
            "index,name,shape\n0,blobs_a,32x32\n1,blobs_b,32x32\n", encoding="utf-8"
        )
        _ = (d / "cover.png").write_bytes(_png_bytes(_side_by_side(images[0], images[1])))
        _ = (d / "README.md").write_text(
            "# Tiny Demo Dataset\n\nTwo synthetic 32x32 float32 images (`images.npy`,"
            + " shape `(2, 32, 32)`) and an index (`index.csv`).\n"
            + "Built offline by the bioimage.io collection backoffice for tests and demos.\n",
            encoding="utf-8",
        )
        dataset = DatasetDescr(
            name="Tiny Demo Dataset",
            description="Two synthetic 32x32 images, built offline for tests and demos.",
            id=None if concept_id is None else DatasetId(concept_id),
            version=Version(version),
            authors=_AUTHORS,
            maintainers=_MAINTAINERS,
            cite=_CITE,
            license=_LICENSE,
            tags=["demo", "test", "backoffice", "2d"],
            covers=[FileDescr(source=d / "cover.png")],
            documentation=FileDescr(source=d / "README.md"),
            attachments=[
                FileDescr(source=d / "images.npy"),
                FileDescr(source=d / "index.csv"),
            ],
        )
        return _save(dataset, out)


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
            _png_bytes(_side_by_side(_demo_image(64, 64, seed=3), _demo_image(64, 64, seed=4)))
        )
        _ = (d / "README.md").write_text(
            "# Tiny Demo Notebook\n\nA two-cell Jupyter notebook (`demo.ipynb`)."
            + " Built offline by the bioimage.io collection backoffice for tests and demos.\n",
            encoding="utf-8",
        )
        with ValidationContext(root=d, perform_io_checks=True):
            notebook = NotebookDescr(
                name="Tiny Demo Notebook",
                description="A two-cell Jupyter notebook, built offline for tests and demos.",
                id=None if concept_id is None else NotebookId(concept_id),
                version=Version(version),
                authors=_AUTHORS,
                maintainers=_MAINTAINERS,
                cite=_CITE,
                license=_LICENSE,
                tags=["demo", "test", "backoffice", "notebook"],
                covers=[FileDescr(source=d / "cover.png")],
                documentation=FileDescr(source=d / "README.md"),
                # `source` (a path, not a `FileDescr`) is not copied into the package by
                # spec 0.5.12, so the notebook is also an attachment; relative to the root.
                source=RelativeFilePath(Path("demo.ipynb")),
                attachments=[FileDescr(source=d / "demo.ipynb")],
            )
        return _save(notebook, out)


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


def _save(descr: ModelDescr | DatasetDescr | NotebookDescr, out: Path) -> Path:
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _ = save_bioimageio_package(descr, output_path=out)
    return out


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


def _demo_image(height: int, width: int, seed: int = 0) -> NDArray[np.float32]:
    """A deterministic image of a few gaussian blobs plus a little noise, in [0, ~1]."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    img = np.zeros((height, width), dtype=np.float32)
    for _ in range(5):
        cy, cx = rng.uniform(0, height), rng.uniform(0, width)
        sigma = rng.uniform(2.0, max(3.0, min(height, width) / 6))
        img += np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * sigma**2)).astype(np.float32)
    img += rng.normal(0, 0.05, size=img.shape).astype(np.float32)
    return img.astype(np.float32)


def _to_uint8(a: NDArray[Any]) -> NDArray[np.uint8]:
    """Scale an array linearly to 0..255."""
    a = a.astype(np.float64)
    lo, hi = float(a.min()), float(a.max())
    return ((a - lo) / (hi - lo or 1.0) * 255).astype(np.uint8)


def _side_by_side(left: NDArray[Any], right: NDArray[Any]) -> NDArray[np.uint8]:
    """Two grayscale images, each scaled to 0..255, next to each other as an RGB image."""
    gray = np.concatenate([_to_uint8(left), _to_uint8(right)], axis=1)
    rgb = np.stack([gray // 3, gray, (gray.astype(np.uint16) * 3 // 4).astype(np.uint8)], axis=-1)
    return rgb.astype(np.uint8)


def _png_bytes(image: NDArray[np.uint8]) -> bytes:
    """Encode a `(height, width)` gray or `(height, width, 3)` RGB uint8 array as PNG.

    A minimal encoder (8 bit, no filtering), so no image library is needed.
    """
    height, width = image.shape[:2]
    color_type = 2 if image.ndim == 3 else 0
    raw = b"".join(b"\x00" + np.ascontiguousarray(image[row]).tobytes() for row in range(height))

    def chunk(tag: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(tag + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


def _model_readme(
    name: str, formats: Sequence[str], wrong_output: bool, broken_import: bool
) -> str:
    notes = ""
    if wrong_output:
        notes += (
            "\n**Broken on purpose:** the stored test output is off by"
            f" {WRONG_OUTPUT_OFFSET}.\n"
        )
    if broken_import:
        notes += "\n**Broken on purpose:** the architecture file `tiny_net.py` raises on import.\n"
    return (
        f"# {name}\n\n"
        "A tiny demo model: a single 3x3 convolution (`tiny_net.py`, class `TinyNet`)"
        " with fixed weights that mildly sharpens a 2d grayscale image.\n"
        "Built offline by the bioimage.io collection backoffice for tests and demos;"
        " it is not useful for any analysis.\n\n"
        f"Weight formats: {', '.join(formats)}.\n"
        f"{notes}\n"
        "## Validation\n\n"
        "The test output is the network's output on the test input"
        " (a 1x1x64x64 float32 image of synthetic blobs).\n"
    )

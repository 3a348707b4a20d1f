"""What every demo package builder shares: the description fields common to all demo
resources, the demo images, the model's input/output tensors and the packaging step.

The descriptions contain no http(s) URLs and no GitHub user names that would need a
look-up, so validating them with io checks needs no network (see
`backoffice.bioimageio_environ`).
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from bioimageio.spec import save_bioimageio_package
from bioimageio.spec.dataset.v0_3 import DatasetDescr
from bioimageio.spec.model.v0_5 import (
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
    OutputTensorDescr,
    ParameterizedSize,
    SizeReference,
    SpaceInputAxis,
    SpaceOutputAxis,
    TensorId,
    Version,
)
from bioimageio.spec.notebook.v0_3 import NotebookDescr
from numpy.typing import NDArray
from PIL import Image

WRONG_OUTPUT_OFFSET = 1.0
"""Added to the stored test output of a `wrong_output` model."""
SLIGHTLY_OFF = (0.01, 3)
"""(offset, elements): a `slightly_off` model's stored test output has this many elements off by this much
(above bioimageio.spec's default tolerance of 1e-3 absolute + 1e-3 relative, 100 mismatched ppm)."""

KERNEL = [[0.0, -0.25, 0.0], [-0.25, 1.5, -0.25], [0.0, -0.25, 0.0]]
"""Deterministic weights of the tiny network (a mild sharpening filter)."""
BIAS = 0.1

AUTHORS = [Author(name="Demo Author", affiliation="bioimage.io collection backoffice")]
CITE = [
    CiteEntry(
        text="Ouyang et al. BioImage Model Zoo: A Community-Driven Resource for "
        + "Accessible Deep Learning in BioImage Analysis.",
        doi=Doi("10.1101/2022.06.07.495102"),
    )
]
LICENSE = LicenseId("MIT")
MAINTAINERS = [Maintainer(github_user="bioimageiobot", name="bioimageiobot")]
"""Without a maintainer (or an author with `github_user`) spec warns. GitHub user names
are looked up at api.github.com during io checks unless listed in spec's
`KNOWN_GITHUB_USERS` (bioimageiobot is), so this one needs no network."""


def common_fields(folder: Path, *, name: str, description: str, version: str | None, tags: Sequence[str]) -> dict[str, Any]:
    """Description fields every demo resource has: authors, licence, cover, documentation...
    (`version=None`: the description has none, as many exported packages.)"""
    return {
        "name": name,
        "description": description,
        "version": None if version is None else Version(version),
        "authors": AUTHORS,
        "maintainers": MAINTAINERS,
        "cite": CITE,
        "license": LICENSE,
        "tags": list(tags),
        "covers": [FileDescr(source=folder / "cover.png")],
        "documentation": FileDescr(source=folder / "README.md"),
    }


def save_package(descr: ModelDescr | DatasetDescr | NotebookDescr, out: Path) -> Path:
    """Write the package zip (`rdf.yaml` at its root; spec re-validates what it wrote)."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    _ = save_bioimageio_package(descr, output_path=out)
    return out


# -------------------------------------------------------------------------
# images
# -------------------------------------------------------------------------


def demo_image(height: int, width: int, seed: int = 0) -> NDArray[np.float32]:
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


def to_uint8(a: NDArray[Any]) -> NDArray[np.uint8]:
    """Scale an array linearly to 0..255."""
    a = a.astype(np.float64)
    lo, hi = float(a.min()), float(a.max())
    return ((a - lo) / (hi - lo or 1.0) * 255).astype(np.uint8)


def side_by_side(left: NDArray[Any], right: NDArray[Any]) -> NDArray[np.uint8]:
    """Two grayscale images, each scaled to 0..255, next to each other as an RGB image."""
    gray = np.concatenate([to_uint8(left), to_uint8(right)], axis=1)
    rgb = np.stack([gray // 3, gray, (gray.astype(np.uint16) * 3 // 4).astype(np.uint8)], axis=-1)
    return rgb.astype(np.uint8)


def png_bytes(image: NDArray[np.uint8]) -> bytes:
    """A `(height, width)` gray or `(height, width, 3)` RGB uint8 array as PNG."""
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(image)).save(buffer, format="PNG")
    return buffer.getvalue()


def write_images(folder: Path, input_2d: NDArray[Any], output_2d: NDArray[Any]) -> None:
    """The cover (input beside output) and the sample tensors, as PNG (imageio reads them)."""
    _ = (folder / "cover.png").write_bytes(png_bytes(side_by_side(input_2d, output_2d)))
    _ = (folder / "sample_input.png").write_bytes(png_bytes(to_uint8(input_2d)))
    _ = (folder / "sample_output.png").write_bytes(png_bytes(to_uint8(output_2d)))


def off_positions(shape: Sequence[int], count: int) -> list[tuple[int, ...]]:
    """Where a slightly-off test output differs: `count` positions spread over the array."""
    size = int(np.prod(shape))
    return [tuple(int(i) for i in np.unravel_index((k * 997 + 131) % size, tuple(shape))) for k in range(count)]


def write_test_tensors(folder: Path, input_array: NDArray[Any], output_array: NDArray[Any], *, wrong_output: bool,
                       slightly_off: bool = False) -> None:
    """The test input and the expected output (off by `WRONG_OUTPUT_OFFSET` when `wrong_output`;
    a few elements off by a little, `SLIGHTLY_OFF`, when `slightly_off`)."""
    np.save(folder / "test_input.npy", input_array)
    offset = WRONG_OUTPUT_OFFSET if wrong_output else 0.0
    expected = (output_array + np.float32(offset)).astype(np.float32)
    if slightly_off:
        for pos in off_positions(expected.shape, SLIGHTLY_OFF[1]):
            expected[pos] += np.float32(SLIGHTLY_OFF[0])
    np.save(folder / "test_output.npy", expected)


# -------------------------------------------------------------------------
# the tiny network's tensors
# -------------------------------------------------------------------------


def _axes(output: bool, channel: str, channels_last: bool) -> list[Any]:
    if output:
        space: list[Any] = [
            SpaceOutputAxis(id=AxisId(a), size=SizeReference(tensor_id=TensorId("input"), axis_id=AxisId(a)))
            for a in ("y", "x")
        ]
    else:
        space = [SpaceInputAxis(id=AxisId(a), size=ParameterizedSize(min=16, step=16)) for a in ("y", "x")]
    channel_axis = ChannelAxis(channel_names=[Identifier(channel)])
    return [BatchAxis(), *space, channel_axis] if channels_last else [BatchAxis(), channel_axis, *space]


def io_tensors(folder: Path, *, channels_last: bool, output_data: Any = None, output_description: str = "the sharpened image",
               ) -> tuple[list[InputTensorDescr], list[OutputTensorDescr]]:
    """The one input (`raw`) and one output (`sharpened`) of the tiny network, with the
    test and sample tensors written by `write_test_tensors` and `write_images` (the output's
    data description: float32 unless `output_data` says otherwise)."""
    inputs = [
        InputTensorDescr(
            id=TensorId("input"),
            description="a 2d grayscale image",
            axes=_axes(False, "raw", channels_last),
            test_tensor=FileDescr(source=folder / "test_input.npy"),
            sample_tensor=FileDescr(source=folder / "sample_input.png"),
            data=IntervalOrRatioDataDescr(type="float32"),
        )
    ]
    outputs = [
        OutputTensorDescr(
            id=TensorId("output"),
            description=output_description,
            axes=_axes(True, "sharpened", channels_last),
            test_tensor=FileDescr(source=folder / "test_output.npy"),
            sample_tensor=FileDescr(source=folder / "sample_output.png"),
            data=output_data if output_data is not None else IntervalOrRatioDataDescr(type="float32"),
        )
    ]
    return inputs, outputs


def model_readme(name: str, what: str, formats: Sequence[str], notes: Sequence[str]) -> str:
    """The README of a demo model."""
    broken = "".join(f"\n**Broken on purpose:** {note}\n" for note in notes)
    return (
        f"# {name}\n\n{what}\n"
        "Built offline by the bioimage.io collection backoffice for tests and demos;"
        " it is not useful for any analysis.\n\n"
        f"Weight formats: {', '.join(formats)}.\n"
        f"{broken}\n"
        "## Validation\n\n"
        "The test output is the network's output on the test input"
        " (a 64x64 float32 image of synthetic blobs).\n"
    )

"""A tiny model with an integer label output (torchscript), for the exact-match comparison.

The network is the demo's 3x3 convolution followed by two thresholds: each pixel gets the
label 0 (background), `LABELS[1]` or `LABELS[2]` (int32). Label ids are large on purpose: a
float comparison with a relative tolerance lets a label that is off by one pass
(1e-3 x 2000 = 2), an exact match does not. `off_labels` stores a test output with that
many labels off by one.

Needs the `demo` extra (torch); torch is imported lazily.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, cast

import numpy as np
from bioimageio.spec.model.v0_5 import (
    ModelDescr,
    NominalOrOrdinalDataDescr,
    TorchscriptWeightsDescr,
    Version,
    WeightsDescr,
)
from numpy.typing import NDArray

from .builder import BIAS, KERNEL, common_fields, demo_image, io_tensors, model_readme, off_positions, save_package, write_images

LABELS = (0, 1000, 2000)
"""Background and the two labels."""
THRESHOLDS = (0.4, 0.8)
"""Convolution output above the first: `LABELS[1]`; above the second: `LABELS[2]`."""


def build_label_model_package(out: Path, *, off_labels: int = 0, name: str = "Tiny Label Model", version: str = "1.0") -> Path:
    """Build the label model's package (torchscript weights); `off_labels` labels of the
    stored test output are off by one (a float comparison would not notice)."""
    import torch

    torch_any: Any = torch

    class TinyLabeler(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.conv = torch.nn.Conv2d(1, 1, kernel_size=3, padding=1)

        def forward(self, x: Any) -> Any:
            y = self.conv(x)
            low = torch_any.where(y > THRESHOLDS[0], LABELS[1], LABELS[0])
            return torch_any.where(y > THRESHOLDS[1], LABELS[2], low).to(torch_any.int32)

    with tempfile.TemporaryDirectory(prefix="demo_label_model_") as tmp:
        d = Path(tmp)
        net = TinyLabeler()
        with torch.no_grad():
            conv = net.conv
            _ = conv.weight.copy_(torch.tensor(KERNEL).reshape(1, 1, 3, 3))
            assert conv.bias is not None
            _ = conv.bias.fill_(BIAS)
        _ = net.eval()
        input_array = demo_image(64, 64)[None, None]
        example = torch_any.from_numpy(input_array)
        with torch.no_grad():
            labels = cast(NDArray[np.int32], net(example).numpy())
            traced: Any = torch_any.jit.trace(net, example)
        traced.save(str(d / "weights_torchscript.pt"))
        expected: NDArray[np.int32] = np.array(labels, dtype=np.int32)
        foreground = [p for p in off_positions(labels.shape, labels.size) if labels[p] == LABELS[2]][:off_labels]
        if len(foreground) < off_labels:
            raise ValueError(f"the test image has only {len(foreground)} pixels labelled {LABELS[2]}")
        for pos in foreground:
            expected[pos] += 1
        np.save(d / "test_input.npy", input_array)
        np.save(d / "test_output.npy", expected)
        write_images(d, input_array[0, 0], labels[0, 0])
        notes = [f"{off_labels} labels of the stored test output are off by one."] if off_labels else []
        what = (f"A tiny demo label model: a 3x3 convolution and two thresholds give each pixel the label"
                f" {LABELS[0]}, {LABELS[1]} or {LABELS[2]} (int32).")
        _ = (d / "README.md").write_text(model_readme(name, what, ["torchscript"], notes), encoding="utf-8")
        data = NominalOrOrdinalDataDescr(values=list(LABELS), type="int32")
        inputs, outputs = io_tensors(d, channels_last=False, output_data=data, output_description="labels (0: background)")
        model = ModelDescr(
            **common_fields(
                d, name=name, version=version,
                description="A tiny label model built offline by the bioimage.io collection backoffice (tests and demos only).",
                tags=["demo", "test", "backoffice", "2d", "segmentation"],
            ),
            inputs=inputs,
            outputs=outputs,
            weights=WeightsDescr(torchscript=TorchscriptWeightsDescr(
                source=d / "weights_torchscript.pt", pytorch_version=Version(torch.__version__.split("+")[0]))),
        )
        return save_package(model, out)

"""Weight formats as data: which framework runs each, and how it is tested."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class WeightFormat:
    """What the backoffice knows about one weight format."""

    name: str
    framework: str
    """Framework whose version the description gives (`pytorch`, `onnx`, `tensorflow`)."""
    dynamic: bool
    """Whether bioimageio.core can run it (else static validation only)."""


WEIGHT_FORMATS: dict[str, WeightFormat] = {
    wf.name: wf
    for wf in (
        WeightFormat("pytorch_state_dict", "pytorch", True),
        WeightFormat("torchscript", "pytorch", True),
        WeightFormat("onnx", "onnx", True),
        WeightFormat("tensorflow_saved_model_bundle", "tensorflow", True),
        WeightFormat("keras_hdf5", "tensorflow", True),
        WeightFormat("tensorflow_js", "tensorflow", False),
    )
}

"""Weight formats and the frameworks that run them, as data (the bottom layer: imports nothing of the backoffice)."""

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


@dataclass(frozen=True)
class Framework:
    """What a test environment needs to know about one framework."""

    name: str
    version_field: str
    """Field of a weights entry naming the framework version (or ONNX opset) it was made with."""
    conda_package: str
    """Package the environment template pins at the supported release."""
    module: str
    """Module imported to check a freshly built environment."""
    packages: frozenset[str]
    """Names under which a description's own environment file may list the framework
    (conda-forge and PyPI, CPU and GPU builds); the template's pin replaces them."""


FRAMEWORKS: dict[str, Framework] = {
    fw.name: fw
    for fw in (
        Framework("pytorch", "pytorch_version", "pytorch", "torch",
                  frozenset({"pytorch", "torch", "pytorch-cpu", "pytorch-gpu", "cpuonly", "pytorch-cuda", "pytorch-mutex"})),
        Framework("tensorflow", "tensorflow_version", "tensorflow", "tensorflow",
                  frozenset({"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-base"})),
        Framework("onnx", "opset_version", "onnxruntime", "onnxruntime", frozenset({"onnxruntime", "onnxruntime-gpu"})),
    )
}
"""Every framework of `WEIGHT_FORMATS`, by name."""

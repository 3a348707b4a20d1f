"""Weight formats and the frameworks that run them, as data (the bottom layer: imports nothing of the backoffice).

Every fact about a weight format is on its `WeightFormat` row, every fact about a framework
on its `Framework` row: a new format is one row (the weight scan, the scan's report, the
test environments and `docs/weight_formats.md` read the rows).
"""

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
    pickles: bool
    """Whether its loader unpickles: its weights are scanned whatever their name or first bytes."""
    notes: str
    """Whether it can carry code and what the weight safety scan does about it (shown in the scan's report)."""


WEIGHT_FORMATS: dict[str, WeightFormat] = {
    wf.name: wf
    for wf in (
        WeightFormat("pytorch_state_dict", "pytorch", True, True,
                     "pickles (torch.save zip): can run code when loaded; scanned."
                     " Its architecture is Python source that runs by design: read it."),
        WeightFormat("torchscript", "pytorch", True, True,
                     "zip of pickles and TorchScript code: the pickles are scanned; TorchScript runs in"
                     " PyTorch's own interpreter, not as Python."),
        WeightFormat("onnx", "onnx", True, False, "protobuf graph of ONNX operators: cannot carry Python code."),
        WeightFormat("tensorflow_saved_model_bundle", "tensorflow", True, False,
                     "protobuf graph and variables: cannot carry Python code"
                     " (graph operators only); pickles inside the zip, if any, are scanned."),
        WeightFormat("keras_hdf5", "tensorflow", True, False,
                     "HDF5 (or .keras zip): no pickles; a Lambda layer may hold marshalled Python bytecode,"
                     " which this scan does not read."),
        WeightFormat("tensorflow_js", "tensorflow", False, False, "JSON graph and binary weights: cannot carry Python code."),
    )
}

UNKNOWN_FORMAT_NOTE = "unknown weight format: not judged"
"""The scan report's note on a weight format that has no row."""


@dataclass(frozen=True)
class Release:
    """One supported framework release."""

    version: str
    """Version pinned in the environment file (conda-forge and, for `venv`, PyPI)."""
    python: str = "3.11"
    """Python version of the environment."""
    conda_extras: tuple[str, ...] = ()
    """Further conda dependencies this release needs (conda match specs)."""


@dataclass(frozen=True)
class OpsetRange:
    """ONNX opsets one onnxruntime release runs (onnxruntime reads every opset back to 7)."""

    lowest: int
    highest: int
    release: Release


# PyTorch (conda-forge `pytorch`, PyPI `torch`): the newest patch of each minor release.
# Before 2.4 torch and torchvision were built against numpy 1.
PYTORCH: tuple[Release, ...] = (
    Release("1.13.1", "3.10", ("numpy <2",)),
    Release("2.0.1", "3.11", ("numpy <2",)),
    Release("2.1.2", "3.11", ("numpy <2",)),
    Release("2.2.2", "3.11", ("numpy <2",)),
    Release("2.3.1", "3.11", ("numpy <2",)),
    Release("2.4.1"),
    Release("2.5.1"),
    Release("2.6.0"),
    Release("2.7.1"),
    Release("2.8.0"),
    Release("2.9.1"),
    Release("2.10.0"),
    Release("2.11.0"),
    Release("2.12.1"),
    Release("2.13.0"),
    Release("2.14.1"),
    Release("2.15.0"),
)

# TensorFlow (conda-forge `tensorflow`, PyPI `tensorflow-cpu`). TensorFlow 1 needs
# Python 3.7, which the pinned bioimageio.core does not support: 1.x maps to the
# oldest 2.x with a warning. Before 2.18 TensorFlow was built against numpy 1;
# from 2.16 on it ships keras 3.
TENSORFLOW: tuple[Release, ...] = (
    Release("2.12.1", "3.11", ("numpy <2",)),
    Release("2.13.1", "3.11", ("numpy <2",)),
    Release("2.14.1", "3.11", ("numpy <2",)),
    Release("2.15.1", "3.11", ("numpy <2",)),
    Release("2.16.2", "3.11", ("numpy <2",)),
    Release("2.17.1", "3.11", ("numpy <2",)),
    Release("2.18.1"),
    Release("2.19.1"),
    Release("2.20.0"),
    Release("2.21.0"),
)

# ONNX: the opset decides the onnxruntime release. 1.31.1 was checked here to load
# opsets 7..26 (27 is refused).
ONNX_OPSETS: tuple[OpsetRange, ...] = (OpsetRange(7, 26, Release("1.31.1")),)


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
    releases: tuple[Release, ...] = ()
    """Supported releases, oldest first, when `version_field` is a version of the framework itself."""
    opsets: tuple[OpsetRange, ...] = ()
    """Else: the opset ranges `version_field` names, and the release that runs each."""


FRAMEWORKS: dict[str, Framework] = {
    fw.name: fw
    for fw in (
        Framework("pytorch", "pytorch_version", "pytorch", "torch",
                  frozenset({"pytorch", "torch", "pytorch-cpu", "pytorch-gpu", "cpuonly", "pytorch-cuda", "pytorch-mutex"}),
                  releases=PYTORCH),
        Framework("tensorflow", "tensorflow_version", "tensorflow", "tensorflow",
                  frozenset({"tensorflow", "tensorflow-cpu", "tensorflow-gpu", "tensorflow-base"}), releases=TENSORFLOW),
        Framework("onnx", "opset_version", "onnxruntime", "onnxruntime", frozenset({"onnxruntime", "onnxruntime-gpu"}),
                  opsets=ONNX_OPSETS),
    )
}
"""Every framework of `WEIGHT_FORMATS`, by name."""


def pickle_formats() -> frozenset[str]:
    """The weight formats whose weights are scanned whatever their name or first bytes."""
    return frozenset(name for name, wf in WEIGHT_FORMATS.items() if wf.pickles)


def format_note(name: str) -> str:
    """What the scan's report says of a weight format."""
    wf = WEIGHT_FORMATS.get(name)
    return wf.notes if wf is not None else UNKNOWN_FORMAT_NOTE

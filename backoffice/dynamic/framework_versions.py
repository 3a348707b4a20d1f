"""Framework versions the test environments support, as data.

A description names the framework version its weights were made with
(`pytorch_version`, `tensorflow_version`, or an ONNX `opset_version`).
`nearest_release` maps it to a release listed here; a version that is not
listed (or not a version at all) maps to the nearest listed one with a warning
that the test step logs — never an error.

To support a new release, add a row. Each row gives the version pinned in the
rendered environment file, the Python it runs with, and the extra conda
dependencies that release needs.
"""

from __future__ import annotations

from dataclasses import dataclass

from packaging.version import InvalidVersion, Version

from ..weight_formats import FRAMEWORKS


@dataclass(frozen=True)
class Release:
    """One supported framework release."""

    version: str
    """Version pinned in the environment file (conda-forge and, for `venv`, PyPI)."""
    python: str = "3.11"
    """Python version of the environment."""
    conda_extras: tuple[str, ...] = ()
    """Further conda dependencies this release needs (conda match specs)."""


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


@dataclass(frozen=True)
class OpsetRange:
    """ONNX opsets one onnxruntime release runs (onnxruntime reads every opset back to 7)."""

    lowest: int
    highest: int
    release: Release


# ONNX: the opset decides the onnxruntime release. 1.31.1 was checked here to load
# opsets 7..26 (27 is refused).
ONNX_OPSETS: tuple[OpsetRange, ...] = (OpsetRange(7, 26, Release("1.31.1")),)

VERSIONED: dict[str, tuple[Release, ...]] = {"pytorch": PYTORCH, "tensorflow": TENSORFLOW}
"""Releases of the frameworks (of `weight_formats.FRAMEWORKS`) whose description field is a
version of the framework itself; `onnx` gives an opset instead (`ONNX_OPSETS`)."""


def _release_tuple(v: Version, length: int = 3) -> tuple[int, ...]:
    return (v.release + (0,) * length)[:length]


def _nearest_release(framework: str, releases: tuple[Release, ...], wanted: str) -> tuple[Release, str | None]:
    newest = releases[-1]
    try:
        w = Version(str(wanted).strip())
    except InvalidVersion:
        return newest, f"{framework} version '{wanted}' is not a version; using the newest supported {newest.version}"
    w = Version(w.public)  # `2.13.0+cpu` is 2.13.0
    parsed = [(Version(r.version), r) for r in releases]
    exact = [r for v, r in parsed if v == w]
    if exact:
        return exact[0], None
    if len(w.release) < 3:  # `2.13` means the newest 2.13.x
        same = [r for v, r in parsed if v.release[: len(w.release)] == w.release]
        if same:
            return same[-1], None
    below = [(v, r) for v, r in parsed if v < w]
    above = [(v, r) for v, r in parsed if v > w]
    near = [x for x in (below[-1] if below else None, above[0] if above else None) if x is not None]
    wt = _release_tuple(w)

    def closeness(item: tuple[Version, Release]) -> tuple[int, int, int]:
        t = _release_tuple(item[0])
        # same minor first, then same major, then prefer the newer one
        return (t[:2] != wt[:2], t[0] != wt[0], item[0] < w)

    _, chosen = min(near, key=closeness)
    return chosen, (
        f"{framework} {wanted} is not a supported version; using the nearest supported {chosen.version}"
        + f" (supported: {releases[0].version} to {newest.version})"
    )


def _nearest_opset(wanted: str) -> tuple[Release, str | None]:
    newest = ONNX_OPSETS[-1]
    try:
        opset = int(str(wanted).strip())
    except ValueError:
        return newest.release, f"onnx opset '{wanted}' is not a number; using onnxruntime {newest.release.version}"
    for rng in ONNX_OPSETS:
        if rng.lowest <= opset <= rng.highest:
            return rng.release, None
    chosen = min(ONNX_OPSETS, key=lambda r: min(abs(opset - r.lowest), abs(opset - r.highest)))
    return chosen.release, (
        f"onnx opset {opset} is outside the supported opsets {ONNX_OPSETS[0].lowest} to {newest.highest};"
        + f" using onnxruntime {chosen.release.version}, which runs opsets {chosen.lowest} to {chosen.highest}"
    )


def nearest_release(framework: str, wanted: str | int | None) -> tuple[Release, str | None]:
    """The supported release for `wanted` (a framework version, or an opset for `onnx`),
    and a warning when it is not what was asked for."""
    if framework not in FRAMEWORKS:  # the frameworks are listed once, in weight_formats
        raise ValueError(f"unknown framework '{framework}' (known: {', '.join(FRAMEWORKS)})")
    if framework == "onnx":
        if wanted is None:
            newest = ONNX_OPSETS[-1].release
            return newest, f"the description gives no onnx opset_version; using onnxruntime {newest.version}"
        return _nearest_opset(str(wanted))
    releases = VERSIONED[framework]
    if wanted is None:
        return releases[-1], (
            f"the description gives no {framework} version; using the newest supported {releases[-1].version}"
        )
    return _nearest_release(framework, releases, str(wanted))

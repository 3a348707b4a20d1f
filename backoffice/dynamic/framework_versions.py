"""Framework versions the test environments support: the nearest listed release.

A description names the framework version its weights were made with
(`pytorch_version`, `tensorflow_version`, or an ONNX `opset_version`).
`nearest_release` maps it to a release of the framework's row (`weight_formats.FRAMEWORKS`:
its `releases`, or its `opsets`); a version that is not listed (or not a version at all)
maps to the nearest listed one with a warning that the test step logs — never an error.

To support a new release, add it to the framework's row in `backoffice/weight_formats.py`.
"""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from ..weight_formats import FRAMEWORKS, OpsetRange, Release


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


def _nearest_opset(opsets: tuple[OpsetRange, ...], wanted: str) -> tuple[Release, str | None]:
    newest = opsets[-1]
    try:
        opset = int(str(wanted).strip())
    except ValueError:
        return newest.release, f"onnx opset '{wanted}' is not a number; using onnxruntime {newest.release.version}"
    for rng in opsets:
        if rng.lowest <= opset <= rng.highest:
            return rng.release, None
    chosen = min(opsets, key=lambda r: min(abs(opset - r.lowest), abs(opset - r.highest)))
    return chosen.release, (
        f"onnx opset {opset} is outside the supported opsets {opsets[0].lowest} to {newest.highest};"
        + f" using onnxruntime {chosen.release.version}, which runs opsets {chosen.lowest} to {chosen.highest}"
    )


def nearest_release(framework: str, wanted: str | int | None) -> tuple[Release, str | None]:
    """The supported release for `wanted` (a framework version, or an opset for `onnx`),
    and a warning when it is not what was asked for."""
    fw = FRAMEWORKS.get(framework)  # the frameworks are listed once, in weight_formats
    if fw is None:
        raise ValueError(f"unknown framework '{framework}' (known: {', '.join(FRAMEWORKS)})")
    if fw.opsets:
        if wanted is None:
            newest = fw.opsets[-1].release
            return newest, f"the description gives no {framework} {fw.version_field}; using {fw.conda_package} {newest.version}"
        return _nearest_opset(fw.opsets, str(wanted))
    releases = fw.releases
    if wanted is None:
        return releases[-1], (
            f"the description gives no {framework} version; using the newest supported {releases[-1].version}"
        )
    return _nearest_release(framework, releases, str(wanted))

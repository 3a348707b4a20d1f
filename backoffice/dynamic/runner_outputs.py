"""The figures of a reproduction check and the kept outputs, computed next to the test.

Imported by `runner.py` inside the test environment (as a sibling file: it imports
nothing from the backoffice, only numpy and, in `collect`, bioimageio.core). It does not
run inference: bioimageio.core's test saves the outputs it produced (`actual_output_<tensor>_<weight
format>.npy` in its working folder); here they are compared with the expected test
outputs to say by how much they differ, and copied (size-capped) for the reviewer.

Float outputs are compared with the tolerance bioimageio.core used (its own
`_get_tolerance`); integer outputs (label images) by exact match.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

import numpy as np

REL_EPS = 1e-6
"""Added to |expected| in the relative error (as bioimageio.core does)."""
MAX_KEPT_BYTES = 1024 * 1024
"""Largest output kept (bytes of the array); a larger one is center-cropped to fit."""
MAX_KEPT_OUTPUTS = 8
"""Most outputs kept per test."""
INTEGER_TYPES = ("int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64", "bool")


def _float(value: Any) -> float | None:
    """JSON has no infinity: a non-finite figure is None."""
    return float(value) if np.isfinite(value) else None


def compare(actual: Any, expected: Any, *, rtol: float, atol: float, mismatched_tol: float, integer: bool) -> dict[str, Any]:
    """How far `actual` is from `expected` (same shape): errors, mismatched ppm, and for
    integer outputs the exact-match fraction (then a mismatch is any difference)."""
    a = np.asarray(actual)
    e = np.asarray(expected)
    figures: dict[str, Any] = {"integer": integer, "elements": int(e.size), "shape": list(e.shape), "dtype": str(a.dtype)}
    if a.shape != e.shape:
        figures.update(shape_mismatch=[list(a.shape), list(e.shape)], reproduces=False)
        return figures
    diff = np.abs(a.astype(np.float64) - e.astype(np.float64))
    rel = diff / (np.abs(e.astype(np.float64)) + REL_EPS)
    if integer:
        mismatched = a != e
        figures["tolerance"] = {"exact_match": True}
        figures["exact_match_fraction"] = float(1.0 - mismatched.sum() / max(e.size, 1))
    else:
        mismatched = diff > atol + rtol * np.abs(e.astype(np.float64))
        figures["tolerance"] = {"relative": rtol, "absolute": atol, "mismatched_elements_per_million": mismatched_tol}
    count = int(mismatched.sum())
    ppm = count / max(e.size, 1) * 1e6
    figures.update(
        max_abs_error=_float(diff.max()) if diff.size else 0.0,
        max_rel_error=_float(rel.max()) if rel.size else 0.0,
        mismatched_elements=count,
        mismatched_ppm=round(ppm, 3),
        reproduces=count == 0 if integer else ppm <= mismatched_tol,
    )
    return figures


def crop_to_fit(array: Any, max_bytes: int = MAX_KEPT_BYTES) -> tuple[Any, list[list[int]] | None]:
    """`array`, or its center crop (halving the longest axis until it fits) and the crop's [start, stop] per axis."""
    a = np.asarray(array)
    box = [[0, n] for n in a.shape]
    while int(np.prod([stop - start for start, stop in box], dtype=np.int64)) * a.itemsize > max_bytes:
        longest = max(range(len(box)), key=lambda i: box[i][1] - box[i][0])
        start, stop = box[longest]
        if stop - start <= 1:
            break
        keep = (stop - start) // 2
        offset = start + (stop - start - keep) // 2
        box[longest] = [offset, offset + keep]
    if all(b == [0, n] for b, n in zip(box, a.shape)):
        return a, None
    return np.ascontiguousarray(a[tuple(slice(s, t) for s, t in box)]), box


def keep(array: Any, path: Path, max_bytes: int = MAX_KEPT_BYTES) -> dict[str, Any]:
    """Save `array` (cropped to fit `max_bytes`) as `.npy` at `path`; what was kept."""
    kept, crop = crop_to_fit(array, max_bytes)
    if kept.dtype.kind not in "biuf":
        kept = kept.astype(np.float32)
    np.save(path, kept, allow_pickle=False)
    full: Any = np.asarray(array).shape
    return {"file": path.name, "shape": list(kept.shape), "dtype": str(kept.dtype), "full_shape": list(full), "crop": crop}


def _declared_integer(descr: Any) -> bool | None:
    data: Any = getattr(descr, "data", None)
    items: list[Any] = list(data) if isinstance(data, (list, tuple)) else [data]  # pyright: ignore[reportUnknownArgumentType]
    types = [getattr(d, "type", None) for d in items]
    types = [t for t in types if isinstance(t, str)] or ([descr.data_type] if isinstance(getattr(descr, "data_type", None), str) else [])
    return all(t in INTEGER_TYPES for t in types) if types else None


def tolerance(model: Any, weight_format: str, member: str, deprecated: dict[str, Any]) -> tuple[float, float, float]:
    """(relative, absolute, mismatched elements per million) tolerance of one output, as
    bioimageio.core's test judges reproduction: a 0.5 description's first
    `config.bioimageio.reproducibility_tolerance` entry that names this weight format and
    output (or none), else its legacy `test_kwargs` of this format, else the spec's defaults;
    a 0.4 description: the test's (deprecated) `decimal`, or its tolerances (default 1e-3)."""
    from bioimageio.spec.model import v0_5

    if isinstance(model, v0_5.ModelDescr):
        chosen = v0_5.ReproducibilityTolerance()
        extra: Any = model.config.bioimageio.model_extra or {}
        legacy: Any = extra.get("test_kwargs", {})
        found: Any = cast(dict[str, Any], legacy).get(weight_format) if isinstance(legacy, dict) else None
        if isinstance(found, dict):
            kw = cast(dict[str, Any], found)
            chosen = v0_5.ReproducibilityTolerance(relative_tolerance=kw.get("relative_tolerance", 1e-3),
                                                   absolute_tolerance=kw.get("absolute_tolerance", 1e-3))
        for entry in model.config.bioimageio.reproducibility_tolerance:
            if (not entry.weights_formats or weight_format in entry.weights_formats) and (
                    not entry.output_ids or member in entry.output_ids):
                chosen = entry
                break
        return chosen.relative_tolerance, chosen.absolute_tolerance, chosen.mismatched_elements_per_million
    if deprecated.get("decimal") is not None:
        return 0.0, 1.5 * 10 ** (-deprecated["decimal"]), 0.0
    return deprecated.get("relative_tolerance", 1e-3), deprecated.get("absolute_tolerance", 1e-3), 0.0


def collect(rdf: str, weight_format: str, kwargs: dict[str, Any], produced_dir: Path, keep_dir: Path, *,
            keep_all: bool) -> dict[str, Any]:
    """Per output tensor: the figures (from what bioimageio.core produced in `produced_dir`)
    and, where it does not reproduce (or `keep_all`), the kept output in `keep_dir`."""
    from bioimageio.core.digest_spec import get_test_output_sample
    from bioimageio.spec import load_model_description

    model: Any = load_model_description(rdf, perform_io_checks=False)
    expected: Any = get_test_output_sample(model)
    deprecated = {k: kwargs[k] for k in ("absolute_tolerance", "relative_tolerance", "decimal") if k in kwargs}
    out: dict[str, Any] = {}
    for descr in model.outputs:
        member = str(getattr(descr, "id", None) or getattr(descr, "name", ""))
        produced = produced_dir / f"actual_output_{member}_{weight_format}.npy"
        if member not in expected.members or not produced.is_file():
            continue
        actual = np.load(produced, allow_pickle=False)
        wanted: Any = expected.members[member].data.to_numpy()
        integer = _declared_integer(descr)
        if integer is None:
            integer = wanted.dtype.kind in "biu"
        rtol, atol, mtol = tolerance(model, weight_format, member, deprecated)
        figures = compare(actual, wanted, rtol=float(rtol), atol=float(atol), mismatched_tol=float(mtol), integer=integer)
        if (keep_all or not figures.get("reproduces")) and len([f for f in out.values() if "kept" in f]) < MAX_KEPT_OUTPUTS:
            keep_dir.mkdir(parents=True, exist_ok=True)
            figures["kept"] = keep(actual, keep_dir / f"{_safe(member)}.npy")
        out[member] = figures
    return out


def _safe(name: str) -> str:
    cleaned = "".join(c if c.isalnum() or c in "_-" else "_" for c in name)[:64]
    return cleaned or "output"

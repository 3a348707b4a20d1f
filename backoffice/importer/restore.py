"""Undo what a JSON round trip did to an rdf (pure).

The running collection's `summary.json` holds each rdf as JSON (`rdf_content`). JSON has no
infinities: the running collection wrote them as `null`. Where the spec needs a number
(bioimageio.spec 0.5.12's models, format 0.4: a tensor's `data_range` is a pair of floats
that may be infinite, and `clip`'s `min` and `max` are floats), a `null` can only have been
an infinity, and its position says which: the first of `[min, max]` or `min` is `-inf`, the
second or `max` is `inf`. Format 0.5 allows `null` there itself (`data.range: [null, null]`
is "unbounded"), so 0.5 rdfs are left as they are.

What else a YAML -> JSON trip changes, and why it is not undone here: YAML timestamps became
ISO strings (the spec reads both), non-string mapping keys became strings (no rdf field
has such keys), `nan` became `null` too (no spec field takes `nan`; none seen in the running
collection). The exact file, where its host answers, is always preferred (`legacy.rdf_exact`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from ..resource_types import has_weights

INF = math.inf


@dataclass(frozen=True)
class NumberField:
    """A field where the spec needs a number: where it sits and what a `null` there was."""

    tensors: tuple[str, ...]
    """Which tensor lists hold it."""
    path: tuple[str, ...]
    """Path from one tensor to the field (a processing step's kwargs: `*` for every step of the list)."""
    values: tuple[float, ...] | float
    """What `null` was: per position of a `[min, max]` pair, or one value."""
    where: str
    """The spec's field, for the docs and notes."""


FORMAT_04_NUMBERS: tuple[NumberField, ...] = (
    NumberField(("inputs", "outputs"), ("data_range",), (-INF, INF), "v0_4 InputTensorDescr/OutputTensorDescr.data_range"),
    NumberField(("inputs",), ("preprocessing", "*", "kwargs", "min"), -INF, "v0_4 ClipKwargs.min"),
    NumberField(("inputs",), ("preprocessing", "*", "kwargs", "max"), INF, "v0_4 ClipKwargs.max"),
    NumberField(("outputs",), ("postprocessing", "*", "kwargs", "min"), -INF, "v0_4 ClipKwargs.min"),
    NumberField(("outputs",), ("postprocessing", "*", "kwargs", "max"), INF, "v0_4 ClipKwargs.max"),
)
"""Every number field of a format-0.4 model rdf that JSON could have turned into `null`."""


def _is_04_model(content: dict[str, Any]) -> bool:
    rtype = content.get("type")  # resources with weights are the ones with tensor descriptions (resource_types)
    return isinstance(rtype, str) and has_weights(rtype) and str(content.get("format_version", "")).startswith("0.4")


def _visit(node: Any, path: tuple[str, ...], label: str, restore: Callable[[Any, str], Any]) -> Any:
    """`node` with the value at `path` replaced by `restore(value, label)`."""
    if not path:
        return restore(node, label)
    head, rest = path[0], path[1:]
    if head == "*":
        if not isinstance(node, list):
            return node
        return [_visit(x, rest, f"{label}[{i}]", restore) for i, x in enumerate(cast(list[Any], node))]
    if not isinstance(node, dict) or head not in node:
        return cast(Any, node)
    out: dict[str, Any] = dict(cast(dict[str, Any], node))
    out[head] = _visit(out[head], rest, f"{label}.{head}", restore)
    return out


def restore_json_losses(content: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """(the rdf with its infinities back, one line per value restored: `inputs[0].data_range[0]: -inf`)."""
    if not _is_04_model(content):
        return content, []
    notes: list[str] = []

    def restore_for(values: tuple[float, ...] | float) -> Callable[[Any, str], Any]:
        def restore(value: Any, label: str) -> Any:
            if isinstance(values, tuple):
                if not isinstance(value, list) or len(cast(list[Any], value)) != len(values):
                    return cast(Any, value)
                out: list[Any] = list(cast(list[Any], value))
                for i, v in enumerate(out):
                    if v is None:
                        out[i] = values[i]
                        notes.append(f"{label}[{i}]: {values[i]}")
                return out
            if value is None:
                notes.append(f"{label}: {values}")
                return values
            return value
        return restore

    out = dict(content)
    for f in FORMAT_04_NUMBERS:
        for tensors in f.tensors:
            listed = out.get(tensors)
            if isinstance(listed, list):
                out[tensors] = [_visit(t, f.path, f"{tensors}[{i}]", restore_for(f.values)) for i, t in enumerate(listed)]  # pyright: ignore[reportUnknownArgumentType, reportUnknownVariableType]
    return out, notes

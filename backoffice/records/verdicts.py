"""Two verdicts per weight format, read from bioimageio.core's own checks: *runs* (the
weights load and infer on the test inputs) and *reproduces* (the outputs match the
expected ones within the declared tolerance; integer outputs by exact match).

bioimageio.core 0.11's test of a weight format holds the check `Reproduce test outputs
from test inputs (<wf>)` (an exception while loading or predicting is an error *with a
traceback*; a comparison that fails is one without) and `Run <wf> inference for ...`
(predictions on the test inputs resized to other valid sizes). The figures of a failed
reproduction (errors, mismatched ppm, exact-match fraction) come from the test's child
process (`dynamic/runner_outputs.py`), checked here by the models below. Pure.

Outcome: `passed` (runs and reproduces), `warning` (runs, does not reproduce: not a
broken model, see docs/compatibility.md) or `failed` (does not run).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field, ValidationError

REPRODUCE_CHECK = "Reproduce test outputs from test inputs"
"""Name (prefix) of bioimageio.core's check that runs the test inputs and compares the outputs."""
INFERENCE_CHECK = "Run {weight_format} inference"
"""Name (prefix) of bioimageio.core's checks that run resized test inputs."""
MAX_KEPT_FILE_BYTES = 1024 * 1024 + 4096
"""Largest kept output file (the array is capped at 1 MiB; the `.npy` header adds a little)."""
MAX_KEPT_OUTPUTS = 8

Outcome = Literal["passed", "warning", "failed"]


class _Checked(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class KeptOutput(_Checked):
    """A produced output kept next to the report (`.npy`, center-cropped to the size cap)."""

    file: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}\.npy$")
    """File name (the output tensor's id)."""
    shape: list[int] = Field(max_length=16)
    """Shape of the kept array."""
    dtype: str = Field(pattern=r"^(bool|u?int(8|16|32|64)|float(16|32|64))$")
    """Its numpy dtype."""
    full_shape: list[int] = Field(max_length=16)
    """Shape of the produced output."""
    crop: list[list[int]] | None = Field(default=None, max_length=16)
    """[start, stop] per axis of the kept part (None: kept whole)."""
    key: str | None = Field(default=None, max_length=1000)
    """Where it is stored, relative to the reports folder (set when stored)."""


class OutputFigures(_Checked):
    """How one produced output compares with the expected test output."""

    integer: bool
    """Integer output (labels): compared by exact match."""
    elements: int = Field(ge=0)
    shape: list[int] = Field(max_length=16)
    """Shape of the expected output."""
    dtype: str = Field(max_length=32)
    """dtype of the produced output."""
    tolerance: dict[str, float | bool] | None = None
    """The tolerance used: `relative`, `absolute`, `mismatched_elements_per_million`; or `exact_match`."""
    max_abs_error: float | None = None
    """Largest absolute difference."""
    max_rel_error: float | None = None
    """Largest difference relative to |expected| (+1e-6)."""
    mismatched_elements: int | None = Field(default=None, ge=0)
    """Elements outside the tolerance (integer outputs: that differ)."""
    mismatched_ppm: float | None = Field(default=None, ge=0)
    """Mismatched elements per million."""
    exact_match_fraction: float | None = Field(default=None, ge=0, le=1)
    """Integer outputs: the share of elements equal to the expected ones."""
    reproduces: bool
    """Within the tolerance (integer outputs: all equal)."""
    shape_mismatch: list[list[int]] | None = None
    """[produced shape, expected shape] if they differ."""
    kept: KeptOutput | None = None
    """The produced output, kept when it does not reproduce."""


class Hardware(_Checked):
    """What a test ran on (from the test's own process)."""

    label: str = Field(max_length=200)
    """`GPU: <name>` when a GPU was used, else `CPU: <model>`."""
    device: str = Field(default="", max_length=200)
    cpu: str = Field(default="", max_length=200)
    gpu: str | None = Field(default=None, max_length=200)
    machine: str = Field(default="", max_length=50)
    system: str = Field(default="", max_length=50)


class Verdict(_Checked):
    """Both verdicts of one weight format's test."""

    runs: bool | None
    """Loads and infers on the test inputs (None: the test did not get that far)."""
    reproduces: bool | None
    """The outputs match the expected ones (None: not known, it did not run)."""
    outcome: Outcome
    reason: str | None = None
    """Why it does not run or does not reproduce."""
    hardware: str | None = None
    """Hardware label (see `Hardware`)."""
    outputs: dict[str, OutputFigures] = Field(default_factory=dict[str, OutputFigures])
    """Per output tensor: the comparison figures."""
    figures_error: str | None = None
    """Why the figures could not be computed (the verdict then rests on bioimageio.core's check alone)."""


def _details(summary: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw: Any = summary.get("details")
    return [cast(dict[str, Any], d) for d in cast(list[Any], raw) if isinstance(d, dict)] if isinstance(raw, list) else []


def _errors(detail: Mapping[str, Any]) -> list[dict[str, Any]]:
    raw: Any = detail.get("errors")
    return [cast(dict[str, Any], e) for e in cast(list[Any], raw) if isinstance(e, dict)] if isinstance(raw, list) else []


def _has_traceback(error: Mapping[str, Any]) -> bool:
    return bool(error.get("with_traceback") or error.get("traceback_md") or error.get("traceback"))


def _first_msg(detail: Mapping[str, Any]) -> str:
    for e in _errors(detail):
        msg = str(e.get("msg") or "").strip()
        if msg:
            return f"{detail.get('name', '')}: {msg.splitlines()[0]}"
    return f"{detail.get('name', '')}: failed"


def parse_figures(raw: Any) -> tuple[dict[str, OutputFigures], str | None]:
    """The runner's figures (`summary["reproduction"]`), checked; (figures, why none)."""
    if raw is None:
        return {}, None
    if not isinstance(raw, dict):
        return {}, "the reproduction figures are not an object"
    data = cast(dict[str, Any], raw)
    if "error" in data and isinstance(data["error"], str):
        return {}, data["error"][:1000]
    if len(data) > 64:
        return {}, "too many outputs in the reproduction figures"
    try:
        return {str(k): OutputFigures.model_validate(v) for k, v in data.items()}, None
    except ValidationError as e:
        return {}, f"the reproduction figures are malformed: {e.errors()[0]['msg']}"


def hardware_of(summary: Mapping[str, Any]) -> Hardware | None:
    raw: Any = summary.get("hardware")
    if isinstance(raw, dict):
        try:
            return Hardware.model_validate(raw)
        except ValidationError:
            return None
    device: Any = summary.get("device")
    return Hardware(label=str(device)[:200], device=str(device)[:200]) if isinstance(device, str) and device else None


def _num(value: float | None, digits: int = 3) -> str:
    if value is None or not math.isfinite(value):
        return "n/a"
    return f"{value:.{digits}g}"


def describe_output(name: str, f: OutputFigures) -> str:
    """One line a person can act on: how far an output is from the expected one."""
    if f.shape_mismatch:
        return f"output '{name}': shape {f.shape_mismatch[0]} instead of {f.shape_mismatch[1]}"
    mism = f"{f.mismatched_elements} of {f.elements} elements ({_num(f.mismatched_ppm, 4)} ppm)"
    if f.integer:
        return (f"output '{name}' (integer, compared by exact match): exact-match fraction {_num(f.exact_match_fraction, 6)},"
                f" {mism} differ; max abs error {_num(f.max_abs_error)}")
    tol = f.tolerance or {}
    return (f"output '{name}': {mism} outside the tolerance (relative {_num(cast(float, tol.get('relative')))},"
            f" absolute {_num(cast(float, tol.get('absolute')))}, {_num(cast(float, tol.get('mismatched_elements_per_million')))} ppm allowed);"
            f" max abs error {_num(f.max_abs_error)}, max rel error {_num(f.max_rel_error)}")


def derive_verdict(summary: Mapping[str, Any], weight_format: str) -> Verdict:
    """Both verdicts of one weight format's test from its summary (pure)."""
    details = _details(summary)
    figures, figures_error = parse_figures(summary.get("reproduction"))
    hw = hardware_of(summary)
    label = hw.label if hw else None
    reproduce = next((d for d in details if str(d.get("name", "")).startswith(REPRODUCE_CHECK)), None)
    inference = INFERENCE_CHECK.format(weight_format=weight_format)
    others = [d for d in details if d is not reproduce and not str(d.get("name", "")).startswith(inference)]

    def failed(reason: str, runs: bool | None = False) -> Verdict:
        return Verdict(runs=runs, reproduces=None, outcome="failed", reason=reason, hardware=label, outputs=figures,
                       figures_error=figures_error)

    blocker = next((d for d in others if d.get("status") == "failed"), None)
    if blocker is not None:
        return failed(_first_msg(blocker), None if reproduce is None else False)
    if reproduce is None:
        return failed("bioimageio.core did not get to run the test inputs", None)
    if reproduce.get("status") == "failed" and any(_has_traceback(e) for e in _errors(reproduce)):
        return failed(_first_msg(reproduce))
    broken = next((d for d in details if str(d.get("name", "")).startswith(inference) and d.get("status") == "failed"), None)
    if broken is not None:
        return failed(_first_msg(broken))
    off = {n: f for n, f in figures.items() if not f.reproduces and (f.integer or reproduce.get("status") == "failed")}
    reproduces = reproduce.get("status") != "failed" and not off
    reason = None
    if not reproduces:
        reason = "; ".join(describe_output(n, f) for n, f in off.items()) or _first_msg(reproduce)
    return Verdict(runs=True, reproduces=reproduces, outcome="passed" if reproduces else "warning", reason=reason,
                   hardware=label, outputs=figures, figures_error=figures_error)


def verdict_line(verdict: Verdict | None, status: str) -> str:
    """`runs: yes, reproduces: no` (or the plain status where there are no verdicts)."""
    if verdict is None:
        return status

    def word(v: bool | None) -> str:
        return "yes" if v else "not reached" if v is None else "no"

    return f"runs: {word(verdict.runs)}, reproduces: {word(verdict.reproduces) if verdict.runs else 'not known'}"


def verdict_markdown(weight_format: str, verdict: Verdict) -> str:
    """The verdicts as a few markdown lines, put above bioimageio.core's own summary (job summaries)."""
    icon = {"passed": "\u2705", "warning": "\u26a0\ufe0f", "failed": "\u274c"}[verdict.outcome]
    text = f"### {icon} {weight_format}: {verdict.outcome} ({verdict_line(verdict, verdict.outcome)})"
    text += f" on {verdict.hardware}\n" if verdict.hardware else "\n"
    if verdict.reason:
        text += f"\n{verdict.reason}\n"
    return text + "\n"

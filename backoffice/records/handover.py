"""The summary a job without secrets hands over to the job that stores it.

The job that runs uploaded code (a dynamic test) or follows URLs named in an upload
(static validation) reads the package from its public URL and holds no secret; it
writes its result as one JSON file (a workflow artifact). The job with the storage
credentials runs no uploaded code: it reads that file with `parse_handover` (size
limit first, then the shape below) and stores the report.

The hand-over says what was tested (concept, draft or version, draft token, weight
format) and carries the tool's own summary; the stored report's name is the storing
side's business.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import io
import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import InvalidArgumentError
from .verdicts import MAX_KEPT_FILE_BYTES, MAX_KEPT_OUTPUTS, Hardware, OutputFigures
from .weight_scan import WeightScan

MAX_KEPT_TOTAL_BYTES = 2 * 1024 * 1024
"""Most bytes of kept outputs one hand-over carries (the runner caps each at 1 MiB)."""
MAX_HANDOVER_BYTES = 4 * 1024 * 1024 + MAX_KEPT_TOTAL_BYTES * 4 // 3 + 64 * 1024
"""Largest hand-over file accepted: the summary (with tracebacks far below 4 MiB) plus the kept outputs in base64."""

HANDOVER_FORMAT = "backoffice-handover-1"


class _Open(BaseModel):
    """A part of the tool's summary: the named fields checked, others kept as they are."""

    model_config = ConfigDict(extra="allow", frozen=True)


class SummaryError(_Open):
    loc: list[str | int] = Field(default_factory=list[str | int])
    """Where in the description."""
    msg: str = Field(default="", max_length=200_000)
    """What went wrong."""


class SummaryDetail(_Open):
    name: str = Field(max_length=10_000)
    """Which check."""
    status: str = Field(max_length=100)
    """Its outcome."""
    errors: list[SummaryError] = Field(default_factory=list[SummaryError])
    """Its errors."""


class FiguresError(BaseModel):
    """The runner could not compute the reproduction figures (the verdict rests on bioimageio.core's check)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    error: str = Field(max_length=2000)


class ToolSummary(_Open):
    """A bioimageio.spec / bioimageio.core validation summary (or a failed one the backoffice wrote)."""

    name: str = Field(max_length=10_000)
    """What was checked."""
    status: Literal["passed", "failed", "valid-format"]
    """Overall outcome."""
    details: list[SummaryDetail] = Field(default_factory=list[SummaryDetail])
    """The individual checks."""
    reproduction: dict[str, OutputFigures] | FiguresError | None = None
    """The test's child process: how each produced output compares with the expected one."""
    hardware: Hardware | None = None
    """The test's child process: what it ran on."""


class KeptFile(BaseModel):
    """A produced output the test kept (`.npy`), carried to the job that stores it."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    name: str = Field(pattern=r"^[A-Za-z0-9_-]{1,64}\.npy$")
    """File name, as the reproduction figures name it (`kept.file`)."""
    data: str = Field(max_length=(MAX_KEPT_FILE_BYTES * 4) // 3 + 4)
    """The file, base64."""

    def content(self) -> bytes:
        try:
            return base64.b64decode(self.data, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidArgumentError(f"kept output {self.name} is not base64") from None


class Handover(BaseModel):
    """One result of a job without secrets, for the job that stores it."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    format: Literal["backoffice-handover-1"] = HANDOVER_FORMAT
    """Version of this file format."""
    step: Literal["validate-format", "test"]
    """The step that produced it."""
    concept_id: str = Field(pattern=r"^[a-z][a-z-]*[a-z]$")
    """Concept tested."""
    subject: str = Field(pattern=r"^(draft|[0-9][0-9A-Za-z.+_-]{0,63})$")
    """`draft` or the published version tested."""
    draft_token: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_-]{1,100}$")
    """Token of the draft tested (a new upload replaces it: its results do not count)."""
    tool: Literal["bioimageio.spec", "bioimageio.core"]
    """Which library checked."""
    weight_format: str = Field(default="", pattern=r"^[a-z0-9_]{0,64}$")
    """Weight format tested; empty for static checks."""
    status: Literal["passed", "failed", "valid-format"]
    """Verdict."""
    summary: ToolSummary
    """The library's summary, stored as the report."""
    markdown: str = Field(default="", max_length=1_000_000)
    """The summary as markdown (for the job summary)."""
    device: str | None = Field(default=None, max_length=200)
    """CPU or GPU the test ran on."""
    environment: str = Field(default="", max_length=20_000)
    """The test environment."""
    dynamic_formats: list[str] = Field(default_factory=list[str], max_length=32)
    """validate-format: the weight formats that get a dynamic test."""
    static_only_formats: list[str] = Field(default_factory=list[str], max_length=32)
    """validate-format: the weight formats checked statically only."""
    kept_outputs: list[KeptFile] = Field(default_factory=list[KeptFile], max_length=MAX_KEPT_OUTPUTS)
    """test: produced outputs that did not reproduce (`.npy`, size-capped), for the reviewer."""

    def kept_files(self) -> dict[str, bytes]:
        """The kept outputs by file name (checked by `parse_handover`)."""
        return {k.name: k.content() for k in self.kept_outputs}
    weight_scan: WeightScan | None = None
    """validate-format: the weight safety scan (also a detail of `summary`)."""

    def summary_data(self) -> dict[str, Any]:
        return self.summary.model_dump(mode="json")


def write_handover(handover: Handover, path: Path) -> None:
    data = handover.model_dump_json().encode("utf-8")
    if len(data) > MAX_HANDOVER_BYTES:
        raise InvalidArgumentError(f"the summary is {len(data)} bytes, more than the hand-over limit of {MAX_HANDOVER_BYTES}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    except OSError as e:
        raise InvalidArgumentError(f"cannot write {path}: {e.strerror or type(e).__name__}") from None


def parse_handover(path: Path, max_bytes: int = MAX_HANDOVER_BYTES, expect_sha256: str | None = None) -> Handover:
    """The hand-over in `path`, or InvalidArgumentError in one line (size, digest, JSON, shape).

    `expect_sha256`: the digest the job that made it reported through its job outputs; a file
    with another (an artifact replaced or forged by another job of the run) is refused."""
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise InvalidArgumentError(f"{path} is {size} bytes, more than the hand-over limit of {max_bytes}")
        with path.open("rb") as f:
            raw = f.read(max_bytes + 1)
    except OSError as e:
        raise InvalidArgumentError(f"cannot read {path}: {e.strerror or type(e).__name__}") from None
    if len(raw) > max_bytes:
        raise InvalidArgumentError(f"{path} is more than the hand-over limit of {max_bytes} bytes")
    if expect_sha256 is not None and hashlib.sha256(raw).hexdigest() != expect_sha256.strip().lower():
        raise InvalidArgumentError(f"{path} is not the hand-over its job made (sha256 {hashlib.sha256(raw).hexdigest()[:12]}…,"
                                   f" the job reported {expect_sha256.strip()[:12] or 'none'}…); it is not stored")
    try:
        data = json.loads(raw)
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise InvalidArgumentError(f"{path} is not a JSON hand-over: {e}") from None
    except RecursionError:
        raise InvalidArgumentError(f"{path} is not a JSON hand-over: nested too deeply") from None
    try:
        handover = Handover.model_validate(data)
    except ValidationError as e:
        first = e.errors()[0]
        where = ".".join(str(x) for x in first["loc"]) or "(top level)"
        raise InvalidArgumentError(f"{path} is not a valid hand-over ({e.error_count()} problems): {where}: {first['msg']}") from None
    if (handover.status == "failed") != (handover.summary.status == "failed"):
        raise InvalidArgumentError(f"{path}: status '{handover.status}' contradicts the summary's '{handover.summary.status}'")
    if handover.weight_scan is not None and handover.weight_scan.status == "failed" and handover.status != "failed":
        raise InvalidArgumentError(f"{path}: the weight scan failed but the validation says '{handover.status}'")
    if handover.step == "validate-format" and handover.weight_scan is None:
        raise InvalidArgumentError(f"{path}: a validate-format hand-over without the weight safety scan")
    if handover.subject != "draft" and handover.draft_token is not None:
        raise InvalidArgumentError(f"{path}: a draft token for published version {handover.subject}")
    check_kept_outputs(handover, path)
    return handover


def check_kept_outputs(handover: Handover, path: Path) -> None:
    """Every kept output is one the figures name, a plain numeric `.npy` (no pickle) of the
    shape and dtype they say, within the size caps."""
    if not handover.kept_outputs:
        return
    import numpy as np

    if handover.step != "test" or handover.tool != "bioimageio.core":
        raise InvalidArgumentError(f"{path}: only a bioimageio.core test hands over kept outputs")
    figures = handover.summary.reproduction
    named = {f.kept.file: f.kept for f in figures.values() if f.kept is not None} if isinstance(figures, dict) else {}
    total = 0
    seen: set[str] = set()
    for kept in handover.kept_outputs:
        described = named.get(kept.name)
        if described is None or kept.name in seen:
            raise InvalidArgumentError(f"{path}: kept output {kept.name} is not one the reproduction figures name (or twice)")
        seen.add(kept.name)
        data = kept.content()
        total += len(data)
        if len(data) > MAX_KEPT_FILE_BYTES or total > MAX_KEPT_TOTAL_BYTES:
            raise InvalidArgumentError(f"{path}: kept output {kept.name} is over the size cap")
        try:
            loaded: Any = np.load(io.BytesIO(data), allow_pickle=False)
        except (ValueError, OSError, EOFError) as e:
            raise InvalidArgumentError(f"{path}: kept output {kept.name} is not a plain .npy file: {e}") from None
        kind: Any = getattr(getattr(loaded, "dtype", None), "kind", None)
        if not isinstance(loaded, np.ndarray) or kind not in tuple("biuf"):
            raise InvalidArgumentError(f"{path}: kept output {kept.name} is not a numeric array")
        shape, dtype = [int(n) for n in loaded.shape], str(loaded.dtype)  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType, reportUnknownArgumentType]
        if shape != described.shape or dtype != described.dtype:
            raise InvalidArgumentError(
                f"{path}: kept output {kept.name} is {shape} {dtype}, the figures say {described.shape} {described.dtype}")

"""Compatibility reports in the format of the running bioimage.io collection.

One file per tool release and resource version, `<tool>_<tool_version>.json`, holding
`status` (`passed` | `failed` | `not-applicable`), `score` (0..1, default 1 for passed,
0 otherwise), `error` (null or "" for none), `details` (free JSON), `badge` (https URLs
only) and `links`; extra fields are kept; `badge` and `links` of the backoffice's own tool
are ignored. Neither name part contains `_`; the version matches `^[a-z0-9.-]+$`.
`tool` inside the file, when present, is `<tool>` or `<tool>_<tool_version>` (deepImageJ
writes `deepimagej_3.1.0-snapshot`); it and `tool_version` must agree with the file name,
tool names compared case-insensitively (`CAREamics` is `careamics`). The backoffice's own
checks are the tool `bioimageio.core`. Everything here is pure.
"""

from __future__ import annotations

import json
import re
from typing import Any, Literal, cast
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

TOOL_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.-]*$")
"""Tool names (the running collection has `CAREamics` next to `careamics`); never `_`."""
VERSION_PATTERN = re.compile(r"^[a-z0-9.-]+$")
OWN_TOOL = "bioimageio.core"
"""The tool name of the backoffice's own checks (static validation + dynamic tests)."""
MAX_REPORT_BYTES = 5 * 1024 * 1024
"""Largest report file accepted (the running collection's largest are a few hundred kB)."""

ReportStatus = Literal["passed", "failed", "not-applicable"]


class ReportProblem(ValueError):
    """A report that cannot be accepted: `field` names where, `message` says what."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class ReportBadge(BaseModel):
    """Status badge with a resource-specific link into the tool."""

    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    icon: str | None = None
    """Icon URL."""
    label: str
    """Badge text."""
    url: str | None = None
    """Where the badge links to."""


class ToolReport(BaseModel):
    """One tool release's verdict on one resource version."""

    model_config = ConfigDict(extra="allow", use_attribute_docstrings=True)

    status: ReportStatus
    """`passed`, `failed` or `not-applicable` (the tool does not handle this kind of resource)."""
    score: float = Field(ge=0.0, le=1.0)
    """Compatibility score 0..1; defaults to 1 for `passed`, 0 otherwise."""
    error: str | None = None
    """Error message when `status` is `failed` (`""` reads as none)."""
    details: Any = None
    """Details explaining the status (free JSON; for bioimageio.core: per weight format results,
    static validation, `metadata_completeness` and the core status)."""
    badge: ReportBadge | None = None
    """Status badge with a resource-specific link into the tool."""
    links: list[str] = Field(default_factory=list)
    """Other bioimage.io ids the checked resource should link (e.g. `ilastik/ilastik`)."""
    tool: str | None = None
    """`<tool>` or `<tool>_<tool_version>`; when present it must agree with the file name."""
    tool_version: str | None = None
    """Tool version; when present it must agree with the file name."""

    @model_validator(mode="before")
    @classmethod
    def _default_score(cls, data: Any) -> Any:
        if isinstance(data, dict):
            fields = cast(dict[str, Any], data)
            if "score" not in fields:
                return {**fields, "score": 1.0 if fields.get("status") == "passed" else 0.0}
        return cast(Any, data)

    @field_validator("error")
    @classmethod
    def _no_error(cls, value: str | None) -> str | None:
        return value or None


def is_https_url(value: str | None) -> bool:
    """An absolute https URL (badge links and icons: never `javascript:`, `data:` or plain http)."""
    if not value:
        return False
    parts = urlsplit(value.strip())
    return parts.scheme.lower() == "https" and bool(parts.netloc) and not any(c in value for c in "\r\n\t\"<> ")


def safe_badge(badge: ReportBadge | None) -> ReportBadge | None:
    """The badge when its link and icon (if any) are https URLs, else None."""
    if badge is None:
        return None
    if not all(v is None or is_https_url(v) for v in (badge.url, badge.icon)):
        return None
    return badge


def report_file_name(tool: str, tool_version: str) -> str:
    """`<tool>_<tool_version>.json`, after checking both parts."""
    check_name_parts(tool, tool_version)
    return f"{tool}_{tool_version}.json"


def check_name_parts(tool: str, tool_version: str) -> None:
    if not TOOL_PATTERN.fullmatch(tool):
        raise ReportProblem("tool", f"'{tool}' is not a tool name (letters, digits, '.', '-'; no '_')")
    if not VERSION_PATTERN.fullmatch(tool_version):
        raise ReportProblem("tool_version", f"'{tool_version}' does not match ^[a-z0-9.-]+$")


def split_report_name(file_name: str) -> tuple[str, str]:
    """(tool, tool version) of `<tool>_<tool_version>.json`."""
    stem = file_name.rsplit("/", 1)[-1]
    if not stem.endswith(".json"):
        raise ReportProblem("file name", f"'{stem}' is not <tool>_<tool_version>.json")
    stem = stem[: -len(".json")]
    if stem.count("_") != 1:
        raise ReportProblem("file name", f"'{stem}.json' must have exactly one '_' between tool and version")
    tool, version = stem.split("_")
    check_name_parts(tool, version)
    return tool, version


def _first_error(e: ValidationError) -> ReportProblem:
    err = e.errors()[0]
    field = ".".join(str(x) for x in err["loc"]) or "report"
    return ReportProblem(field, err["msg"])


def parse_report(file_name: str, data: bytes) -> tuple[str, str, ToolReport]:
    """(tool, tool version, report) of a report file; ReportProblem names what is wrong."""
    tool, version = split_report_name(file_name)
    if len(data) > MAX_REPORT_BYTES:
        raise ReportProblem("size", f"{len(data)} bytes, more than the {MAX_REPORT_BYTES} allowed")
    try:
        raw = json.loads(data)
    except (UnicodeDecodeError, ValueError) as e:
        raise ReportProblem("content", f"not JSON ({e})") from None
    except RecursionError:
        raise ReportProblem("content", "JSON nested too deeply") from None
    if not isinstance(raw, dict):
        raise ReportProblem("content", "a report must be a JSON object")
    try:
        report = ToolReport.model_validate(raw)
    except ValidationError as e:
        raise _first_error(e) from None
    if report.tool is not None:
        inner_tool, sep, inner_version = report.tool.partition("_")
        if inner_tool.lower() != tool.lower() or (sep and inner_version != version):
            raise ReportProblem("tool", f"'{report.tool}' inside the file does not agree with the file name's '{tool}_{version}'")
    if report.tool_version is not None and report.tool_version != version:
        raise ReportProblem("tool_version", f"'{report.tool_version}' inside the file does not agree with the file name's '{version}'")
    if report.badge is not None and safe_badge(report.badge) is None:
        raise ReportProblem("badge", "the badge's url and icon must be https URLs")
    return tool, version, report


def unparsable_report(error: str) -> ToolReport:
    """What a stored report that cannot be read counts as: failed, score 0, saying so."""
    return ToolReport(status="failed", score=0.0, error=f"the report could not be parsed: {error}",
                      details="Failed to parse compatibility report.")

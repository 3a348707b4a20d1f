"""Conflate every compatibility report of one resource version into one summary with
per-tool scores, an overall score, tags, links and badges (rules in docs/compatibility.md).

Pure: parsed reports in, summary out. The backoffice's own checks are the tool
`bioimageio.core`, so our verdicts and the partners' go through this one function.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal, cast

from packaging.version import InvalidVersion, Version
from pydantic import BaseModel, ConfigDict, Field

from .tool_report import OWN_TOOL, ReportBadge, ToolReport, safe_badge

# The running collection's scoring rules, as data (docs/compatibility.md, "Scores").
LATEST_TRUSTED = 0.8
"""A tool's newest release scoring at least this gives the tool's score as is."""
TOP_RELEASES = 4
"""Otherwise the tool scores the mean of its best releases, this many ..."""
TOP_CAP = 0.8
"""... at most this, and never below its newest release."""
NON_PEP440_DEDUCTION = 0.1
"""A release whose version is no PEP 440 version (`3.1.0-snapshot`) scores this much less ..."""
NON_PEP440_AS = Version("0.0.0")
"""... and counts as this version (older than every other release)."""
PARTNER_TOP = 3
"""The partner score is the sum of the best this many partner tool scores, divided by this many."""
WEIGHTS = {"metadata_format": 0.25, "metadata_completeness": 0.25, "core": 0.25, "partners": 0.25}
"""Weights of the overall score (a missing part counts 0)."""
ERROR_CHARS = 500

SummaryStatus = Literal["passed", "warning", "failed", "valid-format", "untested"]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class ReportBrief(_Model):
    """One report as the index shows it."""

    status: Literal["passed", "failed", "not-applicable"]
    score: float
    error: str | None = None
    """First line of the error, shortened."""
    file: str
    """Report file name, `<tool>_<tool_version>.json`."""
    badge: ReportBadge | None = None
    links: list[str] = Field(default_factory=list)


class Scores(_Model):
    """Scores of one resource version, each 0..1."""

    tools: dict[str, float] = Field(default_factory=dict)
    """Per tool (lower case): its newest release's score if at least 0.8, else the mean of its best
    four release scores, at most 0.8 and at least the newest's (`tool_compatibility` of the running collection)."""
    tool_versions: dict[str, float] = Field(default_factory=dict)
    """Per `<tool>_<tool version>`: that report's score (`tool_compatibility_version_specific`)."""
    metadata_completeness: float = 0.0
    """Share of optional description fields filled in (the best of the bioimageio.core reports)."""
    metadata_format: float = 0.0
    """1: the description is valid for the newest bioimageio.core; 0.5: only for an older one; 0: for none."""
    core: float = 0.0
    """The `bioimageio.core` tool score."""
    partners: float | None = None
    """The best three partner tool scores, summed and divided by three (None: no partner reported)."""
    overall: float = 0.0
    """0.25 × (format + completeness + core + partners), a missing part counting 0 (see docs/compatibility.md)."""


class Compatibility(_Model):
    """The conflated reports of one resource version (kept on the concept document)."""

    revision: int = 0
    """Increases with every conflation of this version (a later one never loses to an earlier one)."""
    status: SummaryStatus = "untested"
    """The newest bioimageio.core verdict: `failed`, `warning` (every weight format runs, some do not reproduce),
    `passed` (tests passed), `valid-format` (static checks only) or `untested`."""
    scores: Scores = Field(default_factory=Scores)
    reports: dict[str, dict[str, ReportBrief]] = Field(default_factory=dict)
    """Tool -> tool version -> report."""
    tags: list[str] = Field(default_factory=list)
    """`<tool>-compatible` and `<tool>_<version>-compatible` of every passed report."""
    links: list[str] = Field(default_factory=list)
    """Links of every passed report."""
    badges: list[ReportBadge] = Field(default_factory=list)
    """Badges of each tool's newest report that has one."""


def version_key(version: str) -> tuple[int, Version | str]:
    """Sort key of tool versions: PEP 440 versions by value, others below them, by text (also one
    whose number Python will not convert: more than 4300 digits is a ValueError, not InvalidVersion)."""
    try:
        return (1, Version(version))
    except (InvalidVersion, ValueError):
        return (0, version)


def _cmp_key(v: str) -> tuple[int, Any]:
    kind, value = version_key(v)
    return (kind, value) if kind == 1 else (kind, str(value))


def newest_version(versions: Iterable[str]) -> str:
    """The newest of some tool versions (PEP 440 order; others below them)."""
    return max(versions, key=_cmp_key)


def release_value(version: str, score: float) -> tuple[Version, float]:
    """(the version a release counts as, its score after the non-PEP 440 deduction)."""
    try:
        return Version(version), score
    except InvalidVersion:
        return NON_PEP440_AS, max(0.0, score - NON_PEP440_DEDUCTION)


def tool_score(scores: Mapping[str, float]) -> float | None:
    """Score of one tool from its release scores by version (None: no release)."""
    by_version: dict[Version, float] = {}
    for version, score in scores.items():
        key, value = release_value(version, score)
        by_version[key] = max(value, by_version.get(key, 0.0))  # releases counting as one version: the best
    if not by_version:
        return None
    newest = by_version[max(by_version)]
    if newest >= LATEST_TRUSTED:
        return newest
    top = sorted(by_version.values(), reverse=True)[:TOP_RELEASES]
    return max(min(TOP_CAP, sum(top) / len(top)), newest)


def partner_score(tools: Mapping[str, float]) -> float | None:
    """The best `PARTNER_TOP` partner tool scores, summed, divided by `PARTNER_TOP` (None: no partner)."""
    scores = sorted((s for t, s in tools.items() if t != OWN_TOOL), reverse=True)[:PARTNER_TOP]
    return sum(scores) / PARTNER_TOP if scores else None


def _core_status(report: ToolReport) -> str | None:
    details: Any = report.details
    if isinstance(details, dict):
        status = cast(dict[str, Any], details).get("status")
        return status if isinstance(status, str) else None
    return None


def _completeness(report: ToolReport) -> float | None:
    details: Any = report.details
    if isinstance(details, dict):
        value = cast(dict[str, Any], details).get("metadata_completeness")
        if isinstance(value, (int, float)) and 0 <= value <= 1:
            return float(value)
    return None


def _brief(file: str, r: ToolReport) -> ReportBrief:
    error = None
    if r.error:
        first = r.error.strip().splitlines()[0] if r.error.strip() else ""
        error = first[:ERROR_CHARS] or None
    if file.lower().startswith(f"{OWN_TOOL}_"):  # our own verdicts carry no badge or links (whoever wrote the file)
        return ReportBrief(status=r.status, score=r.score, error=error, file=file)
    return ReportBrief(status=r.status, score=r.score, error=error, file=file, badge=safe_badge(r.badge), links=list(r.links))


def by_tool(reports: Mapping[tuple[str, str], ToolReport]) -> dict[str, dict[str, tuple[str, ToolReport]]]:
    """Tool (lower case) -> version -> (file name, report). Tool names are matched case-insensitively;
    of two files of one release (`CAREamics_0.1.0.json`, `careamics_0.1.0.json`) the better scored counts."""
    out: dict[str, dict[str, tuple[str, ToolReport]]] = {}
    for (tool, version), r in sorted(reports.items()):
        releases = out.setdefault(tool.lower(), {})
        held = releases.get(version)
        if held is None or r.score > held[1].score:
            releases[version] = (f"{tool}_{version}.json", r)
    return out


def _metadata(core: Mapping[str, ToolReport]) -> tuple[SummaryStatus, float, float]:
    """(status, metadata completeness, metadata format) from the bioimageio.core reports by version."""
    if not core:
        return "untested", 0.0, 0.0
    ordered = sorted(core, key=_cmp_key)
    newest = core[ordered[-1]]
    detail = _core_status(newest)
    status: SummaryStatus
    if newest.status == "failed":
        status = "failed"
    elif detail == "valid-format":
        status = "valid-format"
    elif detail == "warning":
        status = "warning"
    else:
        status = "passed" if newest.status == "passed" else "valid-format"
    completeness = max((c for r in core.values() if (c := _completeness(r)) is not None), default=0.0)
    valid = [v for v in ordered if _core_status(core[v]) in ("passed", "warning", "valid-format")
             or (core[v].status == "passed" and _core_status(core[v]) is None)]
    fmt = 1.0 if valid and valid[-1] == ordered[-1] else 0.5 if valid else 0.0
    return status, completeness, fmt


def conflate(reports: Mapping[tuple[str, str], ToolReport], *, revision: int = 0) -> Compatibility:
    """One summary from the reports of one version, keyed by (tool as in the file name, tool version)."""
    grouped = by_tool(reports)
    tool_versions = {f"{tool}_{v}": r.score for tool, releases in grouped.items() for v, (_, r) in releases.items()}
    tools: dict[str, float] = {}
    for tool, releases in grouped.items():
        score = tool_score({v: r.score for v, (_, r) in releases.items()})
        if score is not None:
            tools[tool] = score
    status, completeness, fmt = _metadata({v: r for v, (_, r) in grouped.get(OWN_TOOL, {}).items()})
    partners = partner_score(tools)
    parts = {"metadata_format": fmt, "metadata_completeness": completeness, "core": tools.get(OWN_TOOL, 0.0), "partners": partners}
    overall = sum(w * (parts[k] or 0.0) for k, w in WEIGHTS.items())

    tags: list[str] = []
    links: list[str] = []
    badges: list[ReportBadge] = []
    briefs: dict[str, dict[str, ReportBrief]] = {}
    for tool in sorted(grouped):
        releases = grouped[tool]
        ordered = sorted(releases, key=_cmp_key)
        briefs[tool] = {v: _brief(*releases[v]) for v in ordered}
        passed = [v for v in ordered if releases[v][1].status == "passed"]
        if passed:
            tags.append(f"{tool}-compatible")
            tags.extend(f"{tool}_{v}-compatible" for v in passed)
        if tool == OWN_TOOL:
            continue  # `badge` and `links` in reports of our own tool are ignored
        for v in passed:
            links.extend(link for link in releases[v][1].links if link not in links)
        badge = next((b for v in reversed(ordered) if (b := safe_badge(releases[v][1].badge)) is not None), None)
        if badge is not None:
            badges.append(badge)
    return Compatibility(
        revision=revision, status=status,
        scores=Scores(tools=tools, tool_versions=tool_versions, metadata_completeness=completeness, metadata_format=fmt,
                      core=tools.get(OWN_TOOL, 0.0), partners=partners, overall=overall),
        reports=briefs, tags=tags, links=links, badges=badges,
    )

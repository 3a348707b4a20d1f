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

from .tool_report import OWN_TOOL, ReportBadge, ToolReport

OLDER_ONLY_FACTOR = 0.5
"""A tool whose newest release fails scores at most this share of its best older release's score."""
WEIGHTS = {"metadata_format": 0.25, "metadata_completeness": 0.25, "core": 0.25, "partners": 0.25}
"""Weights of the overall score; `partners` counts only when some partner tool applies."""
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
    """Per tool: the newest release's score; if that is below the best older one, at most half the older score."""
    metadata_completeness: float = 0.0
    """Share of optional description fields filled in (from the newest bioimageio.core report)."""
    metadata_format: float = 0.0
    """1: the description is valid for the newest bioimageio.core; 0.5: only for an older one; 0: for none."""
    core: float = 0.0
    """The `bioimageio.core` tool score."""
    partners: float | None = None
    """Mean of the partner tool scores (None: no partner tool applies)."""
    overall: float = 0.0
    """Weighted mean of format, completeness, core and partners (see docs/compatibility.md)."""


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
    """Sort key of tool versions: PEP 440 versions by value, others below them, by text."""
    try:
        return (1, Version(version))
    except InvalidVersion:
        return (0, version)


def _cmp_key(v: str) -> tuple[int, Any]:
    kind, value = version_key(v)
    return (kind, value) if kind == 1 else (kind, str(value))


def newest_version(versions: Iterable[str]) -> str:
    """The newest of some tool versions (PEP 440 order; others below them)."""
    return max(versions, key=_cmp_key)


def tool_score(by_version: Mapping[str, ToolReport]) -> float | None:
    """Score of one tool over its releases (None: it applies to none of them)."""
    applicable = {v: r for v, r in by_version.items() if r.status != "not-applicable"}
    if not applicable:
        return None
    ordered = sorted(applicable, key=_cmp_key)
    newest = applicable[ordered[-1]].score
    older = [applicable[v].score for v in ordered[:-1]]
    best_older = max(older, default=0.0)
    return max(newest, OLDER_ONLY_FACTOR * best_older) if best_older > newest else newest


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
    return ReportBrief(status=r.status, score=r.score, error=error, file=file, badge=r.badge, links=list(r.links))


def conflate(reports: Mapping[tuple[str, str], ToolReport], *, revision: int = 0) -> Compatibility:
    """One summary from the reports of one version, keyed by (tool, tool version)."""
    by_tool: dict[str, dict[str, ToolReport]] = {}
    for (tool, version), r in reports.items():
        by_tool.setdefault(tool, {})[version] = r
    tools: dict[str, float] = {}
    for tool, by_version in by_tool.items():
        score = tool_score(by_version)
        if score is not None:
            tools[tool] = round(score, 4)

    status: SummaryStatus = "untested"
    completeness = fmt = 0.0
    core = by_tool.get(OWN_TOOL, {})
    if core:
        ordered = sorted(core, key=_cmp_key)
        newest = core[ordered[-1]]
        detail = _core_status(newest)
        if newest.status == "failed":
            status = "failed"
        elif detail == "valid-format":
            status = "valid-format"
        elif detail == "warning":
            status = "warning"
        else:
            status = "passed" if newest.status == "passed" else "valid-format"
        completeness = next((c for v in reversed(ordered) if (c := _completeness(core[v])) is not None), 0.0)
        valid = [v for v in ordered if _core_status(core[v]) in ("passed", "warning", "valid-format")
                 or (core[v].status == "passed" and _core_status(core[v]) is None)]
        fmt = 1.0 if valid and valid[-1] == ordered[-1] else 0.5 if valid else 0.0

    partner_scores = [s for t, s in tools.items() if t != OWN_TOOL]
    partners = sum(partner_scores) / len(partner_scores) if partner_scores else None
    parts = {"metadata_format": fmt, "metadata_completeness": completeness, "core": tools.get(OWN_TOOL, 0.0), "partners": partners}
    weights = {k: w for k, w in WEIGHTS.items() if parts[k] is not None}
    overall = sum(w * (parts[k] or 0.0) for k, w in weights.items()) / sum(weights.values())

    tags: list[str] = []
    links: list[str] = []
    badges: list[ReportBadge] = []
    briefs: dict[str, dict[str, ReportBrief]] = {}
    for tool in sorted(by_tool):
        ordered = sorted(by_tool[tool], key=_cmp_key)
        briefs[tool] = {v: _brief(f"{tool}_{v}.json", by_tool[tool][v]) for v in ordered}
        passed = [v for v in ordered if by_tool[tool][v].status == "passed"]
        if passed:
            tags.append(f"{tool}-compatible")
            tags.extend(f"{tool}_{v}-compatible" for v in passed)
        for v in passed:
            links.extend(link for link in by_tool[tool][v].links if link not in links)
        badge = next((by_tool[tool][v].badge for v in reversed(ordered) if by_tool[tool][v].badge is not None), None)
        if badge is not None:
            badges.append(badge)
    return Compatibility(
        revision=revision, status=status,
        scores=Scores(tools=tools, metadata_completeness=round(completeness, 4), metadata_format=fmt,
                      core=tools.get(OWN_TOOL, 0.0), partners=None if partners is None else round(partners, 4),
                      overall=round(overall, 4)),
        reports=briefs, tags=tags, links=links, badges=badges,
    )

"""`compatibility.json`: per tool (ours and every partner's), which resource versions work
in it and which do not, with the reason — so a partner can list "models that run in
<tool>" and see what broke after its release. Derived from collection.json's entries
(pure), so it is as incremental as the index."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from pydantic import BaseModel, ConfigDict, Field

from ..config.collection_config import CollectionConfig
from ..records.scoring import newest_version
from ..records.tool_report import OWN_TOOL


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", use_attribute_docstrings=True)


class OverviewPartner(_Out):
    id: str
    name: str
    docs: str | None = None


class OverviewItem(_Out):
    """One resource version as seen by one tool (its newest release that reported)."""

    id: str
    version: str
    type: str
    tool_version: str
    """The newest release of the tool that reported on this version."""
    score: float | None = None
    report: str | None = None
    """URL of that report."""
    passed_in: list[str] = Field(default_factory=list)
    """Every release of the tool that passed it."""
    reason: str | None = None
    """Why it fails (for `fails`)."""


class ToolOverview(_Out):
    name: str
    partners: list[OverviewPartner] = Field(default_factory=list)
    """Partners reporting as this tool."""
    works: list[OverviewItem] = Field(default_factory=list)
    """Resource versions its newest reporting release passed."""
    fails: list[OverviewItem] = Field(default_factory=list)
    """Resource versions its newest reporting release failed, with the reason."""
    not_applicable: int = 0
    """Resource versions it does not handle."""


class CompatibilityOverview(_Out):
    """compatibility.json."""

    name: str
    tools: dict[str, ToolOverview]


def compatibility_overview(config: CollectionConfig, collection: Mapping[str, Any]) -> dict[str, Any]:
    """The overview (JSON data) from collection.json data."""
    tools: dict[str, ToolOverview] = {OWN_TOOL: ToolOverview(name="bioimageio.core (the backoffice's own tests)")}
    for p in config.partners:
        t = tools.setdefault(p.tool_name, ToolOverview(name=p.name))
        t.partners.append(OverviewPartner(id=p.id, name=p.name, docs=p.docs))
    for entry in cast(list[dict[str, Any]], collection.get("collection", [])):
        for v in cast(list[dict[str, Any]], entry.get("versions", [])):
            compat = v.get("compatibility")
            if not compat:
                continue
            for tool, by_version in cast(dict[str, dict[str, dict[str, Any]]], compat.get("reports", {})).items():
                if not by_version:
                    continue
                newest = newest_version(by_version)
                r = by_version[newest]
                t = tools.setdefault(tool, ToolOverview(name=tool))
                item = OverviewItem(id=entry["id"], version=v["version"], type=entry["type"], tool_version=newest,
                                    score=r.get("score"), report=r.get("url"),
                                    passed_in=[tv for tv, x in by_version.items() if x.get("status") == "passed"])
                if r.get("status") == "passed":
                    t.works.append(item)
                elif r.get("status") == "failed":
                    item.reason = r.get("error") or "failed (no error message)"
                    t.fails.append(item)
                else:
                    t.not_applicable += 1
    overview = CompatibilityOverview(name=f"{config.collection_template.name}: compatibility", tools=tools)
    return overview.model_dump(mode="json", exclude_none=True)

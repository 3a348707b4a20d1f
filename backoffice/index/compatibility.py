"""`compatibility.json`: per tool (ours and every partner's), which resource versions work
in it and which do not, with the reason — so a partner can list "models that run in
<tool>" and see what broke after its release. Derived from collection.json's entries
(pure), so it is as incremental as the index."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast

from ..config.collection_config import CollectionConfig
from ..records.scoring import newest_version
from ..records.tool_report import OWN_TOOL


def compatibility_overview(config: CollectionConfig, collection: Mapping[str, Any]) -> dict[str, Any]:
    """The overview from collection.json data."""
    tools: dict[str, dict[str, Any]] = {OWN_TOOL: {"name": "bioimageio.core (the backoffice's own tests)", "partners": [],
                                                  "works": [], "fails": [], "not_applicable": 0}}
    for p in config.partners:
        t = tools.setdefault(p.tool_name, {"name": p.name, "partners": [], "works": [], "fails": [], "not_applicable": 0})
        t["partners"].append({"id": p.id, "name": p.name, "docs": p.docs})
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
                t = tools.setdefault(tool, {"name": tool, "partners": [], "works": [], "fails": [], "not_applicable": 0})
                item = {"id": entry["id"], "version": v["version"], "type": entry["type"], "tool_version": newest,
                        "score": r.get("score"), "report": r.get("url"),
                        "passed_in": [tv for tv, x in by_version.items() if x.get("status") == "passed"]}
                if r.get("status") == "passed":
                    t["works"].append(item)
                elif r.get("status") == "failed":
                    t["fails"].append({**item, "reason": r.get("error") or "failed (no error message)"})
                else:
                    t["not_applicable"] += 1
    return {"name": f"{config.collection_template.name}: compatibility", "tools": tools}

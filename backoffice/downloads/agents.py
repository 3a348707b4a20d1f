"""Who downloads: known bots and the consuming tools, told apart by the user agent.

Rules are data, checked in order on the lower-cased user agent; the first match wins.
"""

from __future__ import annotations

from functools import lru_cache

BOT_MARKERS: tuple[str, ...] = (
    "bot", "crawl", "spider", "slurp", "archiver", "scrapy", "headlesschrome", "lighthouse",
    "facebookexternalhit", "pingdom", "monitor", "preview", "python-urllib",
)
"""Substrings of known crawlers, link previewers and uptime monitors (`bot` covers Googlebot,
bingbot, UptimeRobot, GPTBot, ...)."""

BOT_EXACT: frozenset[str] = frozenset({"ci"})
"""Whole user agents of automated runs: bioimageio.spec sends `ci` when it runs on CI."""

TOOLS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("ilastik", ("ilastik",)),
    ("deepimagej", ("deepimagej", "jdll")),
    ("bioimageio", ("bioimageio", "python-httpx/")),
    ("browser", ("mozilla/", "opera/")),
)
"""Tool -> user-agent substrings. `bioimageio` is the python libraries (bioimageio.spec and
bioimageio.core; spec's downloads go through httpx); `deepimagej` is deepImageJ and JDLL."""

OTHER = "other"
TOOL_NAMES: tuple[str, ...] = (*(t for t, _ in TOOLS), OTHER)
"""Every tool of the breakdown, in display order."""


@lru_cache(maxsize=4096)
def classify_agent(user_agent: str) -> str | None:
    """The consuming tool of a user agent, or None for a bot."""
    ua = user_agent.strip().lower()
    if ua in BOT_EXACT or any(m in ua for m in BOT_MARKERS):
        return None
    for tool, markers in TOOLS:
        if any(m in ua for m in markers):
            return tool
    return OTHER

"""Versions of descriptions that give none: a pure plan, tested on its own.

A new concept gets `1`; an update gets the version after the newest published one,
made by bumping its last numeric part (`1` -> `2`, `1.0` -> `1.1`, `0.2.9` -> `0.2.10`,
`2.0rc1` -> `2.0rc2`), skipping any version that is published already.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

FIRST_VERSION = "1"
_LAST_NUMBER = re.compile(r"([0-9]+)(?!.*[0-9])")


def bump(version: str) -> str:
    """`version` with its last run of digits incremented (a version without digits gets `.1`)."""
    m = _LAST_NUMBER.search(version)
    if m is None:
        return f"{version}.1"
    return version[: m.start()] + str(int(m.group(1)) + 1) + version[m.end():]


def default_version(published: Sequence[str]) -> str:
    """The version given to a description without one.

    `published` are the concept's published versions in publication order; the newest
    is the last. The result is never one of them.
    """
    if not published:
        return FIRST_VERSION
    taken = set(published)
    candidate = bump(published[-1])
    while candidate in taken:
        candidate = bump(candidate)
    return candidate

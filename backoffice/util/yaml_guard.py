"""Uploaded YAML is looked at event by event before anything builds it into objects.

A few hundred bytes of nested aliases (`a: &a [x, x]`, `b: &b [*a, *a]`, ...) expand to
billions of nodes when a loader composes them: the "YAML bomb", which held staging for
minutes. The parser's events come before any expansion, so one pass over them refuses
anchors and aliases (no description of the collection uses them) and caps nesting depth
and node count, in time linear in the text. Every reader of uploaded YAML (the
description at staging, validation, testing and backup; the environment files it names)
calls `yaml_problem` first."""

from __future__ import annotations

import re

from ruamel.yaml import YAML
from ruamel.yaml.events import (
    AliasEvent,
    CollectionEndEvent,
    CollectionStartEvent,
    NodeEvent,
)

MAX_DEPTH = 64
"""Nesting of mappings and sequences (a description needs fewer than 10)."""
MAX_NODES = 200_000
"""Scalars, mappings and sequences in one document set (a large description has a few thousand)."""


_FLOW_CHARS = re.compile(r"""[\[\]{}'"]""")


def _deep_flow_at(text: str, max_depth: int) -> int | None:
    """Where brackets, counted outside quotes, first nest deeper than `max_depth` (a cheap
    guess: the parser's look-ahead makes thousands of nested `[` slow to parse in full)."""
    depth = 0
    quote: str | None = None
    for m in _FLOW_CHARS.finditer(text):
        c = m.group()
        if quote is not None:
            quote = None if c == quote else quote
        elif c in "'\"":
            quote = c
        elif c in "[{":
            depth += 1
            if depth > max_depth:
                return m.start()
        else:
            depth = max(0, depth - 1)
    return None


def yaml_problem(text: str, name: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> str | None:
    """Why `text` is not accepted as uploaded YAML (one line), or None.

    Syntax errors are left to the loader that follows (it words them); only what a loader
    would expand or recurse into is judged here."""
    deep = _deep_flow_at(text, max_depth)
    if deep is not None:  # confirm on the text up to there: fast, and exact for what it finds
        problem = _event_problem(text[: deep + 1], name, max_depth, max_nodes)
        if problem is not None:
            return problem
    return _event_problem(text, name, max_depth, max_nodes)


def _event_problem(text: str, name: str, max_depth: int, max_nodes: int) -> str | None:
    depth = nodes = 0
    parser = YAML(typ="safe", pure=True)
    try:
        for event in parser.parse(text):  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]
            anchor: object = getattr(event, "anchor", None)
            if isinstance(event, AliasEvent):
                return f"{name} uses a YAML alias (*{anchor}); aliases and anchors are not accepted in uploads"
            if isinstance(event, NodeEvent) and anchor is not None:
                return f"{name} uses a YAML anchor (&{anchor}); aliases and anchors are not accepted in uploads"
            if isinstance(event, NodeEvent):
                nodes += 1
                if nodes > max_nodes:
                    return f"{name} has more than {max_nodes} YAML nodes"
            if isinstance(event, CollectionStartEvent):
                depth += 1
                if depth > max_depth:
                    return f"{name} nests mappings or lists more than {max_depth} levels deep"
            elif isinstance(event, CollectionEndEvent):
                depth -= 1
    except Exception:  # noqa: BLE001 - a syntax error: the loader that follows reports it in its own words
        return None
    return None

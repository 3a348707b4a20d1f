"""Uploaded YAML is looked at event by event before anything builds it into objects.

A few hundred bytes of nested aliases (`a: &a [x, x]`, `b: &b [*a, *a]`, ...) expand to
billions of nodes when a loader composes them: the "YAML bomb", which held staging for
minutes. The parser's events come before any expansion, so one pass over them refuses
anchors and aliases (no description of the collection uses them) and caps nesting depth
and node count, in time linear in the text. Every reader of uploaded YAML (the
description at staging, validation, testing and backup; the environment files it names)
calls `yaml_problem` first."""

from __future__ import annotations

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


def yaml_problem(text: str, name: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> str | None:
    """Why `text` is not accepted as uploaded YAML (one line), or None.

    Syntax errors are left to the loader that follows (it words them); only what a loader
    would expand or recurse into is judged here."""
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

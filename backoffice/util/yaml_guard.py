"""Uploaded YAML is looked at event by event before anything builds it into objects.

A few hundred bytes of nested aliases (`a: &a [x, x]`, `b: &b [*a, *a]`, ...) expand to
billions of nodes when a loader composes them: the "YAML bomb", which held staging for
minutes. The parser's events come before any expansion, so one pass over them refuses
anchors and aliases (no description of the collection uses them) and caps nesting depth
and node count, in time linear in the text. The guard fails closed: text the parser cannot
read is refused too (a parser error is never "no problem"), and bytes must be UTF-8 (a
UTF-16 byte order mark would let a loader read other text than the guard saw).

`load_yaml` is the package's one YAML loader: it decodes, guards and loads the same text.
Every YAML read (the description at staging, validation, testing and backup; the environment
files it names; the curation files; imported rdfs) goes through it, or, where another library
loads the bytes (bioimageio.spec at validation), through `yaml_bytes_problem` first;
`tests/test_outbound.py` fails on any other loader call in the package."""

from __future__ import annotations

import re

from typing import Any

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


class YamlRefused(ValueError):
    """YAML not accepted (one line why): a bomb, too deep, not UTF-8, or not readable."""


def _first_lines(e: BaseException) -> str:
    return " ".join(str(e).strip().splitlines()[:2]) or type(e).__name__


def yaml_bytes_problem(data: bytes, name: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> str | None:
    """`yaml_problem` of bytes, which must be UTF-8 text (a leading UTF-8 BOM is allowed)."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return f"{name} is not UTF-8 text"
    return yaml_problem(text, name, max_depth=max_depth, max_nodes=max_nodes)


def load_yaml(data: bytes | str, name: str, *, loader: YAML | None = None) -> Any:
    """`data` loaded (by `loader`, default ruamel's safe loader) once the guard has passed the
    very text the loader gets; YamlRefused (one line) otherwise, the loader's own errors included."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise YamlRefused(f"{name} is not UTF-8 text") from None
    problem = yaml_problem(data, name)
    if problem is not None:
        raise YamlRefused(problem)
    try:
        return (loader or YAML(typ="safe")).load(data)  # pyright: ignore[reportUnknownMemberType]  # ruamel's stream types are hidden behind `if False:`
    except Exception as e:  # noqa: BLE001 - a composer or constructor error (duplicate key, bad tag): one line
        raise YamlRefused(f"{name} is not valid YAML: {_first_lines(e)}") from None


def yaml_problem(text: str, name: str, *, max_depth: int = MAX_DEPTH, max_nodes: int = MAX_NODES) -> str | None:
    """Why `text` is not accepted as YAML (one line), or None. What a loader would expand or
    recurse into is refused, and so is text the parser cannot read (fails closed)."""
    deep = _deep_flow_at(text, max_depth)
    if deep is not None:  # confirm on the text up to there: fast, and exact for what it finds
        problem = _event_problem(text[: deep + 1], name, max_depth, max_nodes, cut=True)
        if problem is not None:
            return problem
    return _event_problem(text, name, max_depth, max_nodes)


def _event_problem(text: str, name: str, max_depth: int, max_nodes: int, cut: bool = False) -> str | None:
    """The first problem of `text` (`cut`: a prefix of the text, whose end is no error)."""
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
    except RecursionError:
        return f"{name} nests mappings or lists too deeply to be read"
    except Exception as e:  # noqa: BLE001 - any parser error is a refusal, never "no problem"
        return None if cut else f"{name} is not valid YAML: {_first_lines(e)}"
    return None

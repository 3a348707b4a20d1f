"""`util/json_bytes.dump_bytes`: the same bytes as `json.dumps`, encoded piece by piece."""

from __future__ import annotations

import json
from typing import Any

import pytest

from backoffice.util.json_bytes import dump_bytes

CASES: list[Any] = [
    {},
    [],
    {"collection": [{"id": "a", "versions": [{"v": "1", "tags": ["é", "\u2028", '"q"']}]}], "name": "ü"},
    [[[[1, 2], []]], {"x": {"y": {"z": {"w": None}}}}],
    {"a": (1, 2.5), "b": True, "c": None},
    {1: "int key", "s": "mixed keys fall back to one encode"},
    "a string",
    42,
]


@pytest.mark.parametrize("data", CASES)
def test_same_bytes_as_json_dumps(data: Any) -> None:
    assert dump_bytes(data) == (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode("utf-8")


def test_unencodable_raises_like_json_dumps() -> None:
    with pytest.raises(TypeError):
        dump_bytes({"a": [{"b": object()}]})

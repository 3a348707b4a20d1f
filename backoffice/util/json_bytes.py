"""Compact JSON as UTF-8 bytes, encoded piece by piece.

`json.dumps` of a large document first collects every fragment of it in one list (tens
of bytes of overhead per fragment: for the 30 MB `collection.json` of 10,000 concepts
that list is several hundred MB). `dump_bytes` encodes the outer containers' members one
by one and appends each to one buffer, so no more than one member's fragments exist at a
time. The output is the same bytes as `json.dumps(data, ensure_ascii=False,
separators=(",", ":")) + "\\n"` encoded as UTF-8.
"""

from __future__ import annotations

import json
from typing import Any, cast

_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
_SPLIT_DEPTH = 2
"""Containers this deep (the document and its members) are split into members; deeper
ones (an index entry, one concept's versions) are encoded whole."""


def _write(buf: bytearray, data: Any, depth: int) -> None:
    if depth < _SPLIT_DEPTH and isinstance(data, dict) and all(isinstance(k, str) for k in cast(dict[Any, Any], data)):
        buf += b"{"
        for i, (k, v) in enumerate(cast(dict[str, Any], data).items()):
            if i:
                buf += b","
            buf += _ENCODE(k).encode("utf-8")
            buf += b":"
            _write(buf, v, depth + 1)
        buf += b"}"
    elif depth < _SPLIT_DEPTH and isinstance(data, (list, tuple)):
        buf += b"["
        for i, v in enumerate(cast(list[Any], data)):
            if i:
                buf += b","
            _write(buf, v, depth + 1)
        buf += b"]"
    else:
        buf += _ENCODE(data).encode("utf-8")


def dump_bytes(data: Any) -> bytes:
    """`data` as compact JSON (non-ASCII kept), newline-terminated, UTF-8."""
    buf = bytearray()
    _write(buf, data, 0)
    buf += b"\n"
    return bytes(buf)

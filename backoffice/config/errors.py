"""Turn pydantic validation errors into one line naming the file and the field."""

from __future__ import annotations

from pathlib import Path

from pydantic import ValidationError

from ..errors import ConfigError


def field_path(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def config_error(path: Path | str, e: ValidationError) -> ConfigError:
    errors = e.errors()
    first = errors[0]
    more = f" (and {len(errors) - 1} more problem(s))" if len(errors) > 1 else ""
    return ConfigError(f"{path}: field '{field_path(tuple(first['loc']))}': {first['msg']}{more}")

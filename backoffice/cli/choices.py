"""Command-line values with a fixed set of choices, checked once, here: a bad value is one
`error:` line (an InvalidArgumentError), and the command gets a typed value.

The choices themselves are `Literal` types of the layers that use them (`index.generate.Mode`,
`dynamic.environments.EnvManagerName`); `--help` lists them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any, TypeVar, get_args

from ..errors import InvalidArgumentError

T = TypeVar("T")

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+_-]{0,63}$")


def choice_of(literal: Any, what: str) -> Callable[[str], Any]:
    """A typer `parser` accepting exactly the values of the `Literal` type `literal`."""
    allowed: tuple[str, ...] = get_args(literal)

    def parse(value: str) -> Any:
        if value not in allowed:
            raise InvalidArgumentError(f"{what} must be {', '.join(allowed[:-1])} or {allowed[-1]}, not '{value}'")
        return value

    return parse


def draft_or_version(value: str) -> str:
    """`draft`, or text that can be a published version (what is published is checked later)."""
    if value == "draft" or _VERSION.fullmatch(value):
        return value
    raise InvalidArgumentError(f"'{value}' is neither `draft` nor a version")


def positive_seconds(value: str) -> float:
    """A number of seconds above 0 (not nan, not infinite): `--timeout`."""
    try:
        seconds = float(value)
    except ValueError:
        raise InvalidArgumentError(f"--timeout must be a number of seconds, not '{value}'") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidArgumentError(f"--timeout must be a number of seconds above 0, not '{value}'")
    return seconds


def port_number(value: str) -> int:
    """A TCP port, 1 to 65535: `--port`."""
    if not value.strip().isdigit() or not 1 <= int(value) <= 65535:
        raise InvalidArgumentError(f"--port must be a port number from 1 to 65535, not '{value}'")
    return int(value)


WHICH_HELP = "`draft` or a published version."

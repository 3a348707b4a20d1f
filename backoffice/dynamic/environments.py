"""Test environments: where a dynamic test runs (not to be confused with process
environment variables, which `util/child_environ` prepares).

- `current`: the running interpreter (must have the frameworks installed);
- `venv` and `micromamba`: an environment made from `env_templates/` for the
  weight format (see `env_builders` and `make-env`).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

EnvManagerName = Literal["current", "venv", "micromamba"]

DEFAULT_TIMEOUT = 30 * 60
"""Seconds a dynamic test may run before it is stopped."""


@dataclass(frozen=True)
class PreparedEnv:
    """An interpreter to run the test with, or why there is none."""

    python: Path | None
    description: str
    error: str | None = None
    """Why the environment could not be made (then `python` is None)."""
    output_tail: str = ""
    """Last lines of the environment build output."""
    cached: bool = False


def current_env() -> PreparedEnv:
    return PreparedEnv(Path(sys.executable), f"current interpreter {sys.executable}")

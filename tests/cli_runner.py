"""The `backoffice` command line in a subprocess, as a person or a workflow runs it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, cast

from backoffice.settings import Settings

REPO = Path(__file__).resolve().parents[1]

PASSED_SETTINGS = ("storage", "local_root", "config_path", "collection_dir", "env_templates_dir", "env_cache_dir",
                   "github_api_url", "github_repository", "download_allowed_hosts")
"""Settings handed to the subprocess as `BACKOFFICE_*` variables (secrets stay in the suite's environment)."""


def cli_environ(settings: Settings | None = None, **extra: str) -> dict[str, str]:
    """The suite's environment without GitHub Actions variables (so that the command writes
    no step outputs of a CI job running the suite), the source tree importable, `settings`'
    paths as `BACKOFFICE_*` variables, then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("GITHUB_")}
    env["PYTHONPATH"] = str(REPO)
    if settings is not None:
        for name in PASSED_SETTINGS:
            value = getattr(settings, name, None)  # a setting this version does not have: not passed
            if isinstance(value, tuple):
                env[f"BACKOFFICE_{name.upper()}"] = json.dumps(list(cast(tuple[str, ...], value)))
            elif value is not None:
                env[f"BACKOFFICE_{name.upper()}"] = str(value)
    env.update(extra)
    return env


def run_backoffice(args: Sequence[str], *, cwd: Path, env: dict[str, str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    """`python -m backoffice <args>` with `env`, its output captured as text."""
    return subprocess.run([sys.executable, "-m", "backoffice", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


class RunCli(Protocol):
    def __call__(self, args: Sequence[str], *, settings: Settings | None = None, cwd: Path | None = None,
                 timeout: float = 600, **extra: str) -> subprocess.CompletedProcess[str]: ...

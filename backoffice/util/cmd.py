"""Every subprocess goes through `run`: it logs the command and its outcome."""

from __future__ import annotations

import shlex
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..log import logger


@dataclass(frozen=True)
class CmdResult:
    """Outcome of one command."""

    args: list[str]
    returncode: int
    """Exit code (negative: killed by that signal); -1 when it timed out, -2 when it could not be started (see `started`)."""
    output: str
    """stdout and stderr, interleaved."""
    seconds: float
    timed_out: bool = False
    started: bool = True
    """False when the command could not be started at all."""

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.output.splitlines()[-lines:])


def run(
    args: Sequence[str | Path],
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    check: bool = False,
) -> CmdResult:
    """Run a command, capture its output, log what ran and how it ended.

    Never raises for a failing command unless `check` (then CalledProcessError).
    """
    argv = [str(a) for a in args]
    shown = shlex.join(argv)
    logger.info("+ %s", shown)
    start = time.monotonic()
    try:
        proc = subprocess.run(
            argv, cwd=cwd, env=dict(env) if env is not None else None, timeout=timeout,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace", check=False,
        )
    except subprocess.TimeoutExpired as e:
        out = e.stdout if isinstance(e.stdout, str) else (e.stdout or b"").decode(errors="replace")
        result = CmdResult(argv, -1, out, time.monotonic() - start, timed_out=True)
        logger.warning("command timed out after %.0f s: %s", timeout or 0, shown)
        return result
    except OSError as e:
        logger.warning("command could not start: %s (%s)", shown, e)
        return CmdResult(argv, -2, str(e), time.monotonic() - start, started=False)
    result = CmdResult(argv, proc.returncode, proc.stdout or "", time.monotonic() - start)
    logger.info("  exit %d after %.1f s", result.returncode, result.seconds)
    if check and not result.ok:
        raise subprocess.CalledProcessError(result.returncode, argv, result.output)
    return result

"""Every subprocess goes through `run`: it logs the command and its outcome."""

from __future__ import annotations

import contextlib
import shlex
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

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
    as_user: tuple[int, int] | None = None,
    output_file: bool = False,
    output_limit: int | None = None,
) -> CmdResult:
    """Run a command, capture its output, log what ran and how it ended.

    `as_user` (uid, gid): run it as that user and group with no supplementary group (root only;
    see `util/sandbox_user.py`). `output_file`: collect the output in a file, not a pipe, so the
    call returns when the command exits even if a process it left behind keeps its output open;
    `output_limit`: of such a file only the last that many bytes are read.
    Never raises for a failing command unless `check` (then CalledProcessError).
    """
    argv = [str(a) for a in args]
    shown = shlex.join(argv)
    logger.info("+ %s%s", shown, f" (as uid {as_user[0]})" if as_user else "")
    start = time.monotonic()
    with tempfile.TemporaryFile() if output_file else contextlib.nullcontext() as sink:
        try:
            proc = subprocess.run(
                argv, cwd=cwd, env=dict(env) if env is not None else None, timeout=timeout,
                stdout=subprocess.PIPE if sink is None else sink, stderr=subprocess.STDOUT, text=True, errors="replace",
                check=False, user=None if as_user is None else as_user[0], group=None if as_user is None else as_user[1],
                extra_groups=None if as_user is None else [],
            )
        except subprocess.TimeoutExpired as e:
            out = _collected(sink, e.stdout, output_limit)
            logger.warning("command timed out after %.0f s: %s", timeout or 0, shown)
            return CmdResult(argv, -1, out, time.monotonic() - start, timed_out=True)
        except OSError as e:
            logger.warning("command could not start: %s (%s)", shown, e)
            return CmdResult(argv, -2, str(e), time.monotonic() - start, started=False)
        result = CmdResult(argv, proc.returncode, _collected(sink, proc.stdout, output_limit), time.monotonic() - start)
    logger.info("  exit %d after %.1f s", result.returncode, result.seconds)
    if check and not result.ok:
        raise subprocess.CalledProcessError(result.returncode, argv, result.output)
    return result


def _collected(sink: IO[bytes] | None, captured: str | bytes | None, limit: int | None) -> str:
    if sink is not None:
        size = sink.seek(0, 2)
        sink.seek(max(0, size - limit) if limit is not None else 0)
        return sink.read().decode(errors="replace")
    return captured if isinstance(captured, str) else (captured or b"").decode(errors="replace")

"""The cache of built test environments: one folder per rendered env file (by its hash).

A marker file is written only after a build succeeded; a failed or interrupted build
leaves nothing that counts as cached (the half-built folder is removed, or removed by
the next attempt). Builds of the same environment by concurrent processes are
serialised with a lock file. Failures never raise: they return a `PreparedEnv` with
`python=None` and an error saying what failed, plus the tail of the build output.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from pathlib import Path

from ..log import logger
from ..util.cmd import CmdResult
from .env_render import RenderedEnv
from .environments import PreparedEnv

MARKER = ".backoffice-env-ready"
"""Written into an environment's folder after it was built successfully."""

BuildFn = Callable[[Path, list[str], float], None]
"""Builds an environment into a prefix; appends command output to the log; raises BuildFailed."""


class BuildFailed(Exception):
    def __init__(self, error: str, result: CmdResult | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.result = result


@contextmanager
def _locked(path: Path) -> Generator[None, None, None]:
    """An exclusive lock on `path` (a no-op where fcntl does not exist)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - not on Linux/macOS
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def python_in(prefix: Path) -> Path:
    return prefix / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def is_ready(prefix: Path) -> bool:
    """Whether `prefix` holds a completely built environment."""
    return (prefix / MARKER).is_file() and python_in(prefix).exists()


def build_cached(
    kind: str,
    rendered: RenderedEnv,
    cache_dir: Path,
    build: BuildFn,
    timeout: float,
) -> PreparedEnv:
    cache_dir = cache_dir.absolute()
    prefix = cache_dir / f"{kind}-{rendered.content_hash}"
    what = f"{kind} environment {prefix} ({rendered.framework} {rendered.framework_version})"
    try:
        with _locked(cache_dir / f"{kind}-{rendered.content_hash}.lock"):
            return _build_locked(kind, rendered, cache_dir, prefix, what, build, timeout)
    except OSError as e:  # e.g. an unwritable cache folder
        shutil.rmtree(prefix, ignore_errors=True)
        logger.error("the %s could not be built: %s", what, e)
        return PreparedEnv(None, what, error=f"{kind} build failed: {type(e).__name__}: {e}")


def _build_locked(
    kind: str, rendered: RenderedEnv, cache_dir: Path, prefix: Path, what: str, build: BuildFn, timeout: float
) -> PreparedEnv:
    if is_ready(prefix):
        logger.info("reusing the cached %s", what)
        return PreparedEnv(python_in(prefix), f"{what}, cached", cached=True)
    if prefix.exists():
        logger.warning("removing the incomplete %s left by an earlier build", what)
        shutil.rmtree(prefix, ignore_errors=True)
    logger.info("building the %s", what)
    started = time.monotonic()
    log: list[str] = []
    try:
        build(prefix, log, timeout)
    except BuildFailed as e:
        shutil.rmtree(prefix, ignore_errors=True)
        _write_log(cache_dir, kind, rendered, log)
        tail = e.result.tail(40) if e.result is not None else "\n".join("\n".join(log).splitlines()[-40:])
        logger.error("the %s could not be built: %s", what, e.error)
        return PreparedEnv(None, what, error=f"{kind} build failed: {e.error}", output_tail=tail)
    except Exception as e:  # a bug or an OS error must still end in a failed summary
        shutil.rmtree(prefix, ignore_errors=True)
        _write_log(cache_dir, kind, rendered, log)
        logger.exception("the %s could not be built", what)
        return PreparedEnv(None, what, error=f"{kind} build failed: {type(e).__name__}: {e}")
    seconds = time.monotonic() - started
    _ = (prefix / "environment.yaml").write_text(rendered.text, encoding="utf-8")
    marker = {"content_hash": rendered.content_hash, "weight_format": rendered.weight_format,
              "built": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "seconds": round(seconds, 1)}
    _ = (prefix / MARKER).write_text(json.dumps(marker, indent=1), encoding="utf-8")
    _write_log(cache_dir, kind, rendered, log)
    logger.info("built the %s in %.0f s", what, seconds)
    return PreparedEnv(python_in(prefix), f"{what}, built in {seconds:.0f} s")


def _write_log(cache_dir: Path, kind: str, rendered: RenderedEnv, log: list[str]) -> None:
    try:
        _ = (cache_dir / f"{kind}-{rendered.content_hash}.log").write_text("\n".join(log), encoding="utf-8")
    except OSError:
        pass

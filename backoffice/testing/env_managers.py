"""Environment managers: make the environment a rendered env file describes.

- `current`: the running interpreter (nothing is built);
- `venv`: an isolated virtual environment (`python -m venv` + pip from the package
  registry), the conda file translated to pip requirements by `CONDA_TO_PIP`; the
  way to test on a machine without conda channels;
- `micromamba`: `micromamba create -p <cache>/micromamba-<hash> -f <file> -y`, as the
  test workflow does.

Environments are cached under `cache_dir` by the hash of the rendered file: a
second test needing the same file builds nothing. A marker file is written only
after a build succeeded; a failed or interrupted build leaves nothing that counts
as cached (the half-built folder is removed, or removed by the next attempt).
Builds of the same environment by concurrent processes are serialised with a lock
file. Failures never raise: they return a `PreparedEnv` with `python=None` and an
error saying what failed, plus the tail of the build output.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Generator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..bioimageio_env import _DEAD_ENDPOINT  # pyright: ignore[reportPrivateUsage]
from ..log import logger
from ..util.child_env import child_env
from ..util.cmd import CmdResult, run
from .env_render import RenderedEnv, package_name
from .envs import PreparedEnv, current_env

if TYPE_CHECKING:
    from ..context import Context

MARKER = ".backoffice-env-ready"
"""Written into an environment's folder after it was built successfully."""

BUILD_TIMEOUT = 60 * 60
"""Seconds one build command (venv creation, a pip install, micromamba create) may take."""

CONDA_TO_PIP: dict[str, str | None] = {
    "pytorch": "torch",
    "pytorch-cpu": "torch",
    "pytorch-gpu": "torch",
    "tensorflow": "tensorflow-cpu",
    "tensorflow-base": "tensorflow-cpu",
    "tensorflow-gpu": "tensorflow-cpu",
    "py-opencv": "opencv-python-headless",
    "opencv": "opencv-python-headless",
    "pytables": "tables",
    "python": None,
    "pip": None,
    "cpuonly": None,
    "pytorch-cuda": None,
    "pytorch-mutex": None,
    "cudatoolkit": None,
    "cuda-version": None,
    "cudnn": None,
    "nomkl": None,
    "mkl": None,
}
"""conda package name -> pip distribution name; None: not installed in a venv.
Names not listed are the same on conda-forge and PyPI."""

LOCAL_WHEEL_ONLY: frozenset[str] = frozenset({"torch"})
"""Installed with `pip install --no-index`, i.e. only from pip's configured find-links
(a local CPU wheel), and then held at that version by a constraint: from the index,
pip would download gigabytes of CUDA packages with torch."""

BuildFn = Callable[[Path, list[str], float], None]
"""Builds an environment into a prefix; appends command output to the log; raises _BuildFailed."""

NOT_FROM_INDEX = "not-from-the-index"
"""Version of the constraint that keeps a LOCAL_WHEEL_ONLY package out when nothing asks for it."""

FRAMEWORK_MODULE: dict[str, str] = {"pytorch": "torch", "tensorflow": "tensorflow", "onnx": "onnxruntime"}
"""Module imported to check a freshly built environment."""


# -------------------------------------------------------------------------
# conda spec -> pip requirement
# -------------------------------------------------------------------------

_MATCH_SPEC = re.compile(r"^(?P<name>[A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(?P<rest>.*)$")


def conda_to_pip(spec: str) -> tuple[str | None, str | None]:
    """(pip requirement or None when dropped, warning or None) for a conda match spec."""
    spec = spec.split("::", 1)[-1].strip()
    m = _MATCH_SPEC.match(spec)
    if not m:
        return None, f"conda dependency {spec!r} could not be translated to pip; it was left out"
    conda_name = m.group("name")
    pip_name = CONDA_TO_PIP.get(conda_name.lower(), conda_name)
    if pip_name is None:
        return None, None
    rest = m.group("rest").strip()
    if not rest:
        return pip_name, None
    if "|" in rest:
        return pip_name, f"conda version {rest!r} of {conda_name} has no pip equivalent; any version is installed"
    version = rest.replace(" ", "") if re.match(r"^[<>=!~]", rest) else rest.split()[0]
    if version.startswith("="):  # `==1.2` exact; `=1.2=build` / `=1.2` fuzzy (1.2.*)
        exact = version.startswith("==")
        version = version.lstrip("=").split("=", 1)[0]
        spec_pip = f"=={version}" if exact or version.endswith("*") else f"=={version}.*"
    elif re.match(r"^[<>!~]", version):
        spec_pip = version
    else:  # `name 1.2 [build]`: fuzzy
        spec_pip = f"=={version}" if version.endswith("*") else f"=={version}.*"
    try:
        return str(Requirement(pip_name + spec_pip)), None
    except InvalidRequirement:
        return pip_name, f"conda version {rest!r} of {conda_name} has no pip equivalent; any version is installed"


def pip_requirements(rendered: RenderedEnv) -> tuple[list[str], list[str]]:
    """(pip requirements, warnings) installing what `rendered` describes into a venv."""
    reqs: list[str] = []
    warnings: list[str] = []
    for dep in rendered.conda_dependencies:
        req, warning = conda_to_pip(dep)
        if warning:
            warnings.append(warning)
        if req and req not in reqs:
            reqs.append(req)
    for line in rendered.pip_dependencies:
        if line not in reqs:
            reqs.append(line)
    return reqs, warnings


# -------------------------------------------------------------------------
# cache folders
# -------------------------------------------------------------------------


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


def _python_in(prefix: Path) -> Path:
    return prefix / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def is_ready(prefix: Path) -> bool:
    """Whether `prefix` holds a completely built environment."""
    return (prefix / MARKER).is_file() and _python_in(prefix).exists()


def _build_env() -> dict[str, str]:
    """Environment variables for build commands: without credentials or our interpreter's
    paths, and without the dead proxy that keeps bioimageio offline (pip must reach its registry)."""
    env = child_env()  # installs run the description's dependencies' build code: no credentials
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        if env.get(name) == _DEAD_ENDPOINT:
            del env[name]
    return env


class _BuildFailed(Exception):
    def __init__(self, error: str, result: CmdResult | None = None) -> None:
        super().__init__(error)
        self.error = error
        self.result = result


def _last_error_line(result: CmdResult) -> str:
    lines = [ln.strip() for ln in result.output.splitlines() if ln.strip()]
    if NOT_FROM_INDEX in result.output:
        needs = [ln for ln in lines if re.search(r"depends on (" + "|".join(sorted(LOCAL_WHEEL_ONLY)) + r")\b", ln)]
        return ((needs[0] + ": ") if needs else "") + (
            f"{', '.join(sorted(LOCAL_WHEEL_ONLY))} would come from the package index; the venv manager installs it"
            " only from local wheels, so the env file must ask for it (e.g. `pytorch==<version>`)"
        )
    for ln in reversed(lines):
        if ln.startswith("ERROR:") or "Error" in ln:
            return ln
    return lines[-1] if lines else "no output"


def _step(args: list[str | Path], what: str, log: list[str], timeout: float) -> CmdResult:
    result = run(args, env=_build_env(), timeout=timeout)
    log.append(f"$ {' '.join(str(a) for a in args)}\n{result.output}\n(exit {result.returncode} after {result.seconds:.1f} s)\n")
    if not result.ok:
        if result.timed_out:
            raise _BuildFailed(f"{what} did not finish within {timeout:.0f} s", result)
        raise _BuildFailed(f"{what} failed (exit code {result.returncode}): {_last_error_line(result)}", result)
    return result


def _build_cached(
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
        return PreparedEnv(_python_in(prefix), f"{what}, cached", cached=True)
    if prefix.exists():
        logger.warning("removing the incomplete %s left by an earlier build", what)
        shutil.rmtree(prefix, ignore_errors=True)
    logger.info("building the %s", what)
    started = time.monotonic()
    log: list[str] = []
    try:
        build(prefix, log, timeout)
    except _BuildFailed as e:
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
    return PreparedEnv(_python_in(prefix), f"{what}, built in {seconds:.0f} s")


def _write_log(cache_dir: Path, kind: str, rendered: RenderedEnv, log: list[str]) -> None:
    try:
        _ = (cache_dir / f"{kind}-{rendered.content_hash}.log").write_text("\n".join(log), encoding="utf-8")
    except OSError:
        pass


# -------------------------------------------------------------------------
# venv
# -------------------------------------------------------------------------


def _base_python(wanted: str) -> tuple[str, str | None]:
    """An interpreter of the Python version the env file asks for (else the running one)."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if wanted in ("", running):
        return sys.executable, None
    found = shutil.which(f"python{wanted}")
    if found:
        return found, None
    return sys.executable, f"Python {wanted} is not installed here; the venv uses Python {running}"


def _venv_builder(rendered: RenderedEnv) -> tuple[BuildFn, list[str]]:
    reqs, warnings = pip_requirements(rendered)
    base, warning = _base_python(rendered.python_version)
    if warning:
        warnings.append(warning)
    local = [r for r in reqs if package_name(r) in {canonicalize_name(n) for n in LOCAL_WHEEL_ONLY}]

    def build(prefix: Path, log: list[str], timeout: float) -> None:
        _step([base, "-m", "venv", prefix], "creating the venv", log, timeout)
        python = _python_in(prefix)
        _ = (prefix / "requirements.txt").write_text("\n".join(reqs) + "\n", encoding="utf-8")
        constraints: list[str] = []
        if local:
            _step([python, "-m", "pip", "install", "--no-index", "--no-deps", *local],
                  f"installing {', '.join(local)} from local wheels only (pip find-links; never from the index)", log, timeout)
            names = [Requirement(r).name for r in local]
            got = _step([python, "-c", "import sys, importlib.metadata as m; print(' '.join(m.version(n) for n in sys.argv[1:]))", *names],
                        "reading the installed local wheels' versions", log, timeout)
            constraints = [f"{n}=={v}" for n, v in zip(names, got.output.split())]
        # a local-wheel-only package that is not asked for must not come in as a dependency either
        constraints += [f"{n}==={NOT_FROM_INDEX}" for n in sorted(LOCAL_WHEEL_ONLY) if n not in {package_name(r) for r in local}]
        _ = (prefix / "constraints.txt").write_text("\n".join(constraints) + "\n", encoding="utf-8")
        _step([python, "-m", "pip", "install", "-r", prefix / "requirements.txt", "-c", prefix / "constraints.txt"],
              "pip install", log, timeout)
        module = FRAMEWORK_MODULE.get(rendered.framework)
        check = "import bioimageio.core" + (f"; import {module}" if module else "")
        _step([python, "-c", check], f"checking the environment (`{check}`)", log, timeout)

    return build, warnings


# -------------------------------------------------------------------------
# micromamba
# -------------------------------------------------------------------------


def find_micromamba() -> str | None:
    exe = shutil.which("micromamba")
    if exe:
        return exe
    mamba_exe = os.environ.get("MAMBA_EXE")
    return mamba_exe if mamba_exe and Path(mamba_exe).is_file() else None


def _micromamba_builder(rendered: RenderedEnv, exe: str) -> BuildFn:
    def build(prefix: Path, log: list[str], timeout: float) -> None:
        env_file = prefix.parent / f"{prefix.name}.yaml"
        _ = env_file.write_text(rendered.text, encoding="utf-8")
        _step([exe, "create", "-p", prefix, "-f", env_file, "-y"], "micromamba create", log, timeout)
        module = FRAMEWORK_MODULE.get(rendered.framework)
        check = "import bioimageio.core" + (f"; import {module}" if module else "")
        _step([_python_in(prefix), "-c", check], f"checking the environment (`{check}`)", log, timeout)

    return build


# -------------------------------------------------------------------------
# entry point
# -------------------------------------------------------------------------


def prepare_env(
    manager: str,
    rendered: RenderedEnv | None,
    cache_dir: Path,
    *,
    timeout: float = BUILD_TIMEOUT,
) -> PreparedEnv:
    """The environment to run a test in; never raises (a failure is a PreparedEnv with an error)."""
    if manager == "current":
        return current_env()
    if rendered is None:
        return PreparedEnv(None, f"{manager} environment", error="no environment file was rendered")
    if manager == "venv":
        build, warnings = _venv_builder(rendered)
        for w in warnings:
            logger.warning("%s", w)
        return _build_cached("venv", rendered, cache_dir, build, timeout)
    if manager == "micromamba":
        exe = find_micromamba()
        if exe is None:
            return PreparedEnv(
                None, "micromamba environment",
                error="micromamba was not found (not on PATH, MAMBA_EXE not set): it is needed to create"
                + " the environment from the rendered file; install micromamba or use --env-manager venv",
            )
        return _build_cached("micromamba", rendered, cache_dir, _micromamba_builder(rendered, exe), timeout)
    return PreparedEnv(None, f"{manager} environment", error=f"unknown environment manager '{manager}' (use current, venv or micromamba)")


def existing_env(prefix: Path, manager: str) -> PreparedEnv:
    """An environment created beforehand (e.g. by the workflow's setup-micromamba step)."""
    python = prefix / "bin" / "python"
    if python.is_file():
        return PreparedEnv(python, f"{manager} environment at {prefix}")
    return PreparedEnv(
        None, f"{manager} environment at {prefix}",
        error=f"no environment at {prefix}: creating it from the rendered file failed in an earlier step (see that step's log)",
    )


def environment_for_test(
    ctx: Context, concept_id: str, which: str, weight_format: str, manager: str, prefix: Path | None = None
) -> PreparedEnv:
    """Render the env file for a weight format of a draft/version and prepare it with `manager`
    (or take the environment already created at `prefix`).

    Framework-version and dependency warnings are logged and noted in the environment's
    description (which goes into the stored summary). A file that cannot be rendered
    gives a PreparedEnv with an error (the test then stores a failed summary).
    Targets without such weights get the current interpreter: the test step reports them.
    """
    from ..validate.target import resolve_target
    from .env_inputs import render_for_target
    from .env_render import EnvRenderError
    from .formats import WEIGHT_FORMATS

    if manager == "current":
        return current_env()
    target = resolve_target(ctx, concept_id, which)
    info = WEIGHT_FORMATS.get(weight_format)
    if target.record.type != "model" or weight_format not in target.summary.weight_formats or info is None or not info.dynamic:
        return current_env()  # nothing to build: the test step refuses or checks statically
    try:
        rendered = render_for_target(ctx, target, weight_format)
    except EnvRenderError as e:
        logger.error("%s", e)
        return PreparedEnv(None, f"{manager} environment", error=f"the environment file could not be rendered: {e}")
    for warning in rendered.warnings:
        logger.warning("%s", warning)
    env = existing_env(prefix, manager) if prefix is not None else prepare_env(manager, rendered, ctx.settings.env_cache_dir)
    if rendered.warnings:
        env = replace(env, description=env.description + " [warnings: " + "; ".join(rendered.warnings) + "]")
    return env

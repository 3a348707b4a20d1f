"""Environment managers: make the environment a rendered env file describes.

- `current`: the running interpreter (nothing is built);
- `venv`: an isolated virtual environment (`python -m venv` + pip from the package
  registry), the conda file translated to pip requirements (`conda_pip`); the way to
  test on a machine without conda channels;
- `micromamba`: `micromamba create -p <cache>/micromamba-<hash> -f <file> -y`, as the
  test workflow does.

Builders are a registry keyed by manager name (`BUILDERS`); built environments are
cached by `env_cache`. Build commands get a process environment without credentials:
installs run the description's dependencies' build code.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from ..bioimageio_environ import _DEAD_ENDPOINT  # pyright: ignore[reportPrivateUsage]
from ..context import Context
from ..log import logger
from ..records.target import resolve_target
from ..util.child_environ import child_environ
from ..util.cmd import CmdResult, run
from ..resource_types import has_weights
from ..weight_formats import FRAMEWORKS, WEIGHT_FORMATS
from .conda_pip import LOCAL_WHEEL_ONLY, NOT_FROM_INDEX, pip_requirements
from .env_cache import BuildFailed, BuildFn, build_cached, python_in
from .env_inputs import render_for_target
from .env_render import EnvRenderError, RenderedEnv, package_name
from .environments import PreparedEnv, current_env

BUILD_TIMEOUT = 60 * 60
"""Seconds one build command (venv creation, a pip install, micromamba create) may take."""


def _build_environ() -> dict[str, str]:
    """Environment variables for build commands: without credentials or our interpreter's
    paths, and without the dead proxy that keeps bioimageio offline (pip must reach its registry)."""
    env = child_environ()  # installs run the description's dependencies' build code: no credentials
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        if env.get(name) == _DEAD_ENDPOINT:
            del env[name]
    return env


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
    result = run(args, env=_build_environ(), timeout=timeout)
    log.append(f"$ {' '.join(str(a) for a in args)}\n{result.output}\n(exit {result.returncode} after {result.seconds:.1f} s)\n")
    if not result.ok:
        if result.timed_out:
            raise BuildFailed(f"{what} did not finish within {timeout:.0f} s", result)
        raise BuildFailed(f"{what} failed (exit code {result.returncode}): {_last_error_line(result)}", result)
    return result


def _base_python(wanted: str) -> tuple[str, str | None]:
    """An interpreter of the Python version the env file asks for (else the running one)."""
    running = f"{sys.version_info.major}.{sys.version_info.minor}"
    if wanted in ("", running):
        return sys.executable, None
    found = shutil.which(f"python{wanted}")
    if found:
        return found, None
    return sys.executable, f"Python {wanted} is not installed here; the venv uses Python {running}"


@dataclass(frozen=True)
class Builder:
    """How one manager builds one rendered env file, or why it cannot."""

    build: BuildFn | None
    warnings: list[str] = field(default_factory=lambda: list[str]())
    error: str | None = None


def _check_command(rendered: RenderedEnv) -> str:
    """Python code that imports what a built environment must have."""
    framework = FRAMEWORKS.get(rendered.framework)
    return "import bioimageio.core" + (f"; import {framework.module}" if framework else "")


def _venv_builder(rendered: RenderedEnv) -> Builder:
    reqs, warnings = pip_requirements(rendered)
    base, warning = _base_python(rendered.python_version)
    if warning:
        warnings.append(warning)
    local = [r for r in reqs if package_name(r) in {canonicalize_name(n) for n in LOCAL_WHEEL_ONLY}]

    def build(prefix: Path, log: list[str], timeout: float) -> None:
        _step([base, "-m", "venv", prefix], "creating the venv", log, timeout)
        python = python_in(prefix)
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
        check = _check_command(rendered)
        _step([python, "-c", check], f"checking the environment (`{check}`)", log, timeout)

    return Builder(build, warnings)


def find_micromamba() -> str | None:
    exe = shutil.which("micromamba")
    if exe:
        return exe
    mamba_exe = os.environ.get("MAMBA_EXE")
    return mamba_exe if mamba_exe and Path(mamba_exe).is_file() else None


def _micromamba_builder(rendered: RenderedEnv) -> Builder:
    exe = find_micromamba()
    if exe is None:
        return Builder(None, error="micromamba was not found (not on PATH, MAMBA_EXE not set): it is needed to create"
                       " the environment from the rendered file; install micromamba or use --env-manager venv")

    def build(prefix: Path, log: list[str], timeout: float) -> None:
        env_file = prefix.parent / f"{prefix.name}.yaml"
        _ = env_file.write_text(rendered.text, encoding="utf-8")
        _step([exe, "create", "-p", prefix, "-f", env_file, "-y"], "micromamba create", log, timeout)
        check = _check_command(rendered)
        _step([python_in(prefix), "-c", check], f"checking the environment (`{check}`)", log, timeout)

    return Builder(build)


BUILDERS: dict[str, Callable[[RenderedEnv], Builder]] = {"venv": _venv_builder, "micromamba": _micromamba_builder}
"""Environment managers that build, by name (`current` builds nothing)."""


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
    make = BUILDERS.get(manager)
    if make is None:
        known = ", ".join(["current", *BUILDERS])
        return PreparedEnv(None, f"{manager} environment", error=f"unknown environment manager '{manager}' (use {known})")
    if rendered is None:
        return PreparedEnv(None, f"{manager} environment", error="no environment file was rendered")
    builder = make(rendered)
    for warning in builder.warnings:
        logger.warning("%s", warning)
    if builder.build is None:
        return PreparedEnv(None, f"{manager} environment", error=builder.error)
    return build_cached(manager, rendered, cache_dir, builder.build, timeout)


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
    if manager == "current":
        return current_env()
    target = resolve_target(ctx.concepts, concept_id, which)
    info = WEIGHT_FORMATS.get(weight_format)
    if not has_weights(target.record.type) or weight_format not in target.summary.weight_formats or info is None or not info.dynamic:
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

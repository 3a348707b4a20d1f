"""Translate a rendered conda environment file into pip requirements for a venv.

Pure functions over data: which conda package is which pip distribution, which
packages come only from local wheels (torch: the CPU build; from the index pip would
pull gigabytes of CUDA packages), and how conda match specs read as pip specifiers.
"""

from __future__ import annotations

import re

from packaging.requirements import InvalidRequirement, Requirement

from .env_render import RenderedEnv

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

NOT_FROM_INDEX = "not-from-the-index"
"""Version of the constraint that keeps a LOCAL_WHEEL_ONLY package out when nothing asks for it."""


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

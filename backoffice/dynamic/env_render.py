"""Render the conda environment file a weight format is tested in.

One jinja2 template, `env_templates/default.yaml.j2`, serves every weight format, with the
framework package as a variable; a format that really differs gets its own
`env_templates/<weight_format>.yaml.j2`, which is then used instead.
Templates are rendered in jinja2's sandbox with strict undefined variables; all
logic (which framework version, which extra dependencies) is here, in Python:

- the framework version comes from the description (`pytorch_version`,
  `tensorflow_version`, `opset_version`), mapped to a supported release by
  `framework_versions.nearest_release` (a warning when it is not the one asked for);
- the description's own environment file, where it gives one (weights entry
  `dependencies` in spec 0.4: `conda:env.yaml` / `pip:requirements.txt`; in 0.5
  `weights.<wf>.dependencies` or `weights.<wf>.architecture.dependencies`), is
  merged in: its conda and pip dependencies, except the packages the template pins
  itself (python, pip, the framework, bioimageio.core and its companions);
- the pip section pins bioimageio.core (and bioimageio.spec, pydantic) at the
  versions the backoffice is tested with.

Templates see these variables: `env_name`, `python_version`, `framework_package`, `framework_version`,
`conda_dependencies`, `core_requirements`, `pip_dependencies`, and the filter `q`
(quotes a string as a YAML/JSON scalar, so no description text can break the file).

The rendered text is checked: it must parse as YAML into a conda environment
(`name`, `channels`, `dependencies`) and every pip line must be a valid requirement.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field
from importlib.metadata import version as dist_version
from pathlib import Path, PurePosixPath
from typing import Any, cast

import jinja2
from jinja2.sandbox import SandboxedEnvironment
from packaging.requirements import InvalidRequirement, Requirement
from packaging.utils import canonicalize_name

from ..errors import DynamicTestError
from ..weight_formats import FRAMEWORKS, WEIGHT_FORMATS
from ..util.yaml_guard import YamlRefused, load_yaml
from .framework_versions import nearest_release


class EnvRenderError(DynamicTestError):
    """No valid environment file could be rendered for a weight format."""


ALWAYS_PINNED: frozenset[str] = frozenset({"python", "pip", "bioimageio.core", "bioimageio.spec", "pydantic"})
"""Packages the template always pins (a description's own pin of them is dropped)."""

CORE_COMPANION_PINS: dict[str, str] = {"pydantic": ">=2.10,<2.12"}
"""Pins that go with bioimageio.core: bioimageio.spec 0.5.12 cannot serialise descriptions under pydantic >= 2.12."""

ALLOWED_CHANNELS: frozenset[str] = frozenset({"conda-forge", "nodefaults"})

DEPENDENCY_LOCATIONS: tuple[tuple[str, ...], ...] = (("dependencies",), ("architecture", "dependencies"))
"""Where, inside a weights entry, a description points to its environment file."""

_CONDA_SPEC = re.compile(r"^(?:[A-Za-z0-9_.\-]+::)?[A-Za-z0-9_][A-Za-z0-9_.\-]*(?:\s*[=<>!~,.*|0-9A-Za-z_+\-\s]*)?$")
"""A conda match spec as found in environment files (`name`, `name=1.2`, `name >=1,<2`, `ch::name`)."""


@dataclass(frozen=True)
class RenderedEnv:
    """A rendered conda environment file for testing one weight format."""

    text: str
    weight_format: str
    content_hash: str
    """sha256 of `text` (first 16 hex digits): environments are cached by it."""
    warnings: tuple[str, ...] = ()
    framework: str = ""
    framework_version: str = ""
    python_version: str = ""
    data: dict[str, Any] = field(default_factory=dict[str, Any], compare=False, repr=False)
    """`text` parsed."""

    @property
    def conda_dependencies(self) -> list[str]:
        return [d for d in self.data.get("dependencies", []) if isinstance(d, str)]

    @property
    def pip_dependencies(self) -> list[str]:
        for d in self.data.get("dependencies", []):
            if isinstance(d, dict) and "pip" in d:
                return [str(x) for x in cast(dict[str, Any], d)["pip"]]
        return []


def core_requirements() -> list[str]:
    """bioimageio.core and bioimageio.spec at the versions installed here, plus companion pins."""
    reqs = [f"{name}=={dist_version(name)}" for name in ("bioimageio.core", "bioimageio.spec")]
    reqs += [f"{name}{spec}" for name, spec in CORE_COMPANION_PINS.items()]
    return reqs


def package_name(dep: str) -> str:
    """The package name of a conda match spec or a pip requirement (`ch::name>=1` -> `name`)."""
    dep = dep.split("::", 1)[-1].strip()
    m = re.match(r"[A-Za-z0-9_][A-Za-z0-9_.\-]*", dep)
    return canonicalize_name(m.group(0)) if m else dep


def _canonical(names: frozenset[str]) -> frozenset[str]:
    return frozenset(canonicalize_name(n) for n in names)


# -------------------------------------------------------------------------
# the description's own environment file
# -------------------------------------------------------------------------


def _dependency_refs(entry: dict[str, Any]) -> list[Any]:
    refs: list[Any] = []
    for path in DEPENDENCY_LOCATIONS:
        node: Any = entry
        for key in path:
            node = cast(dict[str, Any], node).get(key) if isinstance(node, dict) else None
        if node:
            refs.append(node)
    return refs


def _resolve_file(folder: Path | None, source: str) -> tuple[Path | None, str | None]:
    if re.match(r"^[a-z][a-z0-9+.\-]*://", source, re.I):
        return None, f"the environment file {source} is a URL and was not fetched; its dependencies are missing"
    rel = PurePosixPath(source.replace("\\", "/"))
    if rel.is_absolute() or ".." in rel.parts:
        return None, f"the environment file path {source!r} leaves the package; it was ignored"
    if folder is None:
        return None, f"the environment file {source} was not available; its dependencies are missing"
    path = folder / rel
    if not path.is_file():
        return None, f"the environment file {source} is not in the package; its dependencies are missing"
    return path, None


def _read_conda_file(path: Path, warnings: list[str]) -> tuple[list[str], list[str]]:
    try:
        data: Any = load_yaml(path.read_bytes(), f"the environment file {path.name}")  # the guard first: no YAML bomb expanded
    except YamlRefused as e:
        warnings.append(f"{e}; it was ignored")
        return [], []
    if not isinstance(data, dict):
        warnings.append(f"the environment file {path.name} is not a conda environment; it was ignored")
        return [], []
    data = cast(dict[str, Any], data)
    channels = [str(c) for c in cast(list[Any], data.get("channels") or [])]
    dropped = [c for c in channels if c not in ALLOWED_CHANNELS | {"defaults"}]
    if dropped:
        warnings.append(f"channels {', '.join(dropped)} of {path.name} are not used (conda-forge only)")
    conda: list[str] = []
    pip: list[str] = []
    for dep in cast(list[Any], data.get("dependencies") or []):
        if isinstance(dep, dict) and "pip" in dep:
            pip += [str(x) for x in cast(list[Any], cast(dict[str, Any], dep)["pip"] or [])]
        elif isinstance(dep, (str, int, float)):
            conda.append(str(dep))
        else:
            warnings.append(f"{path.name}: dependency {dep!r} was not understood and ignored")
    return conda, pip


def _read_pip_file(path: Path) -> list[str]:
    return path.read_text(encoding="utf-8", errors="replace").splitlines()


def description_dependencies(
    entry: dict[str, Any], folder: Path | None, warnings: list[str]
) -> tuple[list[str], list[str]]:
    """(conda dependencies, pip lines) of the environment file(s) a weights entry refers to."""
    conda: list[str] = []
    pip: list[str] = []
    for ref in _dependency_refs(entry):
        source = cast(dict[str, Any], ref).get("source") if isinstance(ref, dict) else ref
        if not isinstance(source, str) or not source.strip():
            warnings.append(f"dependencies {ref!r} is not a file reference; it was ignored")
            continue
        manager, _, rest = source.partition(":")
        if rest and manager in ("conda", "mamba", "pip") and not rest.startswith("//"):
            source = rest.strip()
        elif rest and not rest.startswith("//") and len(manager) > 1:
            warnings.append(f"dependencies of type '{manager}' ({source}) are not supported; they were ignored")
            continue
        else:
            manager = "pip" if source.endswith(".txt") else "conda"
        path, problem = _resolve_file(folder, source)
        if path is None:
            warnings.append(problem or f"the environment file {source} was ignored")
            continue
        if manager == "pip":
            pip += _read_pip_file(path)
        else:
            c, p = _read_conda_file(path, warnings)
            conda += c
            pip += p
    return conda, pip


def _merge(
    framework: str, conda_in: list[str], pip_in: list[str], warnings: list[str]
) -> tuple[list[str], list[str]]:
    pinned = _canonical(ALWAYS_PINNED | FRAMEWORKS[framework].packages)
    conda: list[str] = []
    for dep in conda_in:
        dep = dep.strip()
        if not dep:
            continue
        name = package_name(dep)
        if name in pinned:
            if dep.split("::", 1)[-1].strip() != name:
                warnings.append(f"the description's pin '{dep}' is replaced by the template's own")
            continue
        if not _CONDA_SPEC.match(dep):
            warnings.append(f"conda dependency {dep!r} is not a valid match spec; it was ignored")
            continue
        if "::" in dep and dep.split("::", 1)[0] not in ALLOWED_CHANNELS:
            warnings.append(f"conda dependency {dep!r} names a channel other than {', '.join(sorted(ALLOWED_CHANNELS))}; it was ignored")
            continue
        if dep not in conda:
            conda.append(dep)
    pip: list[str] = []
    for line in pip_in:
        line = line.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("-"):
            warnings.append(f"pip option {line!r} is not supported in a test environment; it was ignored")
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as e:
            warnings.append(f"pip requirement {line!r} is invalid ({' '.join(str(e).split())}); it was ignored")
            continue
        if req.url:
            warnings.append(f"pip requirement {line!r} installs from a URL, not the package index; it was ignored")
            continue
        if canonicalize_name(req.name) in pinned:
            if str(req.specifier) or req.url:
                warnings.append(f"the description's pin '{line}' is replaced by the template's own")
            continue
        if str(req) not in pip:
            pip.append(str(req))
    return conda, pip


# -------------------------------------------------------------------------
# rendering and checking
# -------------------------------------------------------------------------


def _quote(value: object) -> str:
    return json.dumps(str(value), ensure_ascii=False)


def _jinja(templates_dir: Path) -> SandboxedEnvironment:
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        autoescape=False,
    )
    env.filters["q"] = _quote
    return env


def check_env_text(text: str) -> dict[str, Any]:
    """Parse a rendered conda environment file; raise EnvRenderError naming the first problem."""
    try:
        data: Any = load_yaml(text, "the rendered environment file")
    except YamlRefused as e:
        raise EnvRenderError(str(e)) from None
    if not isinstance(data, dict):
        raise EnvRenderError("the rendered environment file is not a mapping")
    data = cast(dict[str, Any], data)
    if not isinstance(data.get("name"), str) or not data["name"]:
        raise EnvRenderError("the rendered environment file has no `name`")
    channels = data.get("channels")
    if not isinstance(channels, list) or not all(isinstance(c, str) for c in cast(list[Any], channels)):
        raise EnvRenderError("the rendered environment file has no list of `channels`")
    deps = data.get("dependencies")
    if not isinstance(deps, list):
        raise EnvRenderError("the rendered environment file has no list of `dependencies`")
    for dep in cast(list[Any], deps):
        if isinstance(dep, str):
            if not _CONDA_SPEC.match(dep):
                raise EnvRenderError(f"the rendered environment file has an invalid conda dependency {dep!r}")
        elif isinstance(dep, dict) and list(cast(dict[str, Any], dep)) == ["pip"]:
            pip = cast(dict[str, Any], dep)["pip"]
            if not isinstance(pip, list):
                raise EnvRenderError("the rendered environment file's pip section is not a list")
            for line in cast(list[Any], pip):
                try:
                    Requirement(str(line))
                except InvalidRequirement as e:
                    raise EnvRenderError(
                        f"the rendered environment file has an invalid pip requirement {line!r}: {' '.join(str(e).split())}"
                    ) from None
        else:
            raise EnvRenderError(f"the rendered environment file has an unexpected dependency {dep!r}")
    return data


DEFAULT_TEMPLATE = "default.yaml.j2"
"""The template of every weight format that has no template of its own."""


def template_for(weight_format: str, templates_dir: Path) -> str:
    """`<weight_format>.yaml.j2` where a format really differs, else the default template."""
    own = f"{weight_format}.yaml.j2"
    return own if (templates_dir / own).is_file() else DEFAULT_TEMPLATE


def render_env(
    weight_format: str,
    content: dict[str, Any],
    templates_dir: Path,
    package_folder: Path | None = None,
) -> RenderedEnv:
    """Render the environment template of `weight_format` for a description (its raw YAML content)."""
    info = WEIGHT_FORMATS.get(weight_format)
    if info is None or not info.dynamic:
        raise EnvRenderError(f"weight format '{weight_format}' is not tested dynamically: it has no environment")
    weights = content.get("weights")
    entry = cast(dict[str, Any], weights).get(weight_format) if isinstance(weights, dict) else None
    if not isinstance(entry, dict):
        raise EnvRenderError(f"the description has no '{weight_format}' weights")
    entry = cast(dict[str, Any], entry)
    warnings: list[str] = []
    framework = FRAMEWORKS[info.framework]
    wanted = entry.get(framework.version_field)
    release, warning = nearest_release(info.framework, None if wanted is None else str(wanted))
    if warning:
        warnings.append(warning)
    conda_in, pip_in = description_dependencies(entry, package_folder, warnings)
    conda, pip = _merge(info.framework, [*release.conda_extras, *conda_in], pip_in, warnings)
    variables: dict[str, Any] = {
        "env_name": f"bioimageio-test-{info.framework}-{release.version}",
        "python_version": release.python,
        "framework_package": framework.conda_package,
        "framework_version": release.version,
        "conda_dependencies": conda,
        "core_requirements": core_requirements(),
        "pip_dependencies": pip,
    }
    template_name = template_for(weight_format, templates_dir)
    try:
        text = _jinja(templates_dir).get_template(template_name).render(**variables)
    except jinja2.TemplateNotFound:
        raise EnvRenderError(f"there is no environment template {template_name} in {templates_dir}") from None
    except jinja2.TemplateError as e:  # includes the sandbox's SecurityError and undefined variables
        raise EnvRenderError(f"the environment template {template_name} failed to render: {type(e).__name__}: {e}") from None
    if not text.endswith("\n"):
        text += "\n"
    data = check_env_text(text)
    return RenderedEnv(
        text=text,
        weight_format=weight_format,
        content_hash=hashlib.sha256(text.encode("utf-8")).hexdigest()[:16],
        warnings=tuple(warnings),
        framework=info.framework,
        framework_version=release.version,
        python_version=release.python,
        data=data,
    )

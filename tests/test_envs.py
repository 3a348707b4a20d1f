"""Test environments: rendering env_templates/, framework version mapping, the
and the environment managers and their cache (commands faked: no pip).

The slow tests that build real venvs are in test_dynamic_venvs.py.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from collections.abc import Iterator
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from ruamel.yaml import YAML

from backoffice.context import Context
from backoffice.records import keys
from backoffice.stage.stage import stage
from backoffice.dynamic import env_builders
from backoffice.dynamic.conda_pip import conda_to_pip
from backoffice.dynamic.run import first_error, run_weight_format_test
from backoffice.dynamic.env_builders import environment_for_test, prepare_env
from backoffice.dynamic.env_cache import MARKER
from backoffice.dynamic.env_render import (
    EnvRenderError,
    RenderedEnv,
    render_env,
    template_for,
)
from backoffice.dynamic.environments import PreparedEnv
from backoffice.dynamic.framework_versions import nearest_release
from backoffice.util.cmd import CmdResult
from backoffice.weight_formats import FRAMEWORKS, PYTORCH, TENSORFLOW, WEIGHT_FORMATS
from cli_runner import cli_environ

REPO = Path(__file__).resolve().parents[1]
TEMPLATES = REPO / "env_templates"
UPLOADER = "github|4242"
DYNAMIC = [wf for wf, info in WEIGHT_FORMATS.items() if info.dynamic]
VERSION_FIELD = {"pytorch": ("pytorch_version", "2.13.0"), "tensorflow": ("tensorflow_version", "2.21.0"), "onnx": ("opset_version", 15)}


def description(weight_format: str, **entry: Any) -> dict[str, Any]:
    field, value = VERSION_FIELD[WEIGHT_FORMATS[weight_format].framework]
    return {"format_version": "0.5.4", "type": "model", "weights": {weight_format: {"source": "w", field: value, **entry}}}


def parse(text: str) -> dict[str, Any]:
    return YAML(typ="safe", pure=True).load(text)


# --------------------------------------------------------------------------
# rendering
# --------------------------------------------------------------------------


def test_one_template_serves_every_weight_format_unless_a_format_has_its_own(tmp_path: Path) -> None:
    assert [p.name for p in TEMPLATES.glob("*.yaml.j2")] == ["default.yaml.j2"]
    assert {template_for(wf, TEMPLATES) for wf in DYNAMIC} == {"default.yaml.j2"}
    (tmp_path / "default.yaml.j2").write_text((TEMPLATES / "default.yaml.j2").read_text())
    (tmp_path / "onnx.yaml.j2").write_text((TEMPLATES / "default.yaml.j2").read_text() + "# onnx only\n")
    assert template_for("onnx", tmp_path) == "onnx.yaml.j2" and template_for("torchscript", tmp_path) == "default.yaml.j2"
    assert render_env("onnx", description("onnx"), tmp_path).text.endswith("# onnx only\n")
    assert "# onnx only" not in render_env("torchscript", description("torchscript"), tmp_path).text


@pytest.mark.parametrize("weight_format", DYNAMIC)
def test_every_template_renders_a_valid_conda_env_file(weight_format: str) -> None:
    rendered = render_env(weight_format, description(weight_format), TEMPLATES)
    assert rendered.text.endswith("\n") and rendered.warnings == ()
    data = parse(rendered.text)
    assert isinstance(data["name"], str) and data["name"]
    assert data["channels"] == ["conda-forge", "nodefaults"]
    conda = [d for d in data["dependencies"] if isinstance(d, str)]
    (pip_section,) = [d for d in data["dependencies"] if isinstance(d, dict)]
    assert "pip" in conda and any(d.startswith("python=") for d in conda)
    framework_pkg = {"pytorch": "pytorch", "tensorflow": "tensorflow", "onnx": "onnxruntime"}[rendered.framework]
    assert f"{framework_pkg}=={rendered.framework_version}" in conda
    reqs = [Requirement(line) for line in pip_section["pip"]]  # every pip line is a valid requirement
    assert f"bioimageio.core=={dist_version('bioimageio.core')}" in {str(r) for r in reqs}
    assert any(r.name == "pydantic" and not r.specifier.contains("2.12.0") for r in reqs)


def test_formats_of_one_framework_share_an_env_only_when_the_files_are_identical() -> None:
    sd, ts = (render_env(wf, description(wf), TEMPLATES) for wf in ("pytorch_state_dict", "torchscript"))
    assert sd.text == ts.text and sd.content_hash == ts.content_hash
    with_deps = render_env("pytorch_state_dict", {"weights": {"pytorch_state_dict": {"pytorch_version": "2.13.0",
                           "dependencies": "pip:requirements.txt"}}}, TEMPLATES, _folder_with({"requirements.txt": "einops\n"}))
    assert with_deps.content_hash != ts.content_hash and "einops" in with_deps.pip_dependencies
    keras, bundle = (render_env(wf, description(wf), TEMPLATES) for wf in ("keras_hdf5", "tensorflow_saved_model_bundle"))
    assert keras.content_hash == bundle.content_hash
    assert len({sd.content_hash, keras.content_hash, render_env("onnx", description("onnx"), TEMPLATES).content_hash}) == 3


_tmp_folders: list[Path] = []


def _folder_with(files: dict[str, str]) -> Path:
    import tempfile

    folder = Path(tempfile.mkdtemp(prefix="envs-test-"))
    _tmp_folders.append(folder)
    for name, text in files.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder


@pytest.fixture(autouse=True, scope="module")
def _cleanup_folders() -> Iterator[None]:
    yield
    for folder in _tmp_folders:
        shutil.rmtree(folder, ignore_errors=True)


def test_a_descriptions_conda_env_file_is_merged_in() -> None:
    folder = _folder_with({"environment.yaml": (
        "name: mine\nchannels: [pytorch, conda-forge, defaults]\n"
        "dependencies:\n  - python=3.9\n  - pytorch=1.10\n  - cpuonly\n  - scikit-image >=0.19\n  - pip\n"
        "  - pip:\n    - einops==0.7.0\n    - not a requirement ===\n    - bioimageio.core==0.5\n    - --extra-index-url http://x\n"
    )})
    content = {"format_version": "0.5.4", "weights": {"pytorch_state_dict": {
        "pytorch_version": "2.13.0", "architecture": {"source": "net.py", "callable": "Net"},
        "dependencies": {"source": "environment.yaml", "sha256": "0" * 64}}}}
    rendered = render_env("pytorch_state_dict", content, TEMPLATES, folder)
    data = parse(rendered.text)
    conda = [d for d in data["dependencies"] if isinstance(d, str)]
    assert "scikit-image >=0.19" in conda and "pytorch==2.13.0" in conda
    assert not any(d.startswith(("pytorch=1", "cpuonly", "python=3.9")) for d in conda)
    assert "einops==0.7.0" in rendered.pip_dependencies
    assert [r for r in rendered.pip_dependencies if r.startswith("bioimageio.core")] == [f"bioimageio.core=={dist_version('bioimageio.core')}"]
    text = " | ".join(rendered.warnings)
    for expected in ("channels pytorch", "pytorch=1.10", "not a requirement", "--extra-index-url", "bioimageio.core==0.5"):
        assert expected in text


@pytest.mark.parametrize("ref", ["conda:environment.yaml", "environment.yaml"])
def test_spec_0_4_dependencies_strings(ref: str) -> None:
    folder = _folder_with({"environment.yaml": "dependencies:\n  - h5py\n", "requirements.txt": "# comment\neinops>=0.6\n"})
    conda_rendered = render_env("tensorflow_saved_model_bundle", {"weights": {"tensorflow_saved_model_bundle": {
        "tensorflow_version": "2.21", "dependencies": ref}}}, TEMPLATES, folder)
    assert "h5py" in conda_rendered.conda_dependencies
    pip_rendered = render_env("pytorch_state_dict", {"weights": {"pytorch_state_dict": {
        "pytorch_version": "2.13", "dependencies": "pip:requirements.txt"}}}, TEMPLATES, folder)
    assert "einops>=0.6" in pip_rendered.pip_dependencies


@pytest.mark.parametrize("ref, expected", [
    ("conda:../outside.yaml", "leaves the package"),
    ("conda:/etc/passwd.yaml", "leaves the package"),
    ("https://example.com/env.yaml", "is a URL and was not fetched"),
    ("conda:missing.yaml", "is not in the package"),
    ("maven:pom.xml", "not supported"),
])
def test_unusable_dependency_files_give_warnings_not_errors(ref: str, expected: str) -> None:
    rendered = render_env("pytorch_state_dict", {"weights": {"pytorch_state_dict": {
        "pytorch_version": "2.13.0", "dependencies": ref}}}, TEMPLATES, _folder_with({}))
    assert any(expected in w for w in rendered.warnings), rendered.warnings


def test_description_text_cannot_break_the_rendered_file() -> None:
    hostile = "2.13.0\nchannels: [evil]\n  - pip:\n    - evil"
    rendered = render_env("torchscript", {"weights": {"torchscript": {"pytorch_version": hostile}}}, TEMPLATES)
    assert "evil" not in rendered.text and any("not a version" in w for w in rendered.warnings)
    folder = _folder_with({"environment.yaml": 'dependencies:\n  - "numpy\\n  - evil: [1]"\n  - pip:\n    - "x; os_name==\'posix\'"\n'})
    rendered = render_env("pytorch_state_dict", {"weights": {"pytorch_state_dict": {
        "pytorch_version": "2.13.0", "dependencies": "conda:environment.yaml"}}}, TEMPLATES, folder)
    data = parse(rendered.text)
    assert all(isinstance(d, str) or list(d) == ["pip"] for d in data["dependencies"])
    assert "evil" not in json.dumps([d for d in data["dependencies"] if isinstance(d, str)])


def test_templates_render_sandboxed_strict_and_with_a_final_newline(tmp_path: Path) -> None:
    (tmp_path / "onnx.yaml.j2").write_text("{{ ''.__class__.__mro__[1].__subclasses__() }}\n")
    with pytest.raises(EnvRenderError, match="SecurityError"):
        render_env("onnx", description("onnx"), tmp_path)
    (tmp_path / "onnx.yaml.j2").write_text("name: {{ no_such_variable }}\n")
    with pytest.raises(EnvRenderError, match="undefined"):
        render_env("onnx", description("onnx"), tmp_path)
    (tmp_path / "onnx.yaml.j2").write_text(
        "name: x\nchannels: [conda-forge]\ndependencies:\n  - onnxruntime=={{ framework_version }}")  # no final newline
    assert render_env("onnx", description("onnx"), tmp_path).text.endswith("==1.31.1\n")
    (tmp_path / "onnx.yaml.j2").write_text("name: x\nchannels: [conda-forge]\ndependencies:\n  - pip:\n    - 'bad req ==='\n")
    with pytest.raises(EnvRenderError, match="invalid pip requirement"):
        render_env("onnx", description("onnx"), tmp_path)
    with pytest.raises(EnvRenderError, match="no environment template"):
        render_env("torchscript", description("torchscript"), tmp_path)
    with pytest.raises(EnvRenderError, match="not tested dynamically"):
        render_env("tensorflow_js", {"weights": {"tensorflow_js": {}}}, TEMPLATES)


# --------------------------------------------------------------------------
# framework versions
# --------------------------------------------------------------------------


@pytest.mark.parametrize("framework, wanted, expected, warns", [
    ("pytorch", "2.13.0", "2.13.0", False),
    ("pytorch", "2.13", "2.13.0", False),
    ("pytorch", "2.13.0+cpu", "2.13.0", False),
    ("pytorch", "2.13.1", "2.13.0", True),
    ("pytorch", "2.7.0", "2.7.1", True),
    ("pytorch", "1.6.0", PYTORCH[0].version, True),
    ("pytorch", "9.0", PYTORCH[-1].version, True),
    ("pytorch", "not-a-version", PYTORCH[-1].version, True),
    ("pytorch", None, PYTORCH[-1].version, True),
    ("tensorflow", "2.21.0", "2.21.0", False),
    ("tensorflow", "1.15", TENSORFLOW[0].version, True),
    ("tensorflow", "2.22.0", "2.21.0", True),
    ("onnx", 15, "1.31.1", False),
    ("onnx", "17", "1.31.1", False),
    ("onnx", 99, "1.31.1", True),
    ("onnx", "x", "1.31.1", True),
])
def test_nearest_supported_release(framework: str, wanted: Any, expected: str, warns: bool) -> None:
    release, warning = nearest_release(framework, wanted)
    assert release.version == expected
    assert (warning is not None) == warns
    if warning:
        assert expected in warning


def test_every_framework_has_its_releases() -> None:
    """The frameworks are listed once (weight_formats.FRAMEWORKS); each row has its releases or opsets."""
    assert all(bool(fw.releases) != bool(fw.opsets) for fw in FRAMEWORKS.values())
    assert {wf.framework for wf in WEIGHT_FORMATS.values()} <= set(FRAMEWORKS)
    with pytest.raises(ValueError, match="unknown framework"):
        nearest_release("jax", "0.4")


def test_unknown_version_renders_with_a_warning() -> None:
    rendered = render_env("torchscript", {"weights": {"torchscript": {"pytorch_version": "2.13.7"}}}, TEMPLATES)
    assert "pytorch==2.13.0" in rendered.text
    assert rendered.warnings == ("pytorch 2.13.7 is not a supported version; using the nearest supported 2.13.0"
                                 f" (supported: {PYTORCH[0].version} to {PYTORCH[-1].version})",)


@pytest.mark.parametrize("spec, expected", [
    ("pytorch==2.13.0", "torch==2.13.0"),
    ("tensorflow==2.21.0", "tensorflow-cpu==2.21.0"),
    ("numpy <2", "numpy<2"),
    ("scikit-image=0.19", "scikit-image==0.19.*"),
    ("conda-forge::h5py 3.1 py_0", "h5py==3.1.*"),
    ("python=3.11", None),
    ("pip", None),
    ("cpuonly", None),
    ("onnxruntime==1.31.1", "onnxruntime==1.31.1"),
])
def test_conda_specs_translate_to_pip(spec: str, expected: str | None) -> None:
    assert conda_to_pip(spec)[0] == expected


# --------------------------------------------------------------------------
# environment managers and the cache (commands faked: no pip)
# --------------------------------------------------------------------------


class FakeRun:
    """Stands in for `util.cmd.run` in env_builders: records commands, fails where told."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.calls: list[list[str]] = []
        self.fail_on = fail_on

    def __call__(self, args: Any, **kwargs: Any) -> CmdResult:
        argv = [str(a) for a in args]
        self.calls.append(argv)
        shown = " ".join(argv)
        if self.fail_on and self.fail_on in shown:
            return CmdResult(argv, 1, "Collecting x\nERROR: No matching distribution found for x==0\n", 0.1)
        if argv[1:3] == ["-m", "venv"]:
            python = Path(argv[3]) / "bin" / "python"
            python.parent.mkdir(parents=True, exist_ok=True)
            python.write_text("")
        if "importlib.metadata" in shown:
            return CmdResult(argv, 0, "2.13.0+cpu\n", 0.1)
        return CmdResult(argv, 0, "ok\n", 0.1)


def torch_env() -> RenderedEnv:
    return render_env("torchscript", description("torchscript"), TEMPLATES)


def test_second_prepare_builds_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRun()
    monkeypatch.setattr(env_builders, "run", fake)
    first = prepare_env("venv", torch_env(), tmp_path)
    assert first.python is not None and first.error is None and not first.cached
    built = len(fake.calls)
    assert built >= 4
    # torch only ever from local wheels, then held by a constraint
    (torch_install,) = [c for c in fake.calls if "torch==2.13.0" in c]
    assert "--no-index" in torch_install
    prefix = first.python.parent.parent
    assert (prefix / "constraints.txt").read_text().strip() == "torch==2.13.0+cpu"
    assert "torch==2.13.0" in (prefix / "requirements.txt").read_text()
    marker = prefix / MARKER
    mtime = marker.stat().st_mtime_ns
    second = prepare_env("venv", torch_env(), tmp_path)
    assert second.cached and second.python == first.python
    assert len(fake.calls) == built  # nothing ran
    assert marker.stat().st_mtime_ns == mtime


def test_failed_build_leaves_nothing_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(env_builders, "run", FakeRun(fail_on="requirements.txt"))
    env = prepare_env("venv", torch_env(), tmp_path)
    assert env.python is None and env.error is not None
    assert "pip install failed" in env.error and "No matching distribution" in env.error
    assert "ERROR: No matching distribution" in env.output_tail
    assert not [p for p in tmp_path.iterdir() if p.is_dir()]  # no half env
    assert list(tmp_path.glob("venv-*.log"))  # the build log is kept
    fake = FakeRun()
    monkeypatch.setattr(env_builders, "run", fake)
    again = prepare_env("venv", torch_env(), tmp_path)
    assert again.python is not None and not again.cached and fake.calls


def test_torch_never_comes_from_the_index_as_a_dependency(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeRun()
    monkeypatch.setattr(env_builders, "run", fake)
    env = prepare_env("venv", render_env("onnx", description("onnx"), TEMPLATES), tmp_path)
    assert env.python is not None
    assert (env.python.parent.parent / "constraints.txt").read_text().split() == ["torch===not-from-the-index"]
    assert not [c for c in fake.calls if "--no-index" in c]

    class NeedsTorch(FakeRun):
        def __call__(self, args: Any, **kwargs: Any) -> CmdResult:
            result = super().__call__(args, **kwargs)
            if "requirements.txt" in " ".join(map(str, args)):
                out = ("ERROR: Cannot install torchvision==0.28.0 because these package versions have conflicting dependencies.\n"
                       "    torchvision 0.28.0 depends on torch==2.13.0\n"
                       "    The user requested (constraint) torch===not-from-the-index\n"
                       "ERROR: ResolutionImpossible: for help visit https://pip.pypa.io\n")
                return CmdResult(result.args, 1, out, 0.1)
            return result

    monkeypatch.setattr(env_builders, "run", NeedsTorch())
    folder = _folder_with({"requirements.txt": "torchvision==0.28.0\n"})
    rendered = render_env("onnx", {"weights": {"onnx": {"opset_version": 15, "dependencies": "pip:requirements.txt"}}}, TEMPLATES, folder)
    failed = prepare_env("venv", rendered, tmp_path)
    assert failed.python is None and failed.error == (
        "venv build failed: pip install failed (exit code 1): torchvision 0.28.0 depends on torch==2.13.0: torch would come"
        " from the package index; the venv manager installs it only from local wheels, so the env file must ask for it"
        " (e.g. `pytorch==<version>`)")


def test_an_interrupted_build_is_not_taken_for_cached(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered = torch_env()
    half = tmp_path / f"venv-{rendered.content_hash}"
    (half / "bin").mkdir(parents=True)
    (half / "bin" / "python").write_text("")  # no marker: a build that was killed
    fake = FakeRun()
    monkeypatch.setattr(env_builders, "run", fake)
    env = prepare_env("venv", rendered, tmp_path)
    assert not env.cached and fake.calls and (half / MARKER).is_file()


def test_missing_micromamba_is_an_environment_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("MAMBA_EXE", raising=False)
    env = prepare_env("micromamba", torch_env(), tmp_path)
    assert env.python is None and env.error is not None and "micromamba was not found" in env.error


def test_current_manager_is_this_interpreter(tmp_path: Path) -> None:
    env = prepare_env("current", None, tmp_path)
    assert env.python == Path(sys.executable) and env.error is None


def _staged_model(ctx: Context, packages: dict[str, Path]) -> str:
    return stage(ctx, str(packages["model"]), uploader=UPLOADER, progress=False).concept_id


def test_failed_environment_gives_a_failed_summary_saying_so(
    local_ctx: Context, packages: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cid = _staged_model(local_ctx, packages)
    monkeypatch.setattr(env_builders, "run", FakeRun(fail_on="requirements.txt"))
    ctx = Context(local_ctx.settings.model_copy(update={"env_cache_dir": tmp_path / "envs"}), storage=local_ctx.storage)
    env = environment_for_test(ctx, cid, "draft", "onnx", "venv")
    assert env.python is None
    outcome = run_weight_format_test(ctx, cid, "draft", "onnx", env)
    assert outcome.status == "failed"
    assert outcome.first_error is not None and "environment failed: venv build failed: pip install failed" in outcome.first_error
    prefix, core = outcome.target.reports_prefix, dist_version("bioimageio.core")
    report = json.loads(ctx.storage.get_bytes(keys.report_part(prefix, f"bioimageio.core_{core}", "onnx")))["summary"]
    assert report["status"] == "failed" and "No matching distribution" in json.dumps(report)
    assembled = json.loads(ctx.storage.get_bytes(f"{prefix}bioimageio.core_{core}.json"))  # the one report of our tool
    assert assembled["status"] == "failed" and assembled["details"]["weight_formats"]["onnx"]["status"] == "failed"
    entry = ctx.concepts.get(cid).require_draft().tests[outcome.report_name]
    assert entry.status == "failed"


def test_unrenderable_environment_gives_a_failed_summary(
    local_ctx: Context, packages: dict[str, Path], tmp_path: Path
) -> None:
    cid = _staged_model(local_ctx, packages)
    (tmp_path / "templates").mkdir()  # no templates at all
    settings = local_ctx.settings.model_copy(update={"env_templates_dir": tmp_path / "templates", "env_cache_dir": tmp_path / "envs"})
    ctx = Context(settings, storage=local_ctx.storage)
    env = environment_for_test(ctx, cid, "draft", "torchscript", "venv")
    outcome = run_weight_format_test(ctx, cid, "draft", "torchscript", env)
    assert outcome.status == "failed" and outcome.first_error is not None
    assert outcome.first_error.startswith(
        "bioimageio.core test of torchscript: environment failed: the environment file could not be rendered:"
        " there is no environment template default.yaml.j2")


def test_empty_library_error_message_becomes_actionable() -> None:
    tb = ("\u256d\u2500 Traceback (most recent call last) \u2500\u256e\n"
          "\u2502 /x/site-packages/bioimageio/core/backends/tensorflow_backend.py:168 in _forward_impl \u2502\n"
          "\u2502 \u2771 168 \u2502   \u2502   assert isinstance(result, dict)        \u2502\n"
          "\u2570\u2500\u2500\u256f\nAssertionError\n")
    loc = ["weights", "tensorflow_saved_model_bundle"]
    summary = {"details": [{"name": "Reproduce test outputs", "errors": [{"loc": loc, "msg": "", "traceback_md": tb}]}]}
    error = first_error(summary)
    assert error is not None and error.startswith("Reproduce test outputs (weights.tensorflow_saved_model_bundle): failed without")
    assert "AssertionError at bioimageio/core/backends/tensorflow_backend.py:168 (`assert isinstance(result, dict)`)" in error
    assert "dict of named outputs" in error
    cut = tb.replace("tensorflow_backend.py:168 in _forward_impl", "tensor")  # rich cuts long paths
    summary = {"details": [{"name": "R", "errors": [{"loc": loc, "msg": "", "traceback_md": cut}]}]}
    error = first_error(summary)
    assert error is not None and "AssertionError at bioimageio/core/backends/tensor\u2026 (`assert" in error
    assert "dict of named outputs" in error
    chained = ("\u256d\u2500\u256e\n\u2502 x \u2502\n\u2570\u2500\u256f\nRuntimeError: broken on purpose\n\n"
               "The above exception was the direct cause of the following exception:\n\n"
               "\u256d\u2500\u256e\n\u2502 y \u2502\n\u2570\u2500\u256f\nImportError: Failed to import net.py\n")
    summary = {"details": [{"name": "n", "errors": [{"loc": [], "msg": "Failed to import net.py", "traceback_md": chained}]}]}
    assert first_error(summary) == "n: Failed to import net.py (caused by RuntimeError: broken on purpose)"


def test_make_env_command(local_ctx: Context, packages: dict[str, Path], tmp_path: Path) -> None:
    cid = _staged_model(local_ctx, packages)
    env = cli_environ(local_ctx.settings)
    r = subprocess.run([sys.executable, "-m", "backoffice", "make-env", cid, "draft", "onnx"],
                       env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert parse(r.stdout)["dependencies"][2] == "onnxruntime==1.31.1"
    outputs = tmp_path / "gh_output"
    outputs.write_text("")
    r = subprocess.run([sys.executable, "-m", "backoffice", "make-env", cid, "draft", "pytorch_state_dict", "--out", "envs/pt.yaml"],
                       env={**env, "GITHUB_ACTIONS": "true", "GITHUB_OUTPUT": str(outputs)},
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    written = (tmp_path / "envs" / "pt.yaml").read_text()
    assert "pytorch==2.13.0" in written
    out = dict(line.split("=", 1) for line in outputs.read_text().splitlines())
    assert out["conda_lock_command"] == ("conda-lock lock --micromamba --file envs/pt.yaml --platform linux-64"
                                        " --lockfile envs/pt.conda-lock.yml")
    assert out["env_file"] == "envs/pt.yaml" and len(out["env_hash"]) == 16
    r = subprocess.run([sys.executable, "-m", "backoffice", "make-env", cid, "draft", "keras_hdf5"],
                       env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 4 and r.stderr.strip().splitlines()[-1].startswith("error: ") and "no 'keras_hdf5' weights" in r.stderr


def test_unknown_env_manager_is_refused(tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, "-m", "backoffice", "test", "x", "draft", "onnx", "--env-manager", "conda"],
                       env=cli_environ(BACKOFFICE_LOCAL_ROOT=str(tmp_path)), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 14 and r.stderr.strip() == "error: --env-manager must be current, venv or micromamba, not 'conda'"


def test_prepared_env_error_is_never_raised_for_unknown_manager(tmp_path: Path) -> None:
    env = prepare_env("docker", torch_env(), tmp_path)
    assert isinstance(env, PreparedEnv) and env.python is None and "unknown environment manager" in (env.error or "")


def test_unwritable_cache_is_an_environment_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    env = prepare_env("venv", torch_env(), blocker / "cache")  # a folder below a file cannot exist
    assert env.python is None and env.error is not None and env.error.startswith("venv build failed: ")


def test_dependencies_from_outside_the_index_or_other_channels_are_refused() -> None:
    from backoffice.dynamic.env_render import _merge  # pyright: ignore[reportPrivateUsage]

    warnings: list[str] = []
    conda, pip = _merge(
        "pytorch",
        ["conda-forge::scikit-image", "evil::numpy-patched", "tifffile"],
        ["x @ https://example.org/x.whl", "requests>=2"],
        warnings,
    )
    assert conda == ["conda-forge::scikit-image", "tifffile"] and pip == ["requests>=2"]
    assert any("evil::numpy-patched" in w and "channel" in w for w in warnings)
    assert any("installs from a URL" in w for w in warnings)

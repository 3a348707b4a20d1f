"""Dynamic tests for real (slow): venvs built here with pip from the package registry
(torch from the local CPU wheel), `backoffice test` on good and broken packages, and
the overhead against `bioimageio test`.

One venv is built per distinct rendered env file (torch, onnx, tensorflow) into the
session-wide cache `env_cache` (backoffice_fixtures.py), so each is built once per
run; set BACKOFFICE_TEST_ENV_CACHE to a folder to keep them between runs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from importlib.metadata import version as dist_version
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.records import keys
from backoffice.dynamic.env_cache import MARKER
from backoffice.dynamic.env_render import render_env
from backoffice.dynamic.environments import current_env
from backoffice.dynamic.run import first_error, run_weight_format_test
from backoffice.stage.stage import stage
from cli_runner import cli_environ
from test_envs import TEMPLATES, UPLOADER, description
from config_paths import EXAMPLE_COLLECTION, TEST_CONFIG

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def collection(tmp_path_factory: pytest.TempPathFactory, env_cache: Path) -> dict[str, Any]:
    """A local collection with good and bad model packages staged as drafts."""
    from backoffice.demo.keras_packages import build_keras_model_package
    from backoffice.demo.packages import build_model_package
    from backoffice.settings import Settings
    from backoffice.storage.local import LocalStorage

    root = tmp_path_factory.mktemp("envs-collection")
    shutil.copytree(EXAMPLE_COLLECTION, root / "collection")
    settings = Settings(local_root=root / "store", config_path=TEST_CONFIG,
                        collection_dir=root / "collection", env_templates_dir=TEMPLATES, env_cache_dir=env_cache)
    ctx = Context(settings, storage=LocalStorage(root / "store", "http://127.0.0.1:8765"))
    zips = root / "zips"
    builders = {
        "torch": lambda p: build_model_package(p),
        "torch-wrong-output": lambda p: build_model_package(p, wrong_output=True),
        "torch-broken-import": lambda p: build_model_package(p, broken_import=True),
        "keras": lambda p: build_keras_model_package(p),
        "keras-wrong-output": lambda p: build_keras_model_package(p, wrong_output=True),
        "keras-plain-export": lambda p: build_keras_model_package(p, formats=["tensorflow_saved_model_bundle"], plain_export=True),
    }
    ids = {name: stage(ctx, str(build(zips / f"{name}.zip")), uploader=UPLOADER, progress=False).concept_id
           for name, build in builders.items()}
    env = cli_environ(settings)
    return {"ctx": ctx, "ids": ids, "env": env, "root": root}


def cid_of(collection: dict[str, Any], package: str) -> str:
    return collection["ids"][package]


def backoffice_test(collection: dict[str, Any], package: str, weight_format: str, manager: str = "venv") -> tuple[subprocess.CompletedProcess[str], dict[str, Any]]:
    cid = collection["ids"][package]
    r = subprocess.run([sys.executable, "-m", "backoffice", "test", cid, "draft", weight_format, "--env-manager", manager],
                       env=collection["env"], capture_output=True, text=True, timeout=1800, cwd=collection["root"])
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    from backoffice.records.target import resolve_target

    ctx: Context = collection["ctx"]
    part = keys.report_part(resolve_target(ctx.concepts, cid, "draft").reports_prefix, f"bioimageio.core_{dist_version('bioimageio.core')}", weight_format)
    report = json.loads(ctx.storage.get_bytes(part))["summary"]
    return r, report


CASES = [
    ("torch", "pytorch_state_dict", "passed", None),
    ("torch", "torchscript", "passed", None),
    ("torch", "onnx", "passed", None),
    ("keras", "keras_hdf5", "passed", None),
    ("keras", "tensorflow_saved_model_bundle", "passed", None),
    # runs but does not reproduce: a warning, not a failure (bioimageio.core's own summary says failed)
    ("torch-wrong-output", "pytorch_state_dict", "warning", "elements disagree with expected values"),
    ("torch-wrong-output", "torchscript", "warning", "elements disagree with expected values"),
    ("torch-wrong-output", "onnx", "warning", "elements disagree with expected values"),
    ("torch-broken-import", "pytorch_state_dict", "failed", "Failed to import tiny_net.py (caused by RuntimeError: this architecture is broken on purpose)"),
    ("keras-wrong-output", "keras_hdf5", "warning", "elements disagree with expected values"),
    ("keras-wrong-output", "tensorflow_saved_model_bundle", "warning", "elements disagree with expected values"),
    ("keras-plain-export", "tensorflow_saved_model_bundle", "failed", "bioimageio.core expects a dict of named outputs"),
]


@pytest.mark.slow
@pytest.mark.parametrize("package, weight_format, status, reason", CASES, ids=[f"{p}-{wf}" for p, wf, _, _ in CASES])
def test_weight_format_in_a_venv(collection: dict[str, Any], package: str, weight_format: str, status: str, reason: str | None) -> None:
    r, report = backoffice_test(collection, package, weight_format)
    verdicts = {"passed": "runs: yes, reproduces: yes", "warning": "runs: yes, reproduces: no", "failed": "runs: no"}[status]
    last = r.stdout.strip().splitlines()[-1]
    assert last.startswith(f"{cid_of(collection, package)} draft {weight_format}: {status} ({verdicts}") and " on CPU: " in last, \
        r.stdout + r.stderr[-3000:]
    assert (report["status"] == "passed") == (status == "passed")
    assert report["environment"].startswith("venv environment ") and str(collection["env"]["BACKOFFICE_ENV_CACHE_DIR"]) in report["environment"]
    assert report["device"] == "CPU" and report["runner"]["bioimageio_core_version"] == dist_version("bioimageio.core")
    if reason is not None:
        error = first_error(report)
        assert error is not None and reason in error, error
        # the command says why, too: the error, or for a reproduction failure the figures
        assert (error if status == "failed" else "outside the tolerance (relative 0.001, absolute 0.001") in r.stdout


@pytest.mark.slow
def test_second_test_of_a_format_reuses_the_env(collection: dict[str, Any]) -> None:
    backoffice_test(collection, "torch", "torchscript")  # built now, or earlier in the session
    rendered = render_env("torchscript", description("torchscript"), TEMPLATES)
    marker = Path(collection["env"]["BACKOFFICE_ENV_CACHE_DIR"]) / f"venv-{rendered.content_hash}" / MARKER
    mtime = marker.stat().st_mtime_ns
    r, report = backoffice_test(collection, "torch", "pytorch_state_dict")  # same rendered file: same env
    assert "reusing the cached venv environment" in r.stderr and "building the" not in r.stderr
    assert report["environment"].endswith(", cached") and marker.stat().st_mtime_ns == mtime


EQUIVALENCE = [
    ("torch", "pytorch_state_dict"),
    ("torch", "torchscript"),
    ("torch", "onnx"),
    ("torch-wrong-output", "torchscript"),
    ("torch-broken-import", "pytorch_state_dict"),
    ("keras", "keras_hdf5"),
    ("keras", "tensorflow_saved_model_bundle"),
    ("keras-plain-export", "tensorflow_saved_model_bundle"),
]


@pytest.mark.slow
@pytest.mark.parametrize("package, weight_format", EQUIVALENCE, ids=[f"{p}-{wf}" for p, wf in EQUIVALENCE])
def test_current_manager_gives_the_verdict_of_bioimageio_test(
    collection: dict[str, Any], package: str, weight_format: str, tmp_path: Path
) -> None:
    from backoffice.records.target import resolve_target

    ctx: Context = collection["ctx"]
    cid = collection["ids"][package]
    target = resolve_target(ctx.concepts, cid, "draft")
    rdf = ctx.storage.root / target.files_prefix / target.rdf_name  # type: ignore[attr-defined]
    bioimageio = Path(sys.executable).with_name("bioimageio")
    direct = subprocess.run([str(bioimageio), "test", str(rdf), "--weight-format", weight_format, "--summary", str(tmp_path / "s.json")],
                            env={**os.environ, "BIOIMAGEIO_CACHE_PATH": str(tmp_path / "cache")},
                            capture_output=True, text=True, timeout=900, cwd=tmp_path)
    direct_verdict = "passed" if json.loads((tmp_path / "s.json").read_text())["status"] == "passed" else "failed"
    assert (direct.returncode == 0) == (direct_verdict == "passed")
    outcome = run_weight_format_test(ctx, cid, "draft", weight_format, current_env())
    if package.endswith("wrong-output"):  # runs but does not reproduce: our warning, bioimageio's failure
        assert (direct_verdict, outcome.status) == ("failed", "warning")
    else:
        assert outcome.status == direct_verdict

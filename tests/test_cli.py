"""The command line as a user meets it: help for every command, one-line errors with
exit codes per error class, and the README's main job."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import typer

from backoffice.cli import app
from cli_runner import RunCli
from config_paths import TEST_CONFIG

REPO = Path(__file__).resolve().parents[1]
COMMANDS = sorted(typer.main.get_command(app).commands)  # type: ignore[attr-defined]


def test_every_command_has_help_text() -> None:
    group = typer.main.get_command(app)
    for name in COMMANDS:
        command = group.commands[name]  # type: ignore[attr-defined]
        assert command.help and len(command.help.strip()) > 10, name
        for param in command.params:
            if param.param_type_name == "option":
                assert param.help, f"{name} {param.opts} has no help"
            else:
                assert param.help, f"{name} argument {param.name} has no help"


def test_help_lists_the_pipeline(run_cli: RunCli) -> None:
    r = run_cli(["--help"])
    assert r.returncode == 0
    for name in ("stage", "validate-format", "test", "publish", "request-changes", "generate-collection-json", "status", "serve"):
        assert name in r.stdout


@pytest.mark.parametrize(
    ("args", "code", "text"),
    [
        (["status", "affable-shark"], 4, "concept 'affable-shark' does not exist"),
        (["stage", "ftp://example.org/x.zip"], 10, "only http(s) URLs"),
        (["publish", "affable-shark", "--reviewer", "github|1"], 4, "does not exist"),
        (["backup", "affable-shark"], 4, "does not exist"),  # also when Zenodo is not set up
        (["diff", "affable-shark"], 4, "concept 'affable-shark' does not exist"),
        (["diff", "affable-shark", "../x"], 14, "'../x' is neither `draft` nor a version"),
        (["generate-collection-json", "--mode", "everything"], 14, "--mode must be all, published or draft, not 'everything'"),
        (["validate-format", "affable-shark", "../../etc"], 14, "'../../etc' is neither `draft` nor a version"),
        (["test", "affable-shark", "draft", "onnx", "--env-manager", "docker"], 14, "--env-manager must be current, venv or micromamba"),
    ],
)
def test_errors_are_one_line_with_exit_code(run_cli: RunCli, settings_factory: Any, args: list[str], code: int, text: str) -> None:
    r = run_cli(args, settings=settings_factory())
    assert r.returncode == code, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.strip() and not ln.startswith(("INFO", "DEBUG"))]
    assert len(lines) == 1 or "Usage" in r.stderr, r.stderr
    assert text in r.stderr


def test_wrong_config_fails_with_file_and_field(tmp_path: Path, run_cli: RunCli, settings_factory: Any) -> None:
    config = json.loads((TEST_CONFIG).read_text())
    config["reviewers"][0]["id"] = "octocat"
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    r = run_cli(["check-config"], settings=settings_factory(), BACKOFFICE_CONFIG_PATH=str(path))
    assert r.returncode == 2
    assert r.stderr.strip() == f"error: {path}: field 'reviewers[0].id': String should match pattern '^github\\|[0-9]+$'"


def entry_badges(root: Path) -> list[dict[str, Any]]:
    (entry,) = json.loads((root / "store" / "collection.json").read_text())["collection"]
    return entry["test_summary"]["badges"]


@pytest.mark.slow
def test_readme_main_job(tmp_path: Path, run_cli: RunCli, settings_factory: Any) -> None:
    """`backoffice demo`: stage, validate, test, publish and index a tiny model."""
    r = run_cli(["demo"], settings=settings_factory())
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert "test onnx: passed" in r.stdout and "publish (as github|10000001): version 1.0" in r.stdout
    for wf in ("onnx", "pytorch_state_dict", "torchscript"):  # both verdicts per weight format, with the hardware
        assert re.search(rf"^test {wf}: passed\n  runs: yes on CPU: .+\n  reproduces: yes$", r.stdout, re.MULTILINE), r.stdout
    badges = {b["label"]: b for b in entry_badges(tmp_path)}
    assert all(b["runs"] and b["reproduces"] for n, b in badges.items() if n.startswith("bioimageio.core_")), badges
    assert "weight safety scan (picklescan " in r.stdout and "): passed; " in r.stdout  # before the tests
    assert r.stdout.index("weight safety scan") < r.stdout.index("test onnx:")
    assert "onnx: protobuf graph of ONNX operators: cannot carry Python code." in r.stdout
    assert "backup: skipped (no Zenodo URL or token" in r.stdout  # the README says how to turn it on
    collection = json.loads((tmp_path / "store" / "collection.json").read_text())
    (entry,) = collection["collection"]
    assert entry["test_summary"]["status"] == "passed"
    assert "partner report: ilastik 1.4.1 passed; scores: bioimageio.core 1, ilastik 1;" in r.stdout
    assert entry["compatibility"]["scores"]["tools"] == {"bioimageio.core": 1.0, "ilastik": 1.0} and entry["score"] > 0.5
    assert "ilastik-compatible" in entry["tags"] and "bioimageio.core-compatible" in entry["tags"]
    assert f"collection.json: {tmp_path / 'store' / 'collection.json'}" in r.stdout

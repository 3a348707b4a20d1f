"""Secrets never appear in output, logs or summaries.

The run's environment holds secret values (see backoffice_fixtures.SECRETS); a hook
fails any test whose captured output shows one. Here the CLI is run as a user would.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backoffice.log import SecretFilter, setup_logging
from backoffice.settings import Settings
from backoffice_fixtures import SECRETS
from config_paths import EXAMPLE_COLLECTION, TEST_CONFIG

REPO = Path(__file__).resolve().parents[1]


def _cli(args: list[str], tmp_path: Path, extra: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, **SECRETS, "PYTHONPATH": str(REPO), "BACKOFFICE_LOCAL_ROOT": str(tmp_path / "store"),
           "BACKOFFICE_CONFIG_PATH": str(TEST_CONFIG),
           "BACKOFFICE_COLLECTION_DIR": str(EXAMPLE_COLLECTION),
           "BACKOFFICE_S3_SECRET_ACCESS_KEY": "s3-secret-key-44aa", **(extra or {})}
    return subprocess.run([sys.executable, "-m", "backoffice", *args], env=env, capture_output=True, text=True, cwd=tmp_path)


@pytest.mark.parametrize(
    "args",
    [["settings"], ["--help"], ["status", "affable-shark"], ["-v", "status", "affable-shark"], ["-v", "check-config"], ["check-config"], ["stage", "nope.zip"],
     ["generate-collection-json"], ["publish", "affable-shark", "--reviewer", "github|1"]],
)
def test_cli_output_never_shows_secrets(args: list[str], tmp_path: Path) -> None:
    r = _cli(args, tmp_path)
    for value in [*SECRETS.values(), "s3-secret-key-44aa"]:
        assert value not in r.stdout and value not in r.stderr


def test_settings_logged_at_start_on_actions_are_masked(tmp_path: Path) -> None:
    r = _cli(["generate-collection-json"], tmp_path, {"GITHUB_ACTIONS": "true"})
    assert r.returncode == 0, r.stderr
    assert "::group::backoffice settings" in r.stderr and "zenodo_token = ***" in r.stderr
    for value in [*SECRETS.values(), "s3-secret-key-44aa"]:
        assert value not in r.stdout + r.stderr


def test_settings_command_masks_secrets(tmp_path: Path) -> None:
    r = _cli(["settings"], tmp_path)
    assert r.returncode == 0, r.stderr
    assert "zenodo_token = ***" in r.stdout and "mail_password = ***" in r.stdout
    assert "s3_secret_access_key = ***" in r.stdout and "github_token = ***" in r.stdout


def test_settings_repr_and_describe_mask_secrets() -> None:
    s = Settings()
    text = repr(s) + str(s.describe()) + s.model_dump_json()
    for value in SECRETS.values():
        assert value not in text
    assert set(SECRETS.values()) <= set(s.secret_values())


def test_log_filter_masks_secret_values(caplog: pytest.LogCaptureFixture) -> None:
    secret = SECRETS["BACKOFFICE_ZENODO_TOKEN"]
    setup_logging(logging.INFO, [secret])
    logger = logging.getLogger("backoffice")
    records: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record.getMessage())

    handler = Collect()
    handler.addFilter(SecretFilter([secret]))
    logger.addHandler(handler)
    try:
        logger.warning("request to https://zenodo.example/api?access_token=%s failed", secret)
    finally:
        logger.removeHandler(handler)
    assert records == ["request to https://zenodo.example/api?access_token=*** failed"]


def test_processes_running_uploaded_code_get_no_credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    from backoffice.util.child_environ import child_environ

    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "aws-secret")
    monkeypatch.setenv("SOME_API_TOKEN", "tok")
    monkeypatch.setenv("INNOCENT_NAME", "holds-a-secret-value")
    monkeypatch.setenv("PYTHONPATH", "/somewhere")
    env = child_environ(["holds-a-secret-value", *SECRETS.values()], EXTRA="1")
    assert not any(k.startswith("BACKOFFICE_") for k in env)
    assert not set(SECRETS.values()) & set(env.values())
    for name in ("AWS_SECRET_ACCESS_KEY", "SOME_API_TOKEN", "INNOCENT_NAME", "PYTHONPATH"):
        assert name not in env
    assert env["EXTRA"] == "1" and env["PATH"] == os.environ["PATH"]

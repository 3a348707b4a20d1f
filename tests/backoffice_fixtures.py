"""Fixtures for backoffice tests: contexts over both backends, example packages,
an offline bioimageio environment, HTTP serving of packages on 127.0.0.1."""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from backoffice.bioimageio_environ import offline_bioimageio_environ
from cli_runner import RunCli, cli_environ, run_backoffice
from config_paths import EXAMPLE_COLLECTION, TEST_CONFIG

REPO = Path(__file__).resolve().parents[1]

# bioimageio.spec reads its settings at import: make it offline before any test imports it
_BIOIMAGEIO_TMP = Path(tempfile.mkdtemp(prefix="backoffice-tests-bioimageio-"))
os.environ.update(offline_bioimageio_environ(_BIOIMAGEIO_TMP))

# secrets set for the whole run: no test output may ever show them (see test_secrets.py)
SECRETS = {
    "BACKOFFICE_ZENODO_TOKEN": "zenodo-secret-token-7f3a9c",
    "BACKOFFICE_MAIL_PASSWORD": "mail-secret-password-91be2d",
    "BACKOFFICE_GITHUB_TOKEN": "ghp_secretgithubtoken0c55e1",
}
os.environ.update(SECRETS)
# a CI run on GitHub Actions must not make the suite's own CLI calls look dispatched by its actor
for _name in ("GITHUB_ACTIONS", "GITHUB_ACTOR_ID"):
    os.environ.pop(_name, None)


@pytest.fixture()
def settings_factory(tmp_path: Path):
    """Settings for a test collection in `tmp_path` (config from the repo, collection/ copied)."""
    from backoffice.settings import Settings

    collection_dir = tmp_path / "collection"
    shutil.copytree(EXAMPLE_COLLECTION, collection_dir)

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "local_root": tmp_path / "store",
            "config_path": TEST_CONFIG,
            "collection_dir": collection_dir,
            "env_templates_dir": REPO / "env_templates",
            "download_allowed_hosts": ("127.0.0.1",),  # the suite's file servers; redirects stay refused
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture()
def run_cli(tmp_path: Path) -> RunCli:
    """Runs `backoffice <args>` in a subprocess (in `tmp_path` unless `cwd` is given) with
    the paths of `settings` and the `extra` environment variables."""

    def run(args, *, settings=None, cwd=None, timeout=600.0, **extra):  # noqa: ANN001, ANN202
        return run_backoffice(args, cwd=cwd or tmp_path, env=cli_environ(settings, **extra), timeout=timeout)

    return run  # pyright: ignore[reportReturnType]


@pytest.fixture()
def ctx(storage, settings_factory):  # noqa: ANN001 - `storage` comes from conftest (local | s3)
    """A Context over each backend."""
    from backoffice.context import Context

    return Context(settings_factory(), storage=storage)


@pytest.fixture()
def local_ctx(local_storage, settings_factory):  # noqa: ANN001
    from backoffice.context import Context

    return Context(settings_factory(), storage=local_storage)


@pytest.fixture(scope="session")
def env_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Built test environments, shared by the whole session (or kept in BACKOFFICE_TEST_ENV_CACHE)."""
    given = os.environ.get("BACKOFFICE_TEST_ENV_CACHE")
    return Path(given).absolute() if given else tmp_path_factory.mktemp("envs")


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Example packages built once per run with bioimageio.spec's description classes."""
    from backoffice.demo.packages import (
        build_dataset_package,
        build_model_package,
        build_notebook_package,
    )

    folder = tmp_path_factory.mktemp("packages")
    return {
        "model": build_model_package(folder / "model.zip"),
        "model_v2": build_model_package(folder / "model_v2.zip", version="2.0"),
        "dataset": build_dataset_package(folder / "dataset.zip"),
        "notebook": build_notebook_package(folder / "notebook.zip"),
    }


@pytest.fixture()
def file_server(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """An HTTP server on 127.0.0.1 serving a folder: yields (folder, base URL)."""
    import threading
    from functools import partial
    from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

    folder = tmp_path / "served"
    folder.mkdir()

    class Quiet(SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(Quiet, directory=str(folder)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]):  # noqa: ANN201
    """Fail any test whose captured output, logs or failure text shows a secret value."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()
    texts = [report.capstdout, report.capstderr, report.caplog, report.longreprtext]
    leaked = [name for name, value in SECRETS.items() if any(value in t for t in texts)]
    if leaked:
        report.outcome = "failed"
        report.longrepr = f"secret value(s) of {', '.join(leaked)} appeared in the output of {item.nodeid}"


@pytest.fixture()
def served(local_ctx: Any) -> Iterator[str]:
    """The local store (`local_ctx`) served on 127.0.0.1: its public base URL."""
    from backoffice.serve.server import make_server

    server = make_server(local_ctx.storage, port=0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()

"""A fresh clone's product paths hold no example data: `collection/` declares nothing, the config
names no demo reviewer or website bot, and `check-config` passes on that empty state. The demo
brings its own (`backoffice/demo/demo_config.json`), and `backoffice demo` does not write it into
the configured config."""

from __future__ import annotations

import json
from pathlib import Path

from backoffice.demo.config import demo_additions, with_demo
from cli_runner import RunCli
from config_paths import PRODUCT_CONFIG, REPO, TEST_CONFIG

pytest_plugins = ["backoffice_fixtures"]


def test_product_paths_hold_no_example_data() -> None:
    assert [p.name for p in (REPO / "collection").iterdir() if not p.name.startswith(".")] == []
    text = PRODUCT_CONFIG.read_text(encoding="utf-8")
    config = json.loads(text)
    assert config["reviewers"] == [] and "demo_reviewer" not in config and "website_bot" not in config
    assert "example.org" not in text and "10000001" not in text and "10000099" not in text


def test_check_config_passes_on_the_empty_state(run_cli: RunCli, tmp_path: Path) -> None:
    r = run_cli(["check-config"], BACKOFFICE_CONFIG_PATH=str(PRODUCT_CONFIG), BACKOFFICE_COLLECTION_DIR=str(REPO / "collection"),
                BACKOFFICE_LOCAL_ROOT=str(tmp_path / "store"))
    assert r.returncode == 0, r.stderr
    assert ": 0 reviewers, " in r.stdout and ": 0 declarations valid" in r.stdout
    assert "nobody can publish until the config names one" in r.stdout


def test_the_demo_adds_its_own_reviewers_once() -> None:
    additions = demo_additions()
    assert additions["demo_reviewer"] in {r["id"] for r in additions["reviewers"]}
    base = {"reviewers": [{"id": "github|5", "name": "Real"}], "partners": []}
    once = with_demo(base, additions)
    assert [r["id"] for r in once["reviewers"]] == ["github|5", *(r["id"] for r in additions["reviewers"])]
    assert with_demo(once, additions) == once and base["reviewers"] == [{"id": "github|5", "name": "Real"}]
    assert json.loads(TEST_CONFIG.read_text())["demo_reviewer"] == additions["demo_reviewer"]  # what the tests run with

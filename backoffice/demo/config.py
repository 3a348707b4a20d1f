"""The demo's own reviewers and website bot (`demo_config.json`, accounts that exist only for the
demo and the tests). The product config names none: a deployment names its own. `backoffice
demo` runs on a copy of the configured config with these added, written in a folder of its own."""

from __future__ import annotations

import json
from dataclasses import replace
from importlib.resources import files
from pathlib import Path
from typing import Any, cast

from ..context import Context

DEMO_CONFIG_FILE = "demo_config.json"


def demo_additions() -> dict[str, Any]:
    """`reviewers` (added), `demo_reviewer` and `website_bot` (set) of the demo."""
    return cast(dict[str, Any], json.loads(files("backoffice.demo").joinpath(DEMO_CONFIG_FILE).read_text(encoding="utf-8")))


def with_demo(config: dict[str, Any], additions: dict[str, Any]) -> dict[str, Any]:
    """`config` with the demo's reviewers added (those it has already kept) and its other fields set."""
    have = {r.get("id") for r in config.get("reviewers", [])}
    reviewers = [*config.get("reviewers", []), *(r for r in additions.get("reviewers", []) if r.get("id") not in have)]
    return {**config, **{k: v for k, v in additions.items() if k != "reviewers"}, "reviewers": reviewers}


def write_demo_config(base: Path, dest_dir: Path) -> Path:
    """The config at `base` with the demo's additions, as `dest_dir/bioimageio_collection_config.json`."""
    raw = json.loads(base.read_text(encoding="utf-8"))
    dest_dir.mkdir(parents=True, exist_ok=True)
    path = dest_dir / base.name
    path.write_text(json.dumps(with_demo(raw, demo_additions()), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def demo_context(ctx: Context, folder: Path) -> Context:
    """`ctx` reading the demo's config (written into `folder`) instead of the configured one."""
    path = write_demo_config(ctx.settings.config_path, folder)
    return replace(ctx, settings=ctx.settings.model_copy(update={"config_path": path}))

"""The README's main job: the whole pipeline on the embedded default for a tiny
model the project builds itself: stage, validate, test every weight format in the
current environment, publish as the configured demo reviewer, generate the index."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..context import Context
from ..errors import ConfigError
from ..index.generate import generate_index
from ..records import keys
from ..review.publish import publish
from ..stage.stage import stage
from ..dynamic.run import run_weight_format_test
from ..dynamic.environments import current_env
from ..validate.static import validate_format


@dataclass(frozen=True)
class DemoResult:
    concept_id: str
    version: str
    collection_json: str
    collection_path: Path | None
    dashboard: str
    """URL of the reviewer dashboard (served by `backoffice serve`)."""


def run_demo(ctx: Context, say: Callable[[str], None], *, version: str = "1.0") -> DemoResult:
    from .packages import build_model_package

    reviewer = ctx.config.demo_reviewer
    if reviewer is None:
        raise ConfigError(f"{ctx.settings.config_path}: field 'demo_reviewer': not set")
    with tempfile.TemporaryDirectory(prefix="backoffice-demo-") as tmp:
        package = build_model_package(Path(tmp) / "tiny-model.zip", version=version)
        say(f"built example package {package.name}")
        staged = stage(ctx, str(package), uploader="demo-uploader@example.org", progress=False)
    cid = staged.concept_id
    say(f"stage: draft of {cid} version {staged.version} ({staged.files} files)")
    static = validate_format(ctx, cid, "draft")
    say(f"validate-format: {static.status}; test matrix: {', '.join(static.dynamic_formats) or 'none'}")
    for wf in static.dynamic_formats:
        outcome = run_weight_format_test(ctx, cid, "draft", wf, current_env())
        say(f"test {wf}: {outcome.status}" + (f" ({outcome.first_error})" if outcome.first_error else ""))
    draft = ctx.concepts.get(cid).require_draft()
    say(f"draft status: {draft.status.value}")
    published = publish(ctx, cid, reviewer)
    say(f"publish (as {reviewer}): version {published.version}")
    index = generate_index(ctx)
    url = index.written["collection.json"]
    local = getattr(ctx.storage, "root", None)
    path = Path(local) / "collection.json" if isinstance(local, Path) else None
    dashboard = ctx.storage.public_url(keys.DASHBOARD_PREFIX + "index.html").removesuffix("index.html")
    return DemoResult(cid, published.version, url, path, dashboard)

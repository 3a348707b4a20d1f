"""The README's main job: the whole pipeline on the embedded default for a tiny
model the project builds itself: stage, validate, test every weight format in the
current environment, publish as the configured demo reviewer, back up to Zenodo (when
`BACKOFFICE_ZENODO_URL` and `BACKOFFICE_ZENODO_TOKEN` are set; skipped otherwise),
generate the index."""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..backup.run import SKIPPED, make_client, run_backup
from ..context import Context
from ..dynamic.environments import current_env
from ..dynamic.run import DynamicTestOutcome, run_weight_format_test
from ..errors import BackupIncompleteError, ConfigError
from ..index.generate import generate_index
from ..partners.ingest import ingest
from ..partners.ledger import Ledger, VersionRef
from ..records import keys
from ..records.weight_scan import WeightScan, scan_lines
from ..review.steps import publish_step
from ..stage.stage import stage
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
    _say_scan(static.weight_scan, say)
    for wf in static.dynamic_formats:
        for line in test_lines(run_weight_format_test(ctx, cid, "draft", wf, current_env())):
            say(line)
    draft = ctx.concepts.get(cid).require_draft()
    say(f"draft status: {draft.status.value}")
    published = publish_step(ctx, cid, reviewer)
    say(f"publish (as {reviewer}): version {published.version}")
    _partner_report(ctx, cid, published.version, say)
    client = make_client(ctx)
    if client is None:
        say(SKIPPED)
    else:
        report = run_backup(ctx, client, say, cid, published.version)
        for o in report.outcomes:
            say(f"backup {o.version}: DOI {o.doi}, concept DOI {o.concept_doi}" if o.outcome == "backed up"
                else f"backup {o.version}: {o.outcome}: {o.error}")
        if report.failed:
            raise BackupIncompleteError(f"{cid} {published.version} was not backed up to Zenodo")
    index = generate_index(ctx)
    url = index.written["collection.json"]
    local = getattr(ctx.storage, "root", None)
    path = Path(local) / "collection.json" if isinstance(local, Path) else None
    dashboard = ctx.storage.public_url(keys.DASHBOARD_PREFIX + "index.html").removesuffix("index.html")
    return DemoResult(cid, published.version, url, path, dashboard)



def test_lines(outcome: DynamicTestOutcome) -> list[str]:
    """What the demo prints for one weight format: the outcome, then one indented line per
    verdict (`runs`, `reproduces`; other checks of a weight format add lines of their own)."""
    v = outcome.verdict
    lines = [f"test {outcome.weight_format}: {outcome.status}" + (f" ({outcome.first_error})" if outcome.first_error else "")]
    if v is None:
        return lines
    where = f" on {v.hardware}" if v.hardware else ""
    lines.append(f"  runs: {'yes' if v.runs else 'no'}{where}")
    reproduces = "yes" if v.reproduces else "no" if v.reproduces is False else "not known (it did not run)"
    lines.append(f"  reproduces: {reproduces}" + (f" ({v.reason})" if v.reproduces is False and v.reason else ""))
    return lines


def _say_scan(scan: WeightScan | None, say: Callable[[str], None]) -> None:
    """The weight safety scan of the draft (made by validate-format, before any test loads a weight)."""
    for line in scan_lines(scan) if scan is not None else ["weight safety scan: not run"]:
        say(line)


DEMO_PARTNER_REPORT = {"status": "passed", "error": None, "details": "opened and ran in the partner's tool",
                       "links": ["ilastik/ilastik"], "badge": None, "tool": "ilastik"}
"""A report as a partner's check writes it (the format of the running bioimage.io collection)."""


def _partner_report(ctx: Context, cid: str, version: str, say: Callable[[str], None]) -> None:
    """Hand in a partner's report for the published version and show the conflated scores."""
    import json

    partner = next((p for p in ctx.config.partners if "model" in p.resource_types and p.tool_name != "bioimageio.core"), None)
    if partner is None:
        say("no partner checks models: no partner report")
        return
    if partner.dispatch is not None:  # the partner accepts reports only on versions sent to it: the demo plays the dispatch
        Ledger(ctx.storage, partner.id).append("dispatched", [VersionRef(cid, version)], note="backoffice demo")
    with tempfile.TemporaryDirectory(prefix="backoffice-demo-report-") as tmp:
        report = Path(tmp) / cid / version / f"{partner.tool_name}_1.4.1.json"
        report.parent.mkdir(parents=True)
        report.write_text(json.dumps({**DEMO_PARTNER_REPORT, "tool": partner.tool_name}), encoding="utf-8")
        ingest(ctx, partner.id, [str(report)], actor="demo")
    compat = ctx.concepts.get(cid).versions[version].compatibility
    if compat is not None:
        tools = ", ".join(f"{t} {s:g}" for t, s in compat.scores.tools.items())
        say(f"partner report: {partner.tool_name} 1.4.1 passed; scores: {tools}; overall {compat.scores.overall:g};"
            f" tags: {', '.join(compat.tags)}")

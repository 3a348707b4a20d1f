"""`backoffice run-test`: the test of one weight format in the job that holds no secret.

It reads the draft or version through the public URLs (the `public` storage), runs the
test in the prepared environment, and returns the result as a hand-over for the job
that stores it (`backoffice store-test-result`). Nothing is written to the store.
"""

from __future__ import annotations

import base64

from ..context import Context
from ..errors import ConfigError, NotFoundError
from ..records.handover import MAX_KEPT_TOTAL_BYTES, Handover, KeptFile, ToolSummary
from ..description import parse_description
from ..validate.static import run_spec_validation
from ..records.target import rdf_source, resolve_target
from ..records.verdicts import derive_verdict, verdict_markdown
from ..resource_types import has_weights
from ..weight_formats import WEIGHT_FORMATS
from .environments import PreparedEnv
from .run import DEFAULT_TIMEOUT, merged_test_kwargs, run_in_env


def refuse_secrets(ctx: Context) -> None:
    """The job that runs uploaded code must hold no secret: refuse to start with one set."""
    held = [name for name, value in ctx.settings.describe().items() if value == "***"]
    if held:
        raise ConfigError(f"this step runs uploaded code and must hold no secret, but {', '.join(held)} is set; unset it")


def _verdict(status: str) -> str:
    return "failed" if status == "failed" else "passed" if status == "passed" else "valid-format"


def run_test_for_handover(
    ctx: Context, concept_id: str, which: str, weight_format: str | None, env: PreparedEnv,
    *, timeout: float = DEFAULT_TIMEOUT,
) -> Handover:
    """Run the test (or the static checks, without a weight format) and describe the result."""
    target = resolve_target(ctx.concepts, concept_id, which)
    tool = "bioimageio.core"
    device: str | None = None
    kept: dict[str, bytes] = {}
    if not weight_format:
        tool = "bioimageio.spec"
        with rdf_source(ctx.storage, target) as rdf:
            status, summary, markdown = run_spec_validation(rdf)
        summary["note"] = f"a {target.record.type} has no dynamic test: static checks only"
        verdict = _verdict(status)
    else:
        if not has_weights(target.record.type):
            raise NotFoundError(f"'{concept_id}' is a {target.record.type}: it has no weight formats")
        if weight_format not in target.summary.weight_formats:
            have = ", ".join(target.summary.weight_formats) or "none"
            raise NotFoundError(f"'{concept_id}' {which} has no '{weight_format}' weights (it has: {have})")
        info = WEIGHT_FORMATS.get(weight_format)
        content = parse_description(ctx.storage.get_bytes(target.rdf_key), target.rdf_name)
        with rdf_source(ctx.storage, target) as rdf:
            if info is None or not info.dynamic:
                status, summary, markdown = run_spec_validation(rdf)
                summary["note"] = f"{weight_format}: static validation only (bioimageio.core cannot run it)"
                markdown = f"**{weight_format}: static validation only**\n\n" + markdown
                verdict = "failed" if status == "failed" else "valid-format"
            else:
                kwargs = merged_test_kwargs(ctx, target, weight_format, content)
                ran = run_in_env(ctx, env, rdf, weight_format, kwargs, timeout)
                summary, markdown, device, kept = ran.summary, ran.markdown, ran.device, ran.kept
                # for the job summary only: the storing job derives the verdicts again from the checks
                markdown = verdict_markdown(weight_format, derive_verdict(summary, weight_format)) + markdown
                verdict = "passed" if summary.get("status") == "passed" else "failed"
        summary["environment"] = env.description
    if verdict == "failed":
        summary["status"] = "failed"
    return Handover(
        step="test", concept_id=concept_id, subject=target.subject, draft_token=target.draft_token,
        tool=tool, weight_format=weight_format or "", status=verdict,  # pyright: ignore[reportArgumentType]
        summary=ToolSummary.model_validate(summary), markdown=markdown[:1_000_000],
        device=device, environment=env.description[:20_000], kept_outputs=_within_cap(kept),
    )


def _within_cap(kept: dict[str, bytes]) -> list[KeptFile]:
    """The kept outputs, as many as fit the hand-over's cap (the store side checks it again)."""
    out: list[KeptFile] = []
    total = 0
    for name, data in sorted(kept.items()):
        if total + len(data) > MAX_KEPT_TOTAL_BYTES:
            continue
        total += len(data)
        out.append(KeptFile(name=name, data=base64.b64encode(data).decode("ascii")))
    return out

"""The job summary of a retest plan (markdown for `$GITHUB_STEP_SUMMARY`)."""

from __future__ import annotations

from .limits import MAX_MATRIX_JOBS
from .plan import RetestPlan


def plan_markdown(plan: RetestPlan, only_missing: bool) -> str:
    """What the plan holds, what it left out and what it deferred."""
    lines = [
        "## Retest plan",
        "",
        f"- test jobs: {len(plan.jobs)} in {len(plan.chunks)} matrices (at most {MAX_MATRIX_JOBS} jobs each,"
        f" {len(plan.fan_out_json())} bytes of step output)",
        f"- blocked versions left out: {plan.blocked}",
    ]
    if only_missing:
        lines.append(f"- left out, reported on by the current tools already: {plan.up_to_date}")
    if plan.deferred:
        lines.append(f"- **deferred to a later run** (more than one run can hold): {len(plan.deferred)}")
    return "\n".join(lines) + "\n"

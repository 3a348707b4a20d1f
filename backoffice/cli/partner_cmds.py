"""Partner commands: ingest-reports, dispatch-partners, plan-partner-check, run-partner-check, conflate."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

import typer

from ..errors import InvalidArgumentError, NotFoundError
from ..gh_actions import append_summary, set_outputs
from .common import console, make_context


def register(app: typer.Typer) -> None:
    app.command("ingest-reports")(ingest_reports)
    app.command("dispatch-partners")(dispatch_partners)
    app.command("plan-partner-check")(plan_partner_check)
    app.command("run-partner-check")(run_partner_check)
    app.command("conflate")(conflate)
    app.command("verify-reporter")(verify_reporter)


def verify_reporter(
    partner: str = typer.Argument(..., help="Partner id."),
    actor_id: int = typer.Option(
        ..., "--actor-id", envvar="GITHUB_ACTOR_ID",
        help="Numeric GitHub id of the user who dispatched (on GitHub Actions the runner's GITHUB_ACTOR_ID)."),
    mode: str = typer.Option(..., "--mode", help="url or artifact: how the reports come."),
    run_id: int | None = typer.Option(
        None, "--run-id", min=1,
        help="Artifact mode: the run whose artifact holds the reports; it must be of the partner's repository,"
        " workflow file and branch, and not a pull request's."),
) -> None:
    """Check that a GitHub user may hand in a partner's reports, and (artifact) that the run is of the partner's
    workflow file and branch and no pull request's; outputs the artifact repository (report_compatibility
    workflow).
    """
    from ..partners.identity import check_report_run
    from ..partners.identity import verify_reporter as verify

    if mode not in ("url", "artifact"):
        raise InvalidArgumentError(f"--mode must be url or artifact, not '{mode}'")
    if (mode == "artifact") != (run_id is not None):
        raise InvalidArgumentError("--run-id is needed with --mode artifact, and only there")
    ctx = make_context()
    config = ctx.config.partner(partner)
    repo = verify(config, actor_id, "url" if mode == "url" else "artifact")
    if repo is not None and run_id is not None:
        from ..github.api import GitHubClient

        check_report_run(config, repo, GitHubClient(ctx.settings, repo, partner=True).workflow_run(run_id))
    set_outputs({"repository": repo or ""})
    console.print(f"GitHub user {actor_id} may hand in reports of {partner}" + (f" from {repo}" if repo else ""))


def ingest_reports(
    partner: str = typer.Argument(..., help="Partner id from bioimageio_collection_config.json."),
    sources: list[str] = typer.Argument(..., help="Report files, folders or zips (<concept>/<version>/<tool>_<version>.json), or http(s) URLs of them."),
    actor: str | None = typer.Option(None, "--actor", help="Who hands the reports in (for the log)."),
    expected: Path | None = typer.Option(
        None, "--expected",
        help="The resources the check was given (`plan-partner-check --out`): any other report, or one without"
        " the sha256 of the rdf it checked or the release the partner's environment pins, is refused.",
    ),
) -> None:
    """Check a partner's compatibility reports (`<concept>/<version>/<tool>_<version>.json`), store them next to the
    versions' reports and merge them into each version's `compatibility.json` (no listing); one bad report
    refuses all.
    """
    from ..partners.ingest import ingest, load_expected

    ctx = make_context()
    result = ingest(ctx, partner, sources, actor=actor, expected=None if expected is None else load_expected(expected))
    lines = [f"{a.concept_id} {a.version}: {a.tool} {a.tool_version} {a.report.status} (score {a.report.score:g})" for a in result.accepted]
    append_summary(f"## Reports of {partner}\n\n" + "\n".join(f"- {ln}" for ln in lines) + "\n")
    for ln in lines:
        console.print(ln)
    console.print(f"ingested {len(result.accepted)} reports of {partner} on {len(result.versions)} versions")


def dispatch_partners(
    dry_run: bool = typer.Option(False, "--dry-run", help="Plan only: print what would be dispatched."),
) -> None:
    """Dispatch every partner's check workflow with the resource versions it has not answered yet (chunked; missed ones
    resent).
    """
    from ..partners.service import dispatch_partners as run

    ctx = make_context()
    done = run(ctx, dry_run=dry_run)
    plan = done.plan
    failed = [s for s in done.sent if s.error]
    lines = [f"{d.partner}: {len(d.versions)} versions -> {d.repository} {d.workflow}" for d in plan.dispatches]
    lines += [f"{pid}: {len(vs)} versions for our own script check" for pid, vs in plan.script_pending.items()]
    set_outputs({"script_partners": json.dumps(sorted(plan.script_pending)), "dispatches": str(len(plan.dispatches)),
                 "failed": str(len(failed))})
    append_summary("## Partner dispatches\n\n" + "\n".join(f"- {ln}" for ln in lines or ["nothing to dispatch"])
                   + f"\n\n- answered already: {plan.answered}; sent recently, awaiting an answer: {plan.waiting}\n")
    for ln in lines:
        console.print(ln)
    for s in failed:
        console.print(f"dispatch to {s.dispatch.partner} failed (retried next time): {s.error}")
    console.print(("planned " if dry_run else "sent ") + f"{len(plan.dispatches) - len(failed)} dispatches"
                  + (f", {len(failed)} failed" if failed else "") + f"; {plan.answered} answered, {plan.waiting} awaiting an answer")


def plan_partner_check(
    partner: str = typer.Argument(..., help="Id of a partner with a `script` check."),
    out: Path = typer.Option(..., "--out", help="JSON file to write the resource versions to check into."),
) -> None:
    """Write the resource versions a `script` partner has not answered yet (its check's input)."""
    from ..partners.service import plan_now

    ctx = make_context()
    p = ctx.config.partner(partner)
    if p.script is None:
        raise InvalidArgumentError(f"partner '{partner}' is checked by dispatch, not by a script")
    todo = plan_now(ctx).script_pending.get(partner, ())
    try:
        out.write_text(json.dumps([c.entry() for c in todo], indent=1), encoding="utf-8")
    except OSError as e:
        raise InvalidArgumentError(f"cannot write --out {out}: {e.strerror or type(e).__name__}") from None
    set_outputs({"has_resources": "yes" if todo else "no", "resources": str(len(todo))})
    console.print(f"{partner}: {len(todo)} resource versions to check -> {out}")


def run_partner_check(
    partner: str = typer.Argument(..., help="Id of a partner with a `script` check."),
    resources: Path = typer.Option(..., "--resources", help="JSON list from plan-partner-check."),
    out: Path = typer.Option(..., "--out", help="Folder for the reports (<concept>/<version>/<tool>_<version>.json)."),
    env_manager: str = typer.Option("venv", "--env-manager", help="venv (built from the partner's requirements, cached) or current."),
    sandbox: str = typer.Option(
        "", "--sandbox",
        help="Command prefix that runs each resource's process as a throwaway user (the workflow: `scripts/sandbox.sh run <user>`)."),
) -> None:
    """Run a `script` partner's check in its own venv (no storage, no credentials needed): once per resource, each in
    its own process, taking over only that resource's report.
    """
    from ..partners.script import partner_env, run_script
    from ..settings import Settings

    if env_manager not in ("venv", "current"):
        raise InvalidArgumentError(f"--env-manager must be venv or current, not '{env_manager}'")
    if not resources.is_file():
        raise NotFoundError(f"{resources}: no such file")
    ctx = make_context()
    settings: Settings = ctx.settings
    p = ctx.config.partner(partner)
    env = partner_env(p, env_manager, settings.env_cache_dir)
    done = run_script(p, env, resources, out, settings.config_path.parent, settings.secret_values(), shlex.split(sandbox))
    console.print(done.result.tail(20), markup=False)
    for line in done.ignored:
        console.print(f"not taken over (not its own resource's report): {line}", markup=False)
    if not done.result.ok:
        raise InvalidArgumentError(f"the check of partner '{partner}' failed (exit code {done.result.returncode}); see its output above")
    console.print(f"{partner}: {len(done.reports)} reports in {out} ({env.description})")


def conflate(
    concept: str | None = typer.Argument(None, help="Concept id (default: every concept)."),
    version: str | None = typer.Argument(None, help="Published version (default: every version)."),
) -> None:
    """Conflate the stored reports again: re-read the reports of versions and recompute their scores (e.g. after a
    change of the scoring rules).
    """
    from ..records import keys
    from ..records.conflation import conflate_target

    ctx = make_context()
    ids = [concept] if concept else ctx.concepts.list_ids()
    n = 0
    for cid in ids:
        record = ctx.concepts.get(cid)
        versions = [version] if version else list(record.versions)
        for v in versions:
            if v not in record.versions:
                raise NotFoundError(f"'{cid}' has no published version {v}")
            compat = conflate_target(ctx.storage, ctx.concepts, cid, v, keys.version_reports(cid, v, record.versions[v].content))
            console.print(f"{cid} {v}: {compat.status}, overall score {compat.scores.overall:g}")
            n += 1
    console.print(f"conflated {n} versions")

"""`backoffice make-env`: the conda environment file a weight format is tested in."""

from __future__ import annotations

import shlex
from pathlib import Path

import typer

from ..errors import InvalidArgumentError, NotFoundError
from ..gh_actions import set_outputs
from ..log import in_github_actions, logger
from .choices import WHICH_HELP, draft_or_version
from .common import console, make_context


def register(app: typer.Typer) -> None:
    app.command("make-env")(make_env)


def conda_lock_command(env_file: Path, lockfile: Path) -> str:
    """The command the workflow runs to lock the rendered file (then `micromamba create` from the lock)."""
    return shlex.join(["conda-lock", "lock", "--micromamba", "--file", str(env_file),
                       "--platform", "linux-64", "--lockfile", str(lockfile)])


def make_env(
    concept_id: str = typer.Argument(..., help="Concept id."),
    which: str = typer.Argument(..., help=WHICH_HELP, parser=draft_or_version),
    weight_format: str = typer.Argument(..., help="Weight format whose test environment to render."),
    out: Path | None = typer.Option(None, "--out", help="Write the file here (default: print it; on GitHub Actions: env-<weight-format>.yaml)."),
) -> None:
    """Render the conda environment file (from `env_templates/`) that tests one weight format."""
    from ..dynamic.env_inputs import render_for_target
    from ..records.target import resolve_target

    ctx = make_context()
    target = resolve_target(ctx.concepts, concept_id, which)
    if weight_format not in target.summary.weight_formats:
        have = ", ".join(target.summary.weight_formats) or "none"
        raise NotFoundError(f"'{concept_id}' {which} has no '{weight_format}' weights (it has: {have})")
    rendered = render_for_target(ctx, target, weight_format)
    for warning in rendered.warnings:
        logger.warning("%s", warning)
    if out is None and in_github_actions():
        out = Path(f"env-{weight_format}.yaml")
    if out is None:
        console.print(rendered.text, end="", markup=False)
        return
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        _ = out.write_text(rendered.text, encoding="utf-8")
    except OSError as e:
        raise InvalidArgumentError(f"cannot write the environment file {out}: {e.strerror or type(e).__name__}") from None
    lockfile = out.with_name(out.name.rsplit(".", 1)[0] + ".conda-lock.yml")
    set_outputs({
        "env_file": str(out),
        "env_hash": rendered.content_hash,
        "lockfile": str(lockfile),
        "conda_lock_command": conda_lock_command(out, lockfile),
    })
    console.print(f"{concept_id} {which} {weight_format}: wrote {out} ({rendered.framework} {rendered.framework_version}, env {rendered.content_hash})")

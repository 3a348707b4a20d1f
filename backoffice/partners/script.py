"""Partners with a `script` check: our workflow runs their command in an environment of its
own (a venv built from the partner's pip requirements, cached like the test
environments), on the resource versions they have not answered yet — once per resource,
each in its own process and folder, and only that resource's report is taken over. The
command runs the resources' code, so it gets no credentials; its reports are then
ingested like any partner's."""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ..config.collection_config import Partner
from ..errors import InvalidArgumentError
from ..dynamic.env_builders import prepare_env
from ..dynamic.env_render import RenderedEnv
from ..dynamic.environments import PreparedEnv, current_env
from ..records.tool_report import MAX_REPORT_BYTES
from ..util.child_environ import child_environ
from ..util.cmd import CmdResult, run
from ..util.run_folder import make_run_folder


def partner_env_file(partner: Partner) -> RenderedEnv:
    """The partner's environment as an env file (the venv manager's input; cached by its hash)."""
    if partner.script is None:
        raise InvalidArgumentError(f"partner '{partner.id}' is checked by dispatch, not by a script")
    data = {"name": f"partner-{partner.id}", "channels": ["conda-forge", "nodefaults"],
            "dependencies": ["pip", {"pip": list(partner.script.environment)}]}
    text = json.dumps(data, indent=1) + "\n"
    return RenderedEnv(text=text, weight_format=f"partner-{partner.id}",
                       content_hash=hashlib.sha256(text.encode()).hexdigest()[:16], data=data)


def partner_env(partner: Partner, manager: str, cache_dir: Path) -> PreparedEnv:
    """The environment the partner's command runs in (never raises: see PreparedEnv.error)."""
    if partner.script is None or not partner.script.environment or manager == "current":
        return current_env()
    return prepare_env(manager, partner_env_file(partner), cache_dir)


@dataclass(frozen=True)
class ScriptRun:
    result: CmdResult
    """All runs together: the first failing one's exit code, every output."""
    reports: list[Path]
    """The reports taken over into `out`: each resource's own, from its own run."""
    ignored: list[str] = field(default_factory=lambda: list[str]())
    """Files a run wrote that are not its own resource's report (not taken over)."""


def _own_reports(own_out: Path, item: dict[str, Any]) -> tuple[list[tuple[str, bytes]], list[str]]:
    """(name, bytes) of the reports of `item` a run wrote into its own folder, and what else it wrote."""
    cid, version = str(item.get("id", "")), str(item.get("version", ""))
    own = own_out / cid / version
    real = own.is_dir() and not own.is_symlink() and not own.parent.is_symlink() and "/" not in cid + version
    taken: list[tuple[str, bytes]] = []
    ignored: list[str] = []
    for path in sorted(own_out.rglob("*")):
        if path.is_dir() and not path.is_symlink():
            continue
        rel = path.relative_to(own_out).as_posix()
        ok = (real and path.parent == own and path.name.endswith(".json") and not path.is_symlink() and path.is_file()
              and path.stat().st_size <= MAX_REPORT_BYTES)
        if ok:
            taken.append((path.name, path.read_bytes()))
        else:
            ignored.append(f"{cid} {version}: {rel}")
    return taken, ignored


def _combined(runs: list[CmdResult]) -> CmdResult:
    failed = next((r for r in runs if not r.ok), None)
    return CmdResult(
        args=failed.args if failed else (runs[0].args if runs else []),
        returncode=failed.returncode if failed else 0,
        output="\n".join(r.output for r in runs),
        seconds=sum(r.seconds for r in runs),
        timed_out=any(r.timed_out for r in runs),
    )


def _run_one(command: Sequence[str], timeout: float, item: dict[str, Any], work: Path, python: Path,
             config_dir: Path, secrets: list[str], sandbox: Sequence[str]) -> tuple[CmdResult, list[tuple[str, bytes]], list[str]]:
    """One resource's run in the fresh folder `work` (ours): its result, its own reports, what else it wrote.

    Sandboxed, `scripts/sandbox.sh` gives the process an empty HOME, working folder, temporary
    folder and cache of its own, copies the resource list in and takes `out` back over (regular
    files only), then removes all the run left (`--sweep`: in /tmp, /var/tmp, /dev/shm too).
    Unsandboxed, a run folder in `work` does the same (`util/run_folder.py`): no `.env` and no
    cache entry of one resource reaches another's check."""
    (work / "resources.json").write_text(json.dumps([item]), encoding="utf-8")
    own_out = work / "out"
    own_out.mkdir()
    values = {"python": str(python), "config_dir": str(config_dir.absolute())}
    if sandbox:  # relative to the run's own working folder, which sandbox.sh makes and removes
        values |= {"resources": "resources.json", "out": "out"}
        args = [*sandbox, "--sweep", "--in", "resources.json", "--out", "out", "--",
                *(part.format(**values) for part in command)]
        ran = run(args, env=child_environ(secrets, PYTHONUNBUFFERED="1"), timeout=timeout, cwd=work)
    else:
        fresh = make_run_folder(work / "run")
        values |= {"resources": str(work / "resources.json"), "out": str(own_out)}
        ran = run([part.format(**values) for part in command], env=child_environ(secrets, PYTHONUNBUFFERED="1") | fresh,
                  timeout=timeout, cwd=work / "run" / "work")
    taken, other = _own_reports(own_out, item)
    return ran, taken, other


def run_script(partner: Partner, env: PreparedEnv, resources: Path, out: Path, config_dir: Path,
               secrets: list[str], sandbox: Sequence[str] = ()) -> ScriptRun:
    """Run the partner's command once per resource of `resources` (JSON list), each in a
    process of its own with a folder of its own, and take over into `out` only that
    resource's report: one model's code can neither patch nor write another's verdict.

    `sandbox`: `scripts/sandbox.sh run <user>` (the workflow), which runs each process as a
    throwaway user whose processes end with it, in a run folder of its own."""
    if partner.script is None:
        raise InvalidArgumentError(f"partner '{partner.id}' is checked by dispatch, not by a script")
    if env.python is None:
        raise InvalidArgumentError(f"the environment of partner '{partner.id}' could not be built: {env.error}")
    try:
        items: Any = json.loads(resources.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise InvalidArgumentError(f"{resources} is not a JSON list of resources: {e}") from None
    if not isinstance(items, list) or not all(isinstance(i, dict) for i in cast(list[Any], items)):
        raise InvalidArgumentError(f"{resources} is not a JSON list of resources")
    out.mkdir(parents=True, exist_ok=True)
    runs: list[CmdResult] = []
    reports: list[Path] = []
    ignored: list[str] = []
    for item in cast(list[dict[str, Any]], items):
        with tempfile.TemporaryDirectory(prefix="partner-check-", ignore_cleanup_errors=True) as tmp:
            ran, taken, other = _run_one(partner.script.command, partner.script.timeout, item, Path(tmp), env.python,
                                         config_dir, secrets, sandbox)
            runs.append(ran)
        ignored += other
        folder = out / str(item.get("id", "")) / str(item.get("version", ""))
        for name, data in taken:
            folder.mkdir(parents=True, exist_ok=True)
            (folder / name).write_bytes(data)
            reports.append(folder / name)
    return ScriptRun(_combined(runs), sorted(reports), ignored)

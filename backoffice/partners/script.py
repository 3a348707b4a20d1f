"""Partners with a `script` check: our workflow runs their command in an environment of its
own (a venv built from the partner's pip requirements, cached like the test
environments), on the resource versions they have not answered yet. The command runs
the resources' code, so it gets no credentials; its reports are then ingested like any
partner's."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from ..config.collection_config import Partner
from ..errors import InvalidArgumentError
from ..dynamic.env_builders import prepare_env
from ..dynamic.env_render import RenderedEnv
from ..dynamic.environments import PreparedEnv, current_env
from ..util.child_environ import child_environ
from ..util.cmd import CmdResult, run


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
    reports: list[Path]


def run_script(partner: Partner, env: PreparedEnv, resources: Path, out: Path, config_dir: Path,
               secrets: list[str]) -> ScriptRun:
    """Run the partner's command on `resources` (JSON list) writing reports into `out`."""
    if partner.script is None:
        raise InvalidArgumentError(f"partner '{partner.id}' is checked by dispatch, not by a script")
    if env.python is None:
        raise InvalidArgumentError(f"the environment of partner '{partner.id}' could not be built: {env.error}")
    out.mkdir(parents=True, exist_ok=True)
    values = {"python": str(env.python), "resources": str(resources.absolute()), "out": str(out.absolute()),
              "config_dir": str(config_dir.absolute())}
    args: list[str | Path] = [part.format(**values) for part in partner.script.command]
    result = run(args, env=child_environ(secrets, PYTHONUNBUFFERED="1"), timeout=partner.script.timeout, cwd=out)
    return ScriptRun(result, sorted(out.rglob("*.json")))

"""The environment handed to processes that run uploaded code (dynamic tests) or
install its dependencies: everything of ours, but no credentials."""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping

_DROP_PREFIXES = ("BACKOFFICE_", "AWS_", "GITHUB_TOKEN", "GH_TOKEN", "ACTIONS_RUNTIME_TOKEN", "ACTIONS_ID_TOKEN")
_SECRET_NAME = re.compile(r"(TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|API_KEY|ACCESS_KEY)", re.IGNORECASE)
_INTERPRETER = ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV", "PYTHONSTARTUP")


def child_environ(
    secret_values: Iterable[str] = (), base: Mapping[str, str] | None = None, **extra: str
) -> dict[str, str]:
    """`base` (default: os.environ) without settings, credentials, secret-looking names,
    any variable holding one of `secret_values`, and our interpreter's paths."""
    secrets = {v for v in secret_values if v}
    env = {
        k: v
        for k, v in (os.environ if base is None else base).items()
        if not k.startswith(_DROP_PREFIXES) and not _SECRET_NAME.search(k) and k not in _INTERPRETER and v not in secrets
    }
    env.update(extra)
    return env

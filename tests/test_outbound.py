"""No module of the package makes its own outbound request or loads YAML its own way (issue 26).

Every URL from outside is fetched by `backoffice/util/fetch.py`; the few clients of
configured endpoints (S3, Zenodo, GitHub, SMTP, IMAP) are listed in `docs/security.md`,
whose table this test reads. Every YAML load goes through `util/yaml_guard.load_yaml`.
Both are checked on the source (AST) of every module."""

from __future__ import annotations

import ast
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "backoffice"
NETWORK = ("requests", "urllib.request", "urllib3", "http.client", "http.server", "httpx", "aiohttp", "socket", "ssl",
           "smtplib", "imaplib", "poplib", "ftplib", "telnetlib", "xmlrpc", "boto3", "botocore", "github3", "pycurl",
           "websocket", "websockets", "pooch", "fsspec", "asyncio.streams")
YAML_LIBS = ("yaml", "ruamel.yaml", "ruamel")
YAML_LOADERS = {"load", "load_all", "safe_load", "safe_load_all", "full_load", "full_load_all", "unsafe_load",
                "unsafe_load_all", "compose", "compose_all", "parse", "scan", "round_trip_load", "round_trip_load_all"}
YAML_GUARD = "backoffice/util/yaml_guard.py"


def _is(name: str, libs: tuple[str, ...]) -> bool:
    return any(name == lib or name.startswith(lib + ".") for lib in libs)


def _imported(tree: ast.AST) -> list[str]:
    """Every module name an import statement (or `importlib.import_module("...")`) names."""
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append(node.module)
            names.extend(f"{node.module}.{a.name}" for a in node.names)
        elif (isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name))
              and (node.func.attr if isinstance(node.func, ast.Attribute) else node.func.id) in ("import_module", "__import__")
              and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)):
            names.append(node.args[0].value)
    return names


def network_uses(source: str) -> list[str]:
    return sorted({n for n in _imported(ast.parse(source)) if _is(n, NETWORK)})


def yaml_loader_calls(source: str) -> list[str]:
    """Loader calls (`x.load(...)`, `safe_load(...)`) in a module that imports a YAML library."""
    tree = ast.parse(source)
    imported = _imported(tree)
    if not any(_is(n, YAML_LIBS) for n in imported):
        return []
    found = [n for n in imported if _is(n, YAML_LIBS) and n.rsplit(".", 1)[-1] in YAML_LOADERS]
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in YAML_LOADERS:
            found.append(f"line {node.lineno}: .{node.func.attr}(...)")
    return found


def allowed_network_modules() -> set[str]:
    text = (REPO / "docs" / "security.md").read_text()
    section = text.split("### Modules that open connections", 1)[1]
    return set(re.findall(r"^\| `(backoffice/[\w/]+\.py)` \|", section, re.MULTILINE))


def _modules() -> dict[str, str]:
    return {str(p.relative_to(REPO)): p.read_text() for p in sorted(PACKAGE.rglob("*.py"))}


def test_the_scans_find_what_they_look_for() -> None:
    assert network_uses("import requests\n") == ["requests"]
    assert network_uses("from urllib import request\n") == ["urllib.request"]
    assert network_uses("from http.client import HTTPConnection\n") == ["http.client", "http.client.HTTPConnection"]
    assert network_uses("import importlib\nimportlib.import_module('socket')\n") == ["socket"]
    assert network_uses("from urllib.parse import urlsplit\nimport json\n") == []
    assert yaml_loader_calls("import yaml\nyaml.safe_load(b'')\n") == ["line 2: .safe_load(...)"]
    assert yaml_loader_calls("from yaml import safe_load\n") == ["yaml.safe_load"]
    assert yaml_loader_calls("from ruamel.yaml import YAML\nYAML(typ='safe').load('a: 1')\n") == ["line 2: .load(...)"]
    assert yaml_loader_calls("import yaml\nyaml.dump({})\n") == []
    assert yaml_loader_calls("import numpy as np\nnp.load('x')\n") == []


def test_only_the_listed_modules_open_connections() -> None:
    allowed = allowed_network_modules()
    assert "backoffice/util/fetch.py" in allowed and len(allowed) >= 5  # the table is read at all
    users = {path: uses for path, source in _modules().items() if (uses := network_uses(source))}
    unlisted = {p: u for p, u in users.items() if p not in allowed}
    assert not unlisted, ("modules making their own outbound requests (fetch through backoffice/util/fetch.py, or list a "
                          f"configured endpoint's client in docs/security.md): {unlisted}")
    stale = allowed - set(users)
    assert not stale, f"docs/security.md lists modules that open no connection: {sorted(stale)}"


def test_no_yaml_loader_but_the_guard() -> None:
    calls = {path: found for path, source in _modules().items() if path != YAML_GUARD and (found := yaml_loader_calls(source))}
    assert not calls, f"YAML loaded without the guard (use backoffice.util.yaml_guard.load_yaml): {calls}"
    assert yaml_loader_calls((REPO / YAML_GUARD).read_text())  # the guard itself loads: the scan sees it

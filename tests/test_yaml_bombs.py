"""YAML bombs (issue 17): anchors and aliases in uploaded YAML are refused, and nesting and
node count are capped, before any loader expands them — at staging, in validation, in the
environment files a description names, and where the backup reads a published rdf. Each
refusal is one line; the store is left as it was."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.errors import PackageError, ValidationFailedError
from backoffice.stage.stage import stage
from stage_helpers import snapshot
from test_trust_handover import _env  # pyright: ignore[reportPrivateUsage]

LEVELS = 9


def bomb(levels: int = LEVELS) -> str:
    """Nested aliases under `tags`: 9 levels of 9 expand to 9**9 (387 million) strings."""
    lines = ["tags:"]
    for i in range(levels):
        items = ", ".join([f"*l{i - 1}" if i else '"lol"'] * 9)
        lines.append(f"  - &l{i} [{items}]")
    return "\n".join(lines) + "\n"


def _with_rdf(source: Path, out: Path, edit: Any) -> Path:
    with zipfile.ZipFile(source) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "rdf.yaml":
                data = edit(data.decode()).encode()
            zout.writestr(info, data)
    return out


def _drop_tags(text: str) -> str:
    """The rdf without its own `tags` (a block or flow list), so the bomb's `tags` is the only one."""
    out: list[str] = []
    skipping = False
    for line in text.splitlines():
        if line.startswith("tags:"):
            skipping = True
            continue
        if skipping and (line.startswith((" ", "-")) or not line.strip()):
            continue
        skipping = False
        out.append(line)
    return "\n".join(out) + "\n"


def _bo(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    # without the guard the loader expands the bomb for minutes: the timeout fails the test
    return subprocess.run([sys.executable, "-m", "backoffice", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=60)


def test_staging_refuses_an_alias_bomb_in_one_line(local_ctx: Context, packages: dict[str, Path], tmp_path: Path) -> None:
    package = _with_rdf(packages["dataset"], tmp_path / "bomb.zip", lambda t: _drop_tags(t) + bomb())
    assert len(bomb()) < 1000
    before = snapshot(local_ctx.storage)
    r = _bo(["stage", str(package), "--uploader", "jane@example.org", "--no-progress"], _env(local_ctx), tmp_path)
    assert r.returncode == PackageError.exit_code, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: rdf.yaml uses a YAML anchor (&l0)"), r.stderr
    assert snapshot(local_ctx.storage) == before


@pytest.mark.parametrize(("text", "fragment"), [
    (bomb(), "uses a YAML anchor (&l0)"),
    ("type: dataset\nname: *n\n", "uses a YAML alias (*n)"),
    ("type: dataset\nauthors: &a [{name: x}]\n", "uses a YAML anchor (&a)"),
    ("type: dataset\nx: " + "[" * 65 + "]" * 65 + "\n", "nests mappings or lists more than 64 levels deep"),
    ("type: dataset\nx: " + "[" * 100_000 + "]" * 100_000 + "\n", "more than 64 levels deep"),
])
def test_the_description_reader_refuses_before_loading(text: str, fragment: str, tmp_path: Path) -> None:
    # in a child process: without the guard the loader runs for minutes (the timeout fails the test)
    path = tmp_path / "rdf.yaml"
    path.write_text(text)
    code = ("import sys\nfrom pathlib import Path\nfrom backoffice.description import parse_description\n"
            "from backoffice.errors import PackageError\ntry:\n"
            "    parse_description(Path(sys.argv[1]).read_bytes(), 'rdf.yaml')\nexcept PackageError as e:\n"
            "    print(e.message)\nelse:\n    print('read')\n")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=30,
                       env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])})
    assert r.returncode == 0, r.stderr[-2000:]
    message = r.stdout.strip()
    assert fragment in message and "\n" not in message, message


def test_node_count_is_capped() -> None:
    from backoffice.util.yaml_guard import MAX_NODES, yaml_problem

    assert MAX_NODES == 200_000
    text = "x: [" + ", ".join(["1"] * 1000) + "]\n"
    assert yaml_problem(text, "rdf.yaml", max_nodes=1000) == "rdf.yaml has more than 1000 YAML nodes"
    assert yaml_problem(text, "rdf.yaml", max_nodes=1003) is None  # the document, x, the list and its 1000 items


def test_ordinary_yaml_still_reads() -> None:
    from backoffice.description import parse_description

    content = parse_description(b'type: dataset\nname: "R&D *not an alias*"\ntags: [a, b]\nx: {y: [[1]]}\n')
    assert content["name"] == "R&D *not an alias*" and list(content["tags"]) == ["a", "b"]
    # many brackets in text are no nesting (the quick bracket count is confirmed by the parser)
    art = "[" * 100
    content = parse_description(f"type: dataset\ndescription: |\n  {art}\nname: a {art} b\n".encode())
    assert content["description"] == art + "\n" and content["name"] == f"a {art} b"


def test_validation_of_a_stored_bomb_fails_in_one_line(local_ctx: Context, packages: dict[str, Path], tmp_path: Path) -> None:
    """A draft staged before uploads were checked: validate-format gives a failed summary, not a hang."""
    import json

    cid = stage(local_ctx, str(packages["dataset"]), uploader="jane@example.org", progress=False).concept_id
    draft = local_ctx.concepts.get(cid).require_draft()
    from backoffice.records.target import resolve_target

    target = resolve_target(local_ctx.concepts, cid, "draft")
    text = local_ctx.storage.get_bytes(target.rdf_key).decode()
    local_ctx.storage.put_bytes(target.rdf_key, (_drop_tags(text) + bomb()).encode())
    r = _bo(["validate-format", cid, "draft", "--handover-out", "h.json"], _env(local_ctx), tmp_path)
    assert r.returncode != 0 and "Traceback" not in r.stderr, r.stderr
    handed = json.loads((tmp_path / "h.json").read_text())
    assert handed["status"] == "failed" and handed["draft_token"] == draft.token
    assert "uses a YAML anchor (&l0)" in json.dumps(handed["summary"])


def test_an_environment_file_with_aliases_is_ignored_with_a_warning(tmp_path: Path) -> None:
    from backoffice.dynamic.env_render import _read_conda_file  # pyright: ignore[reportPrivateUsage]

    path = tmp_path / "environment.yaml"
    # small, so that a reader without the check fails fast instead of expanding a bomb
    path.write_text("name: x\nchannels: [conda-forge]\ndependencies:\n  - &d0 numpy\n  - *d0\n")
    warnings: list[str] = []
    assert _read_conda_file(path, warnings) == ([], [])
    assert warnings == ["the environment file environment.yaml uses a YAML anchor (&d0); aliases and anchors are not accepted in uploads;"
                        " it was ignored"]


def test_the_backup_refuses_a_published_bomb(local_ctx: Context) -> None:
    from backoffice.backup.executor import load_rdf
    from backoffice.records import keys
    from backup_helpers import add_published, rdf_text

    add_published(local_ctx, "affable-shark")
    key = keys.version_files("affable-shark", "1.0") + "rdf.yaml"
    local_ctx.storage.put_bytes(key, (_drop_tags(rdf_text("affable-shark", "1.0").decode()) + bomb()).encode())
    with pytest.raises(ValidationFailedError) as err:
        load_rdf(local_ctx, "affable-shark", "1.0")
    assert err.value.message == ("affable-shark 1.0: rdf.yaml uses a YAML anchor (&l0);"
                                 " aliases and anchors are not accepted in uploads")

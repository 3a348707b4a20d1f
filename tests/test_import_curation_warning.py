"""`import-collection` warns, one line per id, when `collection/` declares curation for an id it imports."""

from __future__ import annotations

from backoffice.cli.import_cmds import curated_imports
from backoffice.context import Context
from cli_runner import RunCli
from import_helpers import RUNNING

pytest_plugins = ["backoffice_fixtures"]


def test_curated_imports_names_each_declared_id_once() -> None:
    assert curated_imports(["a-b", "c-d", "a-b"], {"a-b": 1, "x-y": 2}) == [
        "warning: collection/a-b.yaml declares curation for the imported 'a-b': it applies to that resource"]
    assert curated_imports(["c-d"], {}) == []


def test_import_warns_about_a_declaration_for_an_imported_id(local_ctx: Context, run_cli: RunCli) -> None:
    s = local_ctx.settings
    for old in s.collection_dir.glob("*.yaml"):
        old.unlink()
    (s.collection_dir / "affable-shark.yaml").write_text('overrides:\n  tags: ["example"]\n')
    (s.collection_dir / "native-only.yaml").write_text('overrides:\n  tags: ["example"]\n')
    r = run_cli(["import-collection", str(RUNNING), "--no-files"], settings=s)
    # the sample holds one resource upstream could not read itself: refused (exit 18), the rest imported
    assert r.returncode == 18 and "1 resources or versions refused" in r.stderr, r.stderr
    warnings = [ln for ln in r.stdout.splitlines() if ln.startswith("warning:")]
    assert warnings == ["warning: collection/affable-shark.yaml declares curation for the imported 'affable-shark': it applies to that resource"]

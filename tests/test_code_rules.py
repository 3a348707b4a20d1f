"""Rules of the code a newcomer reads, checked over the whole package: no import from a
private module of a dependency, an exit code per error class that means one thing, no import
cycle between modules, no function over 80 lines."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

from backoffice.errors import RESERVED_EXIT_CODES
from test_layers import _imports, _module_name, find_cycle  # pyright: ignore[reportPrivateUsage]

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "backoffice"
MAX_FUNCTION_LINES = 80


def _trees() -> dict[str, ast.Module]:
    trees = {str(p.relative_to(REPO)): ast.parse(p.read_text()) for p in sorted(PACKAGE.rglob("*.py"))}
    assert len(trees) > 50
    return trees


def private_imports(tree: ast.Module) -> list[str]:
    """Imports of a private module (`x._y`) of a third-party package (not the backoffice, not the standard library)."""
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module and not n.level]
    return [name for name in names
            if name.split(".")[0] not in (*sys.stdlib_module_names, "backoffice")
            and any(part.startswith("_") and not part.startswith("__") for part in name.split(".")[1:])]


def test_the_private_import_check_finds_one() -> None:
    assert private_imports(ast.parse("from typer._click.exceptions import UsageError\nimport a.b._c\nimport os._x")) == [
        "a.b._c", "typer._click.exceptions"]
    assert private_imports(ast.parse("from typer.main import get_command\nfrom ._x import y\nimport _compat_pickle")) == []


def test_no_import_from_a_private_module_of_a_dependency() -> None:
    found = {path: names for path, tree in _trees().items() if (names := private_imports(tree))}
    assert not found, f"imports from private modules of dependencies: {found}"


def exit_codes(trees: dict[str, ast.Module]) -> dict[str, int]:
    """`class name -> exit code` of every class of the package that sets `exit_code = <int>`."""
    codes: dict[str, int] = {}
    for tree in trees.values():
        for cls in (n for n in ast.walk(tree) if isinstance(n, ast.ClassDef)):
            for stmt in cls.body:
                target = stmt.target if isinstance(stmt, ast.AnnAssign) else stmt.targets[0] if isinstance(stmt, ast.Assign) else None
                value = getattr(stmt, "value", None)
                if isinstance(target, ast.Name) and target.id == "exit_code" and isinstance(value, ast.Constant):
                    assert isinstance(value.value, int), f"{cls.name}.exit_code is not an int"
                    codes[cls.name] = value.value
    return codes


def test_each_exit_code_means_one_thing() -> None:
    """Each error class that sets an exit code has its own, and none is 0, 1 (a bug) or 2 (click's usage error);
    new classes are found wherever they are written."""
    codes = exit_codes(_trees())
    assert codes.get("ConfigError") and codes.get("BackofficeError") == 1
    classes = {name: code for name, code in codes.items() if name != "BackofficeError"}
    reserved = {name: code for name, code in classes.items() if code in RESERVED_EXIT_CODES}
    assert not reserved, f"error classes using a reserved exit code ({RESERVED_EXIT_CODES}): {reserved}"
    shared = {code: sorted(n for n, c in classes.items() if c == code) for code in set(classes.values())}
    assert all(len(names) == 1 for names in shared.values()), f"exit codes of more than one class: {shared}"


def module_graph() -> dict[str, dict[str, list[str]]]:
    """module -> the backoffice modules it imports (each a module file of the package)."""
    modules = {_module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, dict[str, list[str]]] = {}
    for name, path in modules.items():
        for target in _imports(path):
            if target in modules and target != name and not (path.name == "__init__.py" and target.startswith(name + ".")):
                graph.setdefault(name, {})[target] = [name]
    return graph


def test_no_import_cycle_between_modules() -> None:
    graph = module_graph()
    assert "backoffice.stage.thumbnails" in graph  # the graph is read at all
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle between modules: " + " -> ".join(cycle or [])


def long_functions(trees: dict[str, ast.Module], limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    return {f"{path}:{node.name}": n for path, tree in trees.items() for node in ast.walk(tree)
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
            and (n := (node.end_lineno or node.lineno) - min([node.lineno, *(d.lineno for d in node.decorator_list)]) + 1) > limit}


def test_the_function_length_check_finds_one() -> None:
    tree = ast.parse("def f():\n" + "    x = 1\n" * 3)
    assert long_functions({"m.py": tree}, 3) == {"m.py:f": 4}
    assert long_functions({"m.py": tree}, 4) == {}


def test_no_function_over_80_lines() -> None:
    found = long_functions(_trees())
    assert not found, f"functions over {MAX_FUNCTION_LINES} lines (split them): {found}"


def test_the_key_time_stamp_format_is_written_once() -> None:
    """`keys.STAMP_FORMAT` (via `keys.time_stamp` / `keys.unique_stamp`) is the one time stamp of keys."""
    found = [str(p.relative_to(REPO)) for p in PACKAGE.rglob("*.py") if "%Y%m%dT" in p.read_text()]
    assert found == ["backoffice/records/keys.py"], found

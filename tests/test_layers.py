"""The package's shape: imports follow the layer table of docs/architecture.md, no import cycle
between its packages, no oversized module or test file, and a command line that starts without
the heavy libraries."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PACKAGE = REPO / "backoffice"
MAX_MODULE_LINES = 400


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of the backoffice modules `path` imports (anywhere in the file)."""
    module = _module_name(path)
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".")
                base = base[: len(base) - node.level + (1 if is_package else 0)]
                name = ".".join([*base, *([node.module] if node.module else [])])
                found.add(name)
                found.update(f"{name}.{alias.name}" for alias in node.names)
            elif node.module:
                found.add(node.module)
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
    return {name for name in found if name == "backoffice" or name.startswith("backoffice.")}


def _unit(module: str) -> str:
    """The layer unit of a module: its sub-package, or the top-level module itself."""
    parts = module.split(".")
    if len(parts) < 2:
        return "backoffice"
    if (PACKAGE / parts[1]).is_dir() or (PACKAGE / f"{parts[1]}.py").is_file():
        return parts[1]
    return "backoffice"


def package_graph() -> dict[str, dict[str, list[str]]]:
    """unit -> imported unit -> the modules importing it (what a cycle report names)."""
    graph: dict[str, dict[str, list[str]]] = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        src = _unit(_module_name(path))
        for target in _imports(path):
            dst = _unit(target)
            if dst not in (src, "backoffice"):
                graph.setdefault(src, {}).setdefault(dst, []).append(_module_name(path))
    return graph


def find_cycle(graph: dict[str, dict[str, list[str]]]) -> list[str] | None:
    """One cycle of the graph as a path `[a, b, ..., a]`, or None."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, {})):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def layer_table() -> dict[str, int]:
    """Package or module -> its row in the layer table of docs/architecture.md."""
    text = (REPO / "docs" / "architecture.md").read_text()
    layers: dict[str, int] = {}
    for row in re.finditer(r"^\| (\d+) \| ([^|]+) \|", text, re.MULTILINE):
        for name in re.findall(r"`([A-Za-z_]+)/?`", row.group(2)):
            layers[name] = int(row.group(1))
    return layers


def against_the_table(graph: dict[str, dict[str, list[str]]], layers: dict[str, int]) -> list[str]:
    """Every import of a package in the same or a higher row, or of/by one not in the table."""
    found: list[str] = []
    for src, targets in sorted(graph.items()):
        for dst, modules in sorted(targets.items()):
            where = ", ".join(sorted(set(modules))[:3])
            if src not in layers or dst not in layers:
                found.append(f"{src} -> {dst}: {src if src not in layers else dst} is not in the layer table (in {where})")
            elif layers[dst] >= layers[src]:
                found.append(f"{src} (layer {layers[src]}) imports {dst} (layer {layers[dst]}) in {where}")
    return found


def test_the_table_check_finds_an_import_against_it() -> None:
    layers = {"records": 2, "index": 4, "review": 5}
    assert against_the_table({"review": {"index": ["backoffice.review.steps"]}}, layers) == []
    assert against_the_table({"records": {"index": ["backoffice.records.x"]}}, layers) == [
        "records (layer 2) imports index (layer 4) in backoffice.records.x"]
    assert against_the_table({"index": {"review": []}, "review": {"index": []}}, layers)[0].startswith("index (layer 4) imports review")
    assert "not in the layer table" in against_the_table({"serve": {"records": ["backoffice.serve.x"]}}, layers)[0]


def test_imports_follow_the_layer_table() -> None:
    layers = layer_table()
    assert {"errors", "records", "index", "serve", "cli"} <= set(layers)  # the table is read at all
    graph = package_graph()
    assert set(graph) <= set(layers), f"packages not in docs/architecture.md's layer table: {sorted(set(graph) - set(layers))}"
    problems = against_the_table(graph, layers)
    assert not problems, "imports against the layer table of docs/architecture.md:\n" + "\n".join(problems)


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert find_cycle({"a": {"b": []}, "b": {"c": []}, "c": {"a": []}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b": []}, "b": {"c": []}}) is None


def test_no_import_cycle_between_packages() -> None:
    graph = package_graph()
    assert "stage" in graph and "records" in graph["stage"]  # the graph is read at all
    cycle = find_cycle(graph)
    if cycle:
        hops = [f"{a} -> {b} (in {', '.join(sorted(set(graph[a][b]))[:3])})" for a, b in zip(cycle, cycle[1:])]
        raise AssertionError("import cycle between packages:\n" + "\n".join(hops))


def test_no_module_over_the_size_limit() -> None:
    sizes = {str(p.relative_to(REPO)): len(p.read_text().splitlines()) for p in PACKAGE.rglob("*.py")}
    assert len(sizes) > 20
    too_big = {name: n for name, n in sizes.items() if n > MAX_MODULE_LINES}
    assert not too_big, f"modules over {MAX_MODULE_LINES} lines: {too_big}"


def test_the_command_line_starts_without_heavy_libraries() -> None:
    probe = (
        "import sys; import backoffice.__main__, backoffice.cli; "
        "heavy = sorted(m for m in ('numpy', 'torch', 'tensorflow', 'bioimageio.spec', 'bioimageio.core', 'boto3', 'PIL',"
        " 'pydantic', 'github3', 'requests', 'backoffice.context') "
        "if m in sys.modules); print(','.join(heavy))"
    )
    r = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, cwd=REPO, timeout=120)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "", f"imported at start-up: {r.stdout.strip()}"


def test_no_test_file_over_500_lines() -> None:
    sizes = {p.name: len(p.read_text().splitlines()) for p in (REPO / "tests").glob("*.py")}
    assert len(sizes) > 20
    too_big = {name: n for name, n in sizes.items() if n > 500}
    assert not too_big, f"test files over 500 lines: {too_big}"

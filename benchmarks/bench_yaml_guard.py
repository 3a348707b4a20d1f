"""Benchmark: how long reading an uploaded description takes when it is a YAML bomb.

Times `parse_description` (the guard, then the loader) on the alias bomb of issue 17
(nested aliases under `tags`, under 1 KB), on deeply nested flow lists, and on the
largest description of the real-data sample; each refusal is one line.

    python benchmarks/bench_yaml_guard.py
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backoffice.description import parse_description  # noqa: E402
from backoffice.errors import PackageError  # noqa: E402


def alias_bomb(levels: int = 9) -> str:
    lines = ["type: model", "name: bomb", "tags:"]
    for i in range(levels):
        lines.append(f"  - &l{i} [" + ", ".join([f"*l{i - 1}" if i else '"lol"'] * 9) + "]")
    return "\n".join(lines) + "\n"


def timed(name: str, text: str) -> None:
    start = time.perf_counter()
    try:
        parse_description(text.encode(), "rdf.yaml")
        outcome = "read"
    except PackageError as e:
        outcome = f"refused: {e.message}"
    print(f"{name:<34} {len(text):>9,} bytes  {time.perf_counter() - start:7.3f} s  {outcome}")


def main() -> None:
    timed("alias bomb (9 levels of 9)", alias_bomb())
    for depth in (200, 1_000, 100_000):
        timed(f"flow lists nested {depth:,} deep", "type: model\nx: " + "[" * depth + "]" * depth + "\n")
    rdfs = sorted((REPO / "tests" / "data" / "realdata").rglob("rdf.yaml"), key=lambda p: p.stat().st_size)
    if rdfs:
        timed(f"largest real rdf ({rdfs[-1].parent.name})", rdfs[-1].read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()

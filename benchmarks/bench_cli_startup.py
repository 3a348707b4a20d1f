"""Time `backoffice --help` (the command line's start-up) and list what it imports.

    python benchmarks/bench_cli_startup.py [runs]

Prints the median and range of the wall time of `python -m backoffice --help` over
`runs` runs (default 15), after one warm-up run, and the backoffice modules loaded.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 15
    command = [sys.executable, "-m", "backoffice", "--help"]
    subprocess.run(command, cwd=REPO, capture_output=True, check=True)  # warm the file cache
    times: list[float] = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run(command, cwd=REPO, capture_output=True, check=True)
        times.append(time.perf_counter() - started)
    probe = "import sys, backoffice.cli; print(len([m for m in sys.modules if m.startswith('backoffice')]), len(sys.modules))"
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True).stdout.split()
    print(f"backoffice --help: median {statistics.median(times):.3f} s, min {min(times):.3f} s, max {max(times):.3f} s over {runs} runs")
    print(f"modules loaded at start-up: {loaded[0]} of the backoffice, {loaded[1]} in all")


if __name__ == "__main__":
    main()

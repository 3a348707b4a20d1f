# pyright: reportUnknownMemberType=false
"""Growth of the index generation with the collection: runs `bench_index.py` for each
size (moto S3, in turn; then the local folder), keeps the figures in
`docs/benchmarks/index_growth.json` and plots the full generation's time against the
number of concepts into `docs/benchmarks/index_growth.png` (needs the `bench` extra:
matplotlib).

    python benchmarks/plot_index_growth.py [--moto 1000,2000,5000,10000] [--local 50000] [--plot-only]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "docs" / "benchmarks"


def run(n: int, local: bool) -> dict[str, Any]:
    args = [sys.executable, str(REPO / "benchmarks" / "bench_index.py"), "--concepts", str(n), *(["--local"] if local else [])]
    r = subprocess.run(args, capture_output=True, text=True, env={**os.environ, "PYTHONPATH": str(REPO)})
    print(r.stdout, flush=True)
    line = next((ln for ln in r.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if r.returncode != 0 or line is None:
        raise SystemExit(r.stderr[-3000:])
    return json.loads(line[len("RESULT "):])


def plot(results: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=100)
    for backend, marker in (("moto", "o"), ("local", "s")):
        rows = sorted((r for r in results if r["backend"] == backend), key=lambda r: r["concepts"])
        if not rows:
            continue
        xs = [r["concepts"] for r in rows]
        for phase, style in (("full", "-"), ("rescan", "--")):
            label = {"full": "full generation (no cache)", "rescan": "--full (cache present)"}[phase]
            ax.plot(xs, [r[phase]["seconds"] for r in rows], style, marker=marker, label=f"{backend}: {label}")
        for r in rows:  # the machine is shared: the load average when each size ran
            ax.annotate(f"load {r['load'][0]:.0f}", (r["concepts"], r["full"]["seconds"]), textcoords="offset points",
                        xytext=(4, 6), fontsize=7)
    ax.set_xlabel("concepts (2 versions each)")
    ax.set_ylabel("seconds")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title("Index generation time against collection size (2-CPU machine)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(OUT / "index_growth.png")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--moto", default="1000,2000,5000,10000")
    parser.add_argument("--local", default="50000")
    parser.add_argument("--plot-only", action="store_true", help="plot the stored figures again")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    store = OUT / "index_growth.json"
    results: list[dict[str, Any]] = json.loads(store.read_text()) if store.exists() else []
    if not args.plot_only:
        for sizes, local in ((args.moto, False), (args.local, True)):
            for n in (int(x) for x in sizes.split(",") if x):
                figures = run(n, local)
                results = [r for r in results if (r["concepts"], r["backend"]) != (n, figures["backend"])] + [figures]
                store.write_text(json.dumps(results, indent=1) + "\n")
    plot(results)


if __name__ == "__main__":
    main()

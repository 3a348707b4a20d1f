"""Overhead of `backoffice test` over `bioimageio test`, and cold environment builds.

1. Cold builds: for each weight format, the time `prepare_env("venv", ...)` takes
   to build its environment into an empty cache (formats whose rendered env files
   are identical share one environment and are measured once). pip's own download
   cache is not cleared: the figure is the build, not the download.
2. Warm overhead: with the torch environment built, the wall time of
   `backoffice test <concept> draft <wf> --env-manager venv` (a new process, as the
   workflow runs it: settings, store, env cache lookup, runner, report, log)
   divided by that of `<venv>/bin/bioimageio test <rdf> --weight-format <wf>` on the
   same unpacked package in the same environment. Both run side by side, alternating
   which goes first, several times. Target: at most 1.2.

    PYTHONPATH=. python benchmarks/bench_test_overhead.py [--reps 7] [--env-cache DIR]
        [--skip-cold] [--write-docs]

`--write-docs` replaces the "## Dynamic tests" section of docs/benchmarks.md.
Needs the `test` extra (torch, onnx, tensorflow-cpu) and pip access to the registry.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backoffice.bioimageio_environ import offline_bioimageio_environ  # noqa: E402

_WORK = Path(tempfile.mkdtemp(prefix="bench-test-overhead-"))
os.environ.update(offline_bioimageio_environ(_WORK))  # before bioimageio.spec is imported

from backoffice.context import Context  # noqa: E402
from backoffice.records.target import resolve_target  # noqa: E402
from backoffice.settings import Settings  # noqa: E402
from backoffice.stage.stage import stage  # noqa: E402
from backoffice.storage.local import LocalStorage  # noqa: E402
from backoffice.dynamic.env_builders import prepare_env  # noqa: E402
from backoffice.dynamic.env_inputs import render_for_target  # noqa: E402

FORMATS = ("pytorch_state_dict", "torchscript", "onnx", "keras_hdf5", "tensorflow_saved_model_bundle")


def make_collection(env_cache: Path) -> tuple[Context, dict[str, str], dict[str, str]]:
    from backoffice.demo.keras_packages import build_keras_model_package
    from backoffice.demo.packages import build_model_package

    settings = Settings(local_root=_WORK / "store", config_path=REPO / "bioimageio_collection_config.json",
                        collection_dir=REPO / "collection", env_templates_dir=REPO / "env_templates", env_cache_dir=env_cache)
    ctx = Context(settings, storage=LocalStorage(_WORK / "store", "http://127.0.0.1:8765"))
    torch_zip = build_model_package(_WORK / "torch.zip")
    keras_zip = build_keras_model_package(_WORK / "keras.zip")
    ids = {"torch": stage(ctx, str(torch_zip), uploader="github|1", progress=False).concept_id,
           "keras": stage(ctx, str(keras_zip), uploader="github|1", progress=False).concept_id}
    env = {**os.environ, "PYTHONPATH": str(REPO), "BACKOFFICE_LOCAL_ROOT": str(settings.local_root),
           "BACKOFFICE_CONFIG_PATH": str(settings.config_path), "BACKOFFICE_COLLECTION_DIR": str(settings.collection_dir),
           "BACKOFFICE_ENV_TEMPLATES_DIR": str(settings.env_templates_dir), "BACKOFFICE_ENV_CACHE_DIR": str(env_cache)}
    return ctx, ids, env


def cold_builds(ctx: Context, ids: dict[str, str]) -> list[tuple[str, str, float, str]]:
    """(formats, env hash, seconds, result) per distinct rendered env, each into an empty cache."""
    by_hash: dict[str, list[str]] = {}
    rendered_by_hash = {}
    for wf in FORMATS:
        target = resolve_target(ctx.concepts, ids["keras" if wf in ("keras_hdf5", "tensorflow_saved_model_bundle") else "torch"], "draft")
        rendered = render_for_target(ctx, target, wf)
        by_hash.setdefault(rendered.content_hash, []).append(wf)
        rendered_by_hash[rendered.content_hash] = rendered
    rows: list[tuple[str, str, float, str]] = []
    for h, formats in by_hash.items():
        cache = Path(tempfile.mkdtemp(prefix="bench-cold-"))
        try:
            started = time.perf_counter()
            env = prepare_env("venv", rendered_by_hash[h], cache)
            seconds = time.perf_counter() - started
            rows.append((", ".join(formats), h, seconds, "ok" if env.python else f"failed: {env.error}"))
            print(f"cold build {', '.join(formats)}: {seconds:.0f} s ({rows[-1][3]})", flush=True)
        finally:
            shutil.rmtree(cache, ignore_errors=True)
    return rows


def timed(args: list[str], env: dict[str, str], cwd: Path) -> float:
    started = time.perf_counter()
    r = subprocess.run(args, env=env, cwd=cwd, capture_output=True, text=True, timeout=1800)
    seconds = time.perf_counter() - started
    if r.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed ({r.returncode}):\n{r.stdout[-2000:]}\n{r.stderr[-2000:]}")
    return seconds


def overhead(ctx: Context, ids: dict[str, str], env: dict[str, str], wf: str, reps: int) -> tuple[list[float], list[float], str]:
    cid = ids["torch"]
    target = resolve_target(ctx.concepts, cid, "draft")
    prepared = prepare_env("venv", render_for_target(ctx, target, wf), ctx.settings.env_cache_dir)
    if prepared.python is None:
        raise SystemExit(f"the environment could not be built: {prepared.error}\n{prepared.output_tail}")
    rdf = ctx.storage.root / target.files_prefix / target.rdf_name  # type: ignore[attr-defined]
    bioimageio = [str(prepared.python.with_name("bioimageio")), "test", str(rdf), "--weight-format", wf, "--summary", str(_WORK / "direct.json")]
    backoffice = [sys.executable, "-m", "backoffice", "test", cid, "draft", wf, "--env-manager", "venv"]
    timed(bioimageio, env, _WORK)  # warm-up: OS file cache, bioimageio cache
    timed(backoffice, env, _WORK)
    ours: list[float] = []
    theirs: list[float] = []
    for i in range(reps):
        pair = [(backoffice, ours), (bioimageio, theirs)]
        for args, into in pair if i % 2 == 0 else reversed(pair):
            into.append(timed(args, env, _WORK))
        print(f"rep {i + 1}: backoffice test {ours[-1]:.2f} s, bioimageio test {theirs[-1]:.2f} s", flush=True)
    return ours, theirs, prepared.description


def write_docs(section: str) -> None:
    path = REPO / "docs" / "benchmarks.md"
    text = path.read_text(encoding="utf-8") if path.exists() else "# Benchmarks\n"
    start = text.find("\n## Dynamic tests\n")
    if start >= 0:
        nxt = text.find("\n## ", start + 1)
        text = text[:start] + text[nxt:] if nxt >= 0 else text[:start]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text.rstrip("\n") + "\n\n" + section, encoding="utf-8")
    print(f"wrote {path}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reps", type=int, default=7)
    parser.add_argument("--weight-format", default="pytorch_state_dict")
    parser.add_argument("--env-cache", type=Path, default=None, help="keep/reuse the warm environments here")
    parser.add_argument("--skip-cold", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    args = parser.parse_args()
    env_cache = (args.env_cache or _WORK / "envs").absolute()
    ctx, ids, env = make_collection(env_cache)
    cold = [] if args.skip_cold else cold_builds(ctx, ids)
    ours, theirs, described = overhead(ctx, ids, env, args.weight_format, args.reps)
    ratio_median = statistics.median(ours) / statistics.median(theirs)
    ratio_total = sum(ours) / sum(theirs)
    print(f"median backoffice test {statistics.median(ours):.2f} s, bioimageio test {statistics.median(theirs):.2f} s:"
          f" ratio {ratio_median:.2f} (of totals {ratio_total:.2f}; target <= 1.2)")
    machine = f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}"
    lines = [
        "## Dynamic tests",
        "",
        f"Measured with `benchmarks/bench_test_overhead.py` ({time.strftime('%Y-%m-%d')}; {machine}; CPU only).",
        "",
        f"**Warm overhead** — tiny torch model, `{args.weight_format}`, {args.reps} side-by-side repetitions in the same",
        f"venv ({described.split(' (')[0].rsplit('/', 1)[-1]}): `backoffice test ... --env-manager venv` (new process: settings,",
        "store, env-cache lookup, runner subprocess, stored report and log) against `bioimageio test <rdf> --weight-format ...`",
        "run with that venv's own `bioimageio`.",
        "",
        "| | median | min | max |",
        "| --- | --- | --- | --- |",
        f"| `backoffice test` | {statistics.median(ours):.2f} s | {min(ours):.2f} s | {max(ours):.2f} s |",
        f"| `bioimageio test` | {statistics.median(theirs):.2f} s | {min(theirs):.2f} s | {max(theirs):.2f} s |",
        "",
        f"Ratio of medians: **{ratio_median:.2f}** (ratio of totals {ratio_total:.2f}); target at most 1.2.",
        "",
    ]
    if cold:
        lines += [
            "**Cold builds** — `venv` manager, empty environment cache (pip's download cache warm, so this is",
            "install time, not download time). Formats whose rendered env files are identical share one environment.",
            "",
            "| weight formats | env (hash) | build time | result |",
            "| --- | --- | --- | --- |",
            *[f"| {formats} | `{h}` | {seconds:.0f} s | {result} |" for formats, h, seconds, result in cold],
            "",
        ]
    section = "\n".join(lines)
    print("\n" + section)
    if args.write_docs:
        write_docs(section)
    shutil.rmtree(_WORK, ignore_errors=True)


if __name__ == "__main__":
    main()

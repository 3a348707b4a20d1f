"""Runs ONE bioimageio.core test inside a test environment and writes its summary.

This file is executed by the environment's own interpreter
(`python runner.py --rdf ... --weight-format ... --out ...`) and must import
nothing from the backoffice: the environment has bioimageio.core, not us.
Exit code 0 means a summary was written (passed or failed).
"""

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path
from typing import Any


def _device() -> str:
    """CPU or GPU, asked of the framework the test used (already imported by then):
    importing another framework just to ask would slow every test down."""
    torch = sys.modules.get("torch")
    if torch is not None:
        try:
            if torch.cuda.is_available():
                return "GPU (" + torch.cuda.get_device_name(0) + ")"
        except Exception:
            pass
    tf = sys.modules.get("tensorflow")
    if tf is not None:
        try:
            if tf.config.list_physical_devices("GPU"):
                return "GPU"
        except Exception:
            pass
    return "CPU"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8", errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware")) and ":" in line:
                return " ".join(line.split(":", 1)[1].split())
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def _hardware(device: str) -> dict[str, Any]:
    """What the test ran on: the GPU's name when one was used, else the CPU model."""
    cpu = _cpu_model()
    gpu = device[len("GPU ("):-1] if device.startswith("GPU (") else ("GPU" if device == "GPU" else None)
    label = ("GPU: " + gpu) if gpu else ("CPU: " + cpu)
    return {"label": label[:200], "device": device, "cpu": cpu[:200], "gpu": gpu, "machine": platform.machine(),
            "system": platform.system()}


def _reproduce_failed(data: dict[str, Any], weight_format: str) -> bool:
    details: list[Any] = data.get("details") or []
    for detail in details:
        if str(detail.get("name", "")).startswith("Reproduce test outputs") and weight_format in str(detail.get("name")):
            return detail.get("status") == "failed"
    return False


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rdf", required=True)
    parser.add_argument("--weight-format", required=True)
    parser.add_argument("--kwargs", default="{}")
    parser.add_argument("--out", required=True)
    parser.add_argument("--keep-outputs", default="", help="folder for the produced outputs that do not reproduce")
    args = parser.parse_args()

    started = time.time()
    import bioimageio.core
    from bioimageio.core import test_description

    kwargs = json.loads(args.kwargs)
    with tempfile.TemporaryDirectory(prefix="produced-") as produced:
        # with a working folder, bioimageio.core saves the outputs it produced there
        summary = test_description(args.rdf, weight_format=args.weight_format, working_dir=produced, **kwargs)
        data = summary.model_dump(mode="json")
        reproduction = None
        if args.keep_outputs:
            try:
                from runner_outputs import collect

                reproduction = collect(args.rdf, args.weight_format, kwargs, Path(produced), Path(args.keep_outputs),
                                       keep_all=_reproduce_failed(data, args.weight_format))
            except Exception as e:  # the figures must not lose the verdict
                reproduction = {"error": "the reproduction figures could not be computed: " + repr(e)[:1000]}
    try:
        markdown = summary.format_md()
    except Exception as e:  # formatting must not lose the verdict
        markdown = "# " + str(data.get("status")) + "\n\n(markdown unavailable: " + repr(e) + ")\n"
    out: dict[str, Any] = {
        "summary": data,
        "markdown": markdown,
        "bioimageio_core_version": getattr(bioimageio.core, "__version__", "unknown"),
        "python": platform.python_version(),
        "device": _device(),
        "hardware": _hardware(_device()),
        "reproduction": reproduction,
        "seconds": round(time.time() - started, 3),
    }
    Path(args.out).write_text(json.dumps(out, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

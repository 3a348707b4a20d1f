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
import time
from pathlib import Path


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


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rdf", required=True)
    parser.add_argument("--weight-format", required=True)
    parser.add_argument("--kwargs", default="{}")
    parser.add_argument("--out", required=True)
    args = parser.parse_args()

    started = time.time()
    import bioimageio.core
    from bioimageio.core import test_description

    kwargs = json.loads(args.kwargs)
    summary = test_description(args.rdf, weight_format=args.weight_format, **kwargs)
    data = summary.model_dump(mode="json")
    try:
        markdown = summary.format_md()
    except Exception as e:  # formatting must not lose the verdict
        markdown = "# " + str(data.get("status")) + "\n\n(markdown unavailable: " + repr(e) + ")\n"
    out = {
        "summary": data,
        "markdown": markdown,
        "bioimageio_core_version": getattr(bioimageio.core, "__version__", "unknown"),
        "python": platform.python_version(),
        "device": _device(),
        "seconds": round(time.time() - started, 3),
    }
    Path(args.out).write_text(json.dumps(out, default=str), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())

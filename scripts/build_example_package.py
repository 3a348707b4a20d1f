"""Build a tiny bioimage.io example package (zip) offline.

Examples:
    python scripts/build_example_package.py --kind model --out demo/model.zip
    python scripts/build_example_package.py --kind model --formats onnx --out onnx.zip
    python scripts/build_example_package.py --kind bad-output --out bad.zip --id tiny-demo
    python scripts/build_example_package.py --kind dataset --out dataset.zip --version 1.1

Kinds: `model` (all requested weight formats, passes `bioimageio test`), `dataset`,
`notebook`, `bad-output` (a model whose stored test output is wrong: the
reproducibility test fails) and `bad-import` (pytorch_state_dict only, its
architecture file raises on import).

The bioimageio.spec environment is made offline (see `backoffice.bioimageio_environ`)
before bioimageio.spec is imported; the cache goes to a temporary folder.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backoffice.bioimageio_environ import offline_bioimageio_environ  # noqa: E402

KINDS = ("model", "dataset", "notebook", "bad-output", "bad-import")


def main(argv: list[str] | None = None) -> int:
    """Parse the arguments, build the package, print its path and the build time."""
    parser = argparse.ArgumentParser(
        description="Build a tiny bioimage.io example package (zip) offline."
    )
    _ = parser.add_argument("--kind", choices=KINDS, required=True)
    _ = parser.add_argument("--out", type=Path, required=True, help="zip file to write")
    _ = parser.add_argument(
        "--formats",
        default="pytorch_state_dict,torchscript,onnx",
        help="comma separated weight formats (models only; bad-import: pytorch_state_dict)",
    )
    _ = parser.add_argument("--id", default=None, help="concept id to set as `id`")
    _ = parser.add_argument("--version", default="1.0", help="the `version` field")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bioimageio_env_") as env_dir:
        os.environ.update(offline_bioimageio_environ(Path(env_dir)))
        from backoffice.demo.packages import (
            build_dataset_package,
            build_model_package,
            build_notebook_package,
        )

        kind: str = args.kind
        out: Path = args.out
        formats = [f.strip() for f in str(args.formats).split(",") if f.strip()]
        start = time.perf_counter()
        if kind == "dataset":
            path = build_dataset_package(out, concept_id=args.id, version=args.version)
        elif kind == "notebook":
            path = build_notebook_package(out, concept_id=args.id, version=args.version)
        elif kind == "bad-import":
            path = build_model_package(
                out,
                formats=["pytorch_state_dict"],
                concept_id=args.id,
                version=args.version,
                name="Tiny Broken Import Model",
                broken_import=True,
            )
        else:
            bad_output = kind == "bad-output"
            path = build_model_package(
                out,
                formats=formats,
                concept_id=args.id,
                version=args.version,
                name="Tiny Wrong Output Model" if bad_output else "Tiny Demo Model",
                wrong_output=bad_output,
            )
        print(f"{path} ({kind}, {time.perf_counter() - start:.1f}s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

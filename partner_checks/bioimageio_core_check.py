"""A partner-style compatibility check: bioimageio.core (whatever release the environment
has) tests each listed resource version and writes one report per version in the format
of the bioimage.io collection, `<out>/<concept id>/<version>/bioimageio.core_<release>.json`.

Runs in the partner's own environment: it imports nothing from the backoffice.

    python bioimageio_core_check.py --resources resources.json --out reports/

`resources.json` is the list the backoffice dispatches: objects with `id`, `version`,
`type`, `rdf_url` and `sha256`.
"""

import argparse
import json
import sys
import traceback
from pathlib import Path


def check(rdf_url, kind):
    import bioimageio.core
    from bioimageio.core import test_description

    if kind != "model":
        return {"status": "not-applicable", "error": None, "details": "only models are tested"}
    try:
        summary = test_description(rdf_url)
        data = summary.model_dump(mode="json")
    except Exception as e:
        return {"status": "failed", "error": f"{type(e).__name__}: {e}",
                "details": {"traceback": traceback.format_exc().splitlines()}}
    status = str(data.get("status"))
    errors = [f"{d.get('name')}: {err.get('msg')}" for d in data.get("details", []) for err in d.get("errors", [])]
    return {
        "status": "passed" if status == "passed" else "failed",
        "error": errors[0] if errors and status != "passed" else None,
        "details": {"status": status, "metadata_completeness": data.get("metadata_completeness"),
                    "format_version": data.get("format_version"),
                    "env": [[name, str(version)] for name, version, *_ in data.get("env", [])]},
        "links": [],
        "tool": "bioimageio.core",
        "tool_version": bioimageio.core.__version__,
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--resources", required=True)
    parser.add_argument("--out", required=True)
    args = parser.parse_args()
    import bioimageio.core

    release = bioimageio.core.__version__
    out = Path(args.out)
    for item in json.loads(Path(args.resources).read_text(encoding="utf-8")):
        report = check(item["rdf_url"], item.get("type", "model"))
        report["rdf_sha256"] = item.get("sha256")
        folder = out / item["id"] / item["version"]
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"bioimageio.core_{release}.json").write_text(json.dumps(report, indent=4, sort_keys=True), encoding="utf-8")
        print(f"{item['id']} {item['version']}: {report['status']}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Copy the real-data sample (`../shared/realdata`) into the test data, trimmed.

The running collection's reports carry long test logs in `details`; they say nothing the
tests read (status, score, error, tool, links, badge are kept whole), so long strings in
`details` are cut and long lists shortened. `rdf_content` and every other field is copied
unchanged, so sha256s of rdfs still match `index.json`.

    python scripts/copy_realdata.py [SOURCE] [DEST]
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

MAX_STR = 400
MAX_LIST = 12


def trim(value: Any) -> Any:
    if isinstance(value, str):
        return value if len(value) <= MAX_STR else value[:MAX_STR] + " …[trimmed]"
    if isinstance(value, list):
        return [trim(v) for v in value[:MAX_LIST]]  # pyright: ignore[reportUnknownVariableType]
    if isinstance(value, dict):
        return {k: trim(v) for k, v in value.items()}  # pyright: ignore[reportUnknownVariableType]
    return value


def trim_report(report: Any) -> Any:
    if isinstance(report, dict) and "details" in report:
        report = dict(report)  # pyright: ignore[reportUnknownArgumentType]
        report["details"] = trim(report["details"])
    return report


def trim_summary(summary: dict[str, Any]) -> dict[str, Any]:
    tests = summary.get("tests")
    if isinstance(tests, dict):
        summary["tests"] = {
            tool: {v: trim_report(r) for v, r in by_version.items()} if isinstance(by_version, dict) else by_version
            for tool, by_version in tests.items()  # pyright: ignore[reportUnknownVariableType]
        }
    return summary


def main(source: Path, dest: Path) -> None:
    if dest.exists():
        shutil.rmtree(dest)
    for path in sorted(source.rglob("*")):
        if not path.is_file():
            continue
        out = dest / path.relative_to(source)
        out.parent.mkdir(parents=True, exist_ok=True)
        rel = path.relative_to(source).as_posix()
        if rel.startswith("running/reports/") and path.suffix == ".json":
            data = json.loads(path.read_text(encoding="utf-8"))
            data = trim_summary(data) if path.name == "summary.json" else trim_report(data)
            out.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
        else:
            shutil.copyfile(path, out)


if __name__ == "__main__":
    root = Path(__file__).resolve().parents[1]
    src = Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared" / "realdata"
    dst = Path(sys.argv[2]) if len(sys.argv) > 2 else root / "tests" / "data" / "realdata"
    main(src, dst)

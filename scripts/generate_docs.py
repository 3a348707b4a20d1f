"""Generate the reference docs from the models: JSON schemas (docs/schemas/) and the
settings table (docs/settings.md). `--check` fails if the committed files are stale.

    python scripts/generate_docs.py [--check]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from backoffice.config.collection_config import CollectionConfig  # noqa: E402
from backoffice.config.curation import CurationDecl  # noqa: E402
from backoffice.index.compatibility import CompatibilityOverview  # noqa: E402
from backoffice.index.models import (  # noqa: E402
    AllVersionsJson,
    CollectionDraftJson,
    CollectionJson,
    IdMapEntry,
    VersionsJson,
)
from backoffice.records.concept import ConceptRecord  # noqa: E402
from backoffice.records.scoring import Compatibility  # noqa: E402
from backoffice.records.tool_report import ToolReport  # noqa: E402
from backoffice.settings import Settings  # noqa: E402

SCHEMAS: dict[str, Any] = {
    "bioimageio_collection_config.schema.json": CollectionConfig,
    "curation.schema.json": CurationDecl,
    "collection.schema.json": CollectionJson,
    "collection_draft.schema.json": CollectionDraftJson,
    "id_map_entry.schema.json": IdMapEntry,
    "concept_record.schema.json": ConceptRecord,
    "tool_report.schema.json": ToolReport,
    "version_compatibility.schema.json": Compatibility,
    "compatibility.schema.json": CompatibilityOverview,
    "all_versions.schema.json": AllVersionsJson,
    "versions.schema.json": VersionsJson,
}


def settings_markdown() -> str:
    lines = [
        "# Settings",
        "",
        "Generated from `backoffice/settings.py` by `scripts/generate_docs.py`; do not edit.",
        "Each setting is read from the environment variable `BACKOFFICE_<NAME>` or a `.env` file.",
        "Secrets are never printed (`backoffice settings` masks them).",
        "",
        "| variable | default | description |",
        "| --- | --- | --- |",
    ]
    for name, field in Settings.model_fields.items():
        default = field.default
        shown = "(not set)" if default is None else f"`{default}`"
        doc = " ".join((field.description or "").split())
        lines.append(f"| `BACKOFFICE_{name.upper()}` | {shown} | {doc} |")
    return "\n".join(lines) + "\n"


def outputs() -> dict[Path, str]:
    out = {REPO / "docs" / "schemas" / name: json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False) + "\n"
           for name, model in SCHEMAS.items()}
    out[REPO / "docs" / "settings.md"] = settings_markdown()
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale = []
    for path, text in outputs().items():
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(REPO)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print("stale generated docs (run scripts/generate_docs.py): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

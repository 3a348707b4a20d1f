"""Generate the reference docs from the code: JSON schemas (docs/schemas/), the settings
table (docs/settings.md), the field tables of docs/collection_json.md (every model the
published index files are made of), the key table of docs/storage.md (from
`backoffice/records/keys.py`), the weight format table (docs/weight_formats.md, from the rows
of `backoffice/weight_formats.py`), and in README.md the command table (from the typer app:
every command with every option, the command's help as its text) and the exit code table
(from `backoffice/errors.py`). `--check` fails if the committed files are stale; without it,
every generated doc is rewritten (one command, e.g. after a merge that adds a CLI option):

    python scripts/generate_docs.py [--check]
"""

from __future__ import annotations

import argparse
import inspect
import json
import sys
import types
from typing import Literal, Union, get_args, get_origin

from pydantic import BaseModel
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
from backoffice import errors  # noqa: E402
from backoffice.records import keys  # noqa: E402
from backoffice.records.concept import ConceptRecord  # noqa: E402
from backoffice.records.scoring import Compatibility  # noqa: E402
from backoffice.records.tool_report import ToolReport  # noqa: E402
from backoffice.settings import Settings  # noqa: E402
from backoffice.takeover.intended import intended_markdown  # noqa: E402
from backoffice.weight_formats import FRAMEWORKS, WEIGHT_FORMATS  # noqa: E402

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


def weight_formats_markdown() -> str:
    """docs/weight_formats.md: a row per weight format and per framework, from their rows."""
    lines = [
        "# Weight formats",
        "",
        "Generated from `backoffice/weight_formats.py` by `scripts/generate_docs.py`; do not edit.",
        "A new weight format is one `WeightFormat` row there: the weight safety scan",
        "(`docs/weight_scan.md`), its report and the test environments read the rows.",
        "",
        "| weight format | framework | tested dynamically | pickles (always scanned) | what it can carry |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [f"| `{wf.name}` | `{wf.framework}` | {'yes' if wf.dynamic else 'no'} | {'yes' if wf.pickles else 'no'} | {_cell(wf.notes)} |"
              for wf in WEIGHT_FORMATS.values()]
    lines += ["", "## Frameworks", "", "| framework | version field | pinned package | supported |", "| --- | --- | --- | --- |"]
    for fw in FRAMEWORKS.values():
        supported = (", ".join(f"opsets {o.lowest} to {o.highest}: {fw.conda_package} {o.release.version}" for o in fw.opsets)
                     or f"{fw.releases[0].version} to {fw.releases[-1].version} ({len(fw.releases)} releases)")
        lines.append(f"| `{fw.name}` | `{fw.version_field}` | `{fw.conda_package}` | {supported} |")
    return "\n".join(lines) + "\n"


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """The pydantic models a field's type names (through `list[...]`, `dict[..., ...]`, `X | None`)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in get_args(annotation) for m in _models_in(arg)]


def published_models() -> list[type[BaseModel]]:
    """Every model the published index files are made of: the root model of each index file
    (the schemas of `SCHEMAS` whose model is of `backoffice/index/`) and the models their fields
    reach, each once, in the order the fields name them."""
    roots = [m for m in SCHEMAS.values() if m.__module__.startswith("backoffice.index.")]
    found: list[type[BaseModel]] = []

    def visit(model: type[BaseModel]) -> None:
        if model in found:
            return
        found.append(model)
        for info in model.model_fields.values():
            for inner in _models_in(info.annotation):
                visit(inner)

    for root in roots:
        visit(root)
    return found


REGENERATE = "python scripts/generate_docs.py"
"""The one command that regenerates every generated doc (the lead runs it after a merge)."""
BEGIN = "<!-- generated by scripts/generate_docs.py from {source}: do not edit -->"
END = "<!-- end of the generated part -->"


def type_text(t: Any) -> str:
    """A field's type as written in Python (`str | None`, `list[Author]`, `Literal['a', 'b']`)."""
    origin, args = get_origin(t), get_args(t)
    if t is type(None):
        return "None"
    if origin in (Union, types.UnionType):
        return " | ".join(type_text(a) for a in args)
    if origin is Literal:
        return "Literal[" + ", ".join(repr(a) for a in args) + "]"
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(type_text(a) for a in args)}]"
    return getattr(t, "__name__", str(t))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def index_fields_markdown() -> str:
    parts: list[str] = []
    for model in published_models():
        name = model.__name__
        rows = [f"| `{f}` | `{_cell(type_text(info.annotation))}` | {_cell(info.description or '')} |" for f, info in model.model_fields.items()]
        parts.append(f"### `{name}`\n\n{_cell(model.__doc__ or '')}\n\n| field | type | meaning |\n| --- | --- | --- |\n" + "\n".join(rows))
    return "\n\n".join(parts)


def _value_name(annotation: Any) -> str:
    """How the table names an option's value: its choices (`a\\|b`), else its type (`TEXT`, `INT`, `PATH`)."""
    if get_origin(annotation) is Literal:
        return "\\|".join(str(a) for a in get_args(annotation))
    if get_origin(annotation) in (Union, types.UnionType):
        return _value_name(next(a for a in get_args(annotation) if a is not type(None)))
    if get_origin(annotation) is list:
        return _value_name(get_args(annotation)[0])
    name: str = annotation.__name__
    return "TEXT" if name == "str" else name.upper()


def _usage(param: Any) -> str:
    """One parameter of a command as the table writes it: `<concept-id>`, `[--out FILE]`, `[--full]`."""
    if param.param_type_name == "argument":
        text = f"<{param.name.replace('_', '-')}>" + ("..." if param.nargs == -1 else "")
    else:
        text = "/".join([*param.opts, *param.secondary_opts])
        if not param.is_flag:
            text += " " + (param.metavar or _value_name(param.type_descriptor.annotation))
        text += " ..." if param.multiple else ""
    return text if param.required else f"[{text}]"


def cli_markdown() -> str:
    """The README's command table: every command of the typer app with every parameter, and its help."""
    import typer.main

    from backoffice.cli import app

    group: Any = typer.main.get_command(app)
    rows = [f"| `backoffice {' '.join(_usage(p) for p in group.params if not p.hidden)} <command> ...` | "
            + "; ".join(f"`{'/'.join(p.opts)}`: {_cell(p.help or '')}" for p in group.params if not p.hidden) + " |"]
    for name, command in group.commands.items():
        usage = " ".join([name, *(_usage(p) for p in command.params if not p.hidden)])
        rows.append(f"| `backoffice {usage}` | {_cell(command.help or '')} |")
    return "| command | what it does |\n| --- | --- |\n" + "\n".join(rows)


def exit_codes_markdown() -> str:
    """The README's exit code table: the reserved codes and each error class of `backoffice/errors.py`."""
    classes = [c for _, c in inspect.getmembers(errors, inspect.isclass)
               if issubclass(c, errors.BackofficeError) and c.__module__ == errors.__name__]
    rows = {code: f"| {code} | {_cell(what)} |" for code, what in errors.RESERVED_EXIT_CODES.items()}
    for cls in sorted(classes, key=lambda c: c.exit_code):
        if "exit_code" in vars(cls) and cls is not errors.BackofficeError:
            same = [c.__name__ for c in classes if c is not cls and issubclass(c, cls) and "exit_code" not in vars(c)]
            more = f" (also {', '.join(f'`{n}`' for n in same)})" if same else ""
            rows[cls.exit_code] = f"| {cls.exit_code} | `{cls.__name__}`{more}: {_cell(cls.__doc__ or '')} |"
    return "| exit code | meaning |\n| --- | --- |\n" + "\n".join(rows[code] for code in sorted(rows))


def storage_keys_markdown() -> str:
    rows = [f"| {', '.join(f'`{k.strip()}`' for k in d.key.split(','))} | {d.what} | {d.written_by} |" for d in keys.LAYOUT]
    return "| key | what | written by |\n| --- | --- | --- |\n" + "\n".join(rows)


def with_generated(path: Path, source: str, content: str, text: str | None = None) -> str:
    """The text of `path` (or `text`, its text so far) with its generated part (between the markers) replaced."""
    text = path.read_text(encoding="utf-8") if text is None else text
    begin = BEGIN.format(source=source)
    head, found, rest = text.partition(begin + "\n")
    if not found:
        raise SystemExit(f"{path}: no line {begin!r}")
    _, found, tail = rest.partition(END)
    if not found:
        raise SystemExit(f"{path}: no line {END!r}")
    return f"{head}{begin}\n{content}\n{END}{tail}"


def outputs() -> dict[Path, str]:
    out = {REPO / "docs" / "schemas" / name: json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False) + "\n"
           for name, model in SCHEMAS.items()}
    out[REPO / "docs" / "settings.md"] = settings_markdown()
    out[REPO / "docs" / "weight_formats.md"] = weight_formats_markdown()
    docs = REPO / "docs"
    out[docs / "collection_json.md"] = with_generated(docs / "collection_json.md", "the models of the published files",
                                                   index_fields_markdown())
    out[docs / "import.md"] = with_generated(docs / "import.md", "backoffice/takeover/intended.py", intended_markdown())
    out[docs / "storage.md"] = with_generated(docs / "storage.md", "backoffice/records/keys.py", storage_keys_markdown())
    readme = with_generated(REPO / "README.md", "the typer app (backoffice/cli)", cli_markdown())
    out[REPO / "README.md"] = with_generated(REPO / "README.md", "backoffice/errors.py", exit_codes_markdown(), readme)
    return out


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--check", action="store_true")
    args = parser.parse_args()
    stale: list[str] = []
    for path, text in outputs().items():
        if args.check:
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                stale.append(str(path.relative_to(REPO)))
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    if stale:
        print(f"stale generated docs (regenerate them: {REGENERATE}): " + ", ".join(stale))
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

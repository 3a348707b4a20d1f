"""What changed between two versions of a concept (or a version and the draft): pure.

`plan_diff` compares two snapshots: the description field by field (nested fields as
dotted paths, lists of plain values as one value), the files (added, removed, changed:
size and sha256) and the verdicts (each report's status). `diff_lines` renders it for
the command line; the dashboard shows the same from the copy kept on the draft record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from pydantic import BaseModel, ConfigDict, Field

from .manifest import FileEntry

Change = Literal["added", "removed", "changed"]
MAX_VALUE = 200
"""Longest value kept in the copy on the draft record (the command line shows them whole)."""
MAX_ENTRIES = 100
"""Most field or file changes kept in the copy on the draft record."""


class _Model(BaseModel):
    model_config = ConfigDict(use_attribute_docstrings=True)


class FieldChange(_Model):
    """One field of the description."""

    field: str
    """Dotted path, e.g. `weights.onnx.sha256` or `authors[0].name`."""
    change: Change
    old: str | None = None
    new: str | None = None


class FileChange(_Model):
    """One file of the package."""

    name: str
    change: Change
    old_size: int | None = None
    new_size: int | None = None
    old_sha256: str | None = None
    new_sha256: str | None = None


class VerdictChange(_Model):
    """One report's verdict (static validation, a weight format's test, a partner's check)."""

    report: str
    old: str | None = None
    new: str | None = None


class VersionDiff(_Model):
    """What changed from `old` to `new`."""

    old: str
    """What it compares against: a version, or `draft`."""
    new: str
    fields: list[FieldChange] = Field(default_factory=list[FieldChange])
    files: list[FileChange] = Field(default_factory=list[FileChange])
    verdicts: list[VerdictChange] = Field(default_factory=list[VerdictChange])
    truncated: bool = False
    """Values were clipped or entries left out (the copy on the draft record)."""


@dataclass(frozen=True)
class Snapshot:
    """One side of a diff: a version or the draft."""

    label: str
    rdf: Mapping[str, Any]
    files: Mapping[str, FileEntry]
    verdicts: Mapping[str, str] = field(default_factory=dict[str, str])


def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def flatten(value: Any, path: str = "") -> dict[str, str]:
    """A description as `{dotted path: readable value}`; a list of plain values is one value."""
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for k, v in cast(Mapping[Any, Any], value).items():
            out.update(flatten(v, f"{path}.{k}" if path else str(k)))
        if not out and path:
            return {path: "{}"}
        return out
    if isinstance(value, (list, tuple)):
        items = list(cast(list[Any], value))
        if all(not isinstance(i, (Mapping, list, tuple)) for i in items):
            return {path: ", ".join(_scalar(i) for i in items) if items else "[]"}
        out = {}
        for i, v in enumerate(items):
            out.update(flatten(v, f"{path}[{i}]"))
        return out
    return {path: _scalar(value)}


def _changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> list[tuple[str, Change]]:
    out: list[tuple[str, Change]] = []
    for key in sorted(set(old) | set(new)):
        if key not in old:
            out.append((key, "added"))
        elif key not in new:
            out.append((key, "removed"))
        elif old[key] != new[key]:
            out.append((key, "changed"))
    return out


def plan_diff(old: Snapshot, new: Snapshot) -> VersionDiff:
    """What changed from `old` to `new`."""
    fo, fn = flatten(old.rdf), flatten(new.rdf)
    fields = [FieldChange(field=k, change=c, old=fo.get(k), new=fn.get(k)) for k, c in _changes(fo, fn)]
    files: list[FileChange] = []
    for name, c in _changes({k: (v.size, v.sha256) for k, v in old.files.items()},
                            {k: (v.size, v.sha256) for k, v in new.files.items()}):
        a, b = old.files.get(name), new.files.get(name)
        files.append(FileChange(name=name, change=c, old_size=a and a.size, new_size=b and b.size,
                                old_sha256=a and a.sha256, new_sha256=b and b.sha256))
    verdicts = [VerdictChange(report=k, old=old.verdicts.get(k), new=new.verdicts.get(k))
                for k in sorted(set(old.verdicts) | set(new.verdicts))]
    return VersionDiff(old=old.label, new=new.label, fields=fields, files=files, verdicts=verdicts)


def _clip(value: str | None) -> str | None:
    return value if value is None or len(value) <= MAX_VALUE else value[: MAX_VALUE - 1] + "…"


def compact(diff: VersionDiff) -> VersionDiff:
    """The diff clipped for the draft record: long values shortened, at most `MAX_ENTRIES` of each."""
    fields = [f.model_copy(update={"old": _clip(f.old), "new": _clip(f.new)}) for f in diff.fields[:MAX_ENTRIES]]
    truncated = (len(diff.fields) > MAX_ENTRIES or len(diff.files) > MAX_ENTRIES
                 or any(a.old != b.old or a.new != b.new for a, b in zip(fields, diff.fields)))
    return diff.model_copy(update={"fields": fields, "files": diff.files[:MAX_ENTRIES], "truncated": truncated})


def verdict_changes(old: Mapping[str, str], new: Mapping[str, str]) -> list[VerdictChange]:
    """Every report's verdict, old against new (the same or not: a reviewer wants both)."""
    return [VerdictChange(report=k, old=old.get(k), new=new.get(k)) for k in sorted(set(old) | set(new))]


def _size(n: int | None) -> str:
    return "-" if n is None else f"{n:,} B"


def diff_lines(diff: VersionDiff) -> list[str]:
    """The diff as text, one change per line."""
    mark = {"added": "+", "removed": "-", "changed": "~"}
    lines = [f"{diff.old} -> {diff.new}", "", f"description ({len(diff.fields)} fields changed):"]
    for f in diff.fields:
        value = f.new if f.change == "added" else f.old if f.change == "removed" else f"{f.old} -> {f.new}"
        lines.append(f"  {mark[f.change]} {f.field}: {value}")
    lines += ["", f"files ({len(diff.files)} changed):"]
    for c in diff.files:
        if c.change == "changed":
            lines.append(f"  ~ {c.name}: {_size(c.old_size)} -> {_size(c.new_size)}, sha256 {c.old_sha256} -> {c.new_sha256}")
        else:
            size, sha = (c.new_size, c.new_sha256) if c.change == "added" else (c.old_size, c.old_sha256)
            lines.append(f"  {mark[c.change]} {c.name}: {_size(size)}, sha256 {sha}")
    lines += ["", "verdicts (old -> new):"]
    for v in diff.verdicts:
        lines.append(f"  {'  ' if v.old == v.new else '~ '}{v.report}: {v.old or '(none)'} -> {v.new or '(none)'}")
    if not diff.verdicts:
        lines.append("  (no reports on either side)")
    if diff.truncated:
        lines.append("(clipped: long values shortened, long lists cut)")
    return lines

"""The GitHub Actions side: step outputs, job summaries (no-ops outside Actions)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path


def _env_file(name: str) -> Path | None:
    value = os.environ.get(name)
    return Path(value) if value else None


def format_output(name: str, value: str) -> str:
    """One `$GITHUB_OUTPUT` record; multi-line values use a random delimiter."""
    if "\n" in value or "\r" in value:
        delimiter = f"ghadelimiter_{uuid.uuid4().hex}"
        return f"{name}<<{delimiter}\n{value}\n{delimiter}\n"
    return f"{name}={value}\n"


def matrix_of(entries: Iterable[Mapping[str, str]]) -> dict[str, list[dict[str, str]]]:
    """A matrix `{"include": [...]}` whose entries carry their position as `index` ("0", "1", ...):
    each job names its hand-over output `h<index>` by it (`strategy.job-index` is GitHub's only,
    act leaves it empty), and the store job finds each entry's output by it."""
    return {"include": [{**entry, "index": str(i)} for i, entry in enumerate(entries)]}


def set_outputs(outputs: Mapping[str, str]) -> bool:
    """Append step outputs to `$GITHUB_OUTPUT`; return whether there was a file to write."""
    path = _env_file("GITHUB_OUTPUT")
    if path is None:
        return False
    with path.open("a", encoding="utf-8") as f:
        for name, value in outputs.items():
            f.write(format_output(name, value))
    return True


def append_summary(markdown: str) -> bool:
    """Append markdown to the job summary (`$GITHUB_STEP_SUMMARY`)."""
    path = _env_file("GITHUB_STEP_SUMMARY")
    if path is None:
        return False
    with path.open("a", encoding="utf-8") as f:
        f.write(markdown.rstrip("\n") + "\n")
    return True

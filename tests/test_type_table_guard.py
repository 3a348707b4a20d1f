"""One table of resource types (`backoffice/resource_types.py`): no module writes out the type
list again or asks `type == "model"` for "has weights" — a new type then touches the table only."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backoffice.resource_types import RESOURCE_TYPES

PACKAGE = Path(__file__).resolve().parents[1] / "backoffice"
_NAME = "|".join(RESOURCE_TYPES)
COMPARED = re.compile(rf"""(==|!=)\s*["']({_NAME})["']|["']({_NAME})["']\s*(==|!=)""")
"""A type compared by name (use `has_weights` / `dynamic_formats`)."""
LISTED = re.compile(rf"""["']({_NAME})["']\s*,\s*["']({_NAME})["']""")
"""Two type names next to each other: a copy of the type list."""
ALLOWED = {PACKAGE / "resource_types.py"}


def hard_coded(text: str) -> list[str]:
    """The lines of `text` that compare a resource type by name or list types."""
    return [line.strip() for line in text.splitlines() if COMPARED.search(line) or LISTED.search(line)]


@pytest.mark.parametrize(("line", "found"), [
    ('if record.type == "model":', True), ("if 'dataset' != rtype:", True), ('TYPES = ("model", "dataset", "notebook")', True),
    ('Literal["model", "dataset"]', True), ('if has_weights(record.type):', False), ('default_type or "model"', False),
])
def test_the_scanner_finds_what_it_is_for(line: str, found: bool) -> None:
    assert bool(hard_coded(line)) is found


def test_no_module_outside_the_table_hard_codes_resource_types() -> None:
    offending = {str(p.relative_to(PACKAGE)): lines for p in sorted(PACKAGE.rglob("*.py"))
                 if p not in ALLOWED and (lines := hard_coded(p.read_text()))}
    assert offending == {}

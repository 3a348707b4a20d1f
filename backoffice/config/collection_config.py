"""`bioimageio_collection_config.json`: reviewers, partners, id word lists and the
collection.json template. Validated on load; a wrong file fails with the field named.

The JSON schema of this file is generated from these models by
`scripts/generate_schemas.py` (see `docs/schemas/`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError, PermissionDeniedError
from .errors import config_error

ResourceType = Literal["model", "dataset", "notebook"]
RESOURCE_TYPES: tuple[ResourceType, ...] = ("model", "dataset", "notebook")

WORD = r"^[a-z][a-z-]*[a-z]$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


class Reviewer(_Strict):
    """A person who may accept drafts, request changes and publish."""

    id: str = Field(pattern=r"^github\|[0-9]+$")
    """`github|<numeric GitHub user id>`."""
    name: str = Field(min_length=1)
    """Display name."""
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
    """Contact address."""
    affiliation: str | None = None
    """Institution."""
    orcid: str | None = Field(default=None, pattern=r"^[0-9]{4}-[0-9]{4}-[0-9]{4}-[0-9]{3}[0-9X]$")
    """ORCID iD, e.g. `0000-0002-1825-0097`."""


class WebsiteBot(_Strict):
    """The GitHub account the bioimage.io website dispatches workflows with, on behalf
    of the person it authenticated (named in the workflow's inputs)."""

    id: str = Field(pattern=r"^github\|[0-9]+$")
    """`github|<numeric GitHub user id>` of the bot account."""
    name: str = Field(min_length=1)
    """Login or display name of the bot account (for the log)."""


class Partner(_Strict):
    """Community partner software whose compatibility checks feed the test summaries."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$")
    """Short id, used as the report name, e.g. `ilastik`."""
    name: str
    """Display name."""
    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    """`owner/name` of the repository whose workflow checks the resources."""
    workflow: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.ya?ml$")
    """Workflow file dispatched with the list of new/updated resource versions."""
    ref: str = "main"
    """Git ref the workflow is dispatched on."""
    resource_types: list[ResourceType] = Field(default_factory=lambda: ["model"])
    """Which resource types the partner checks."""
    logo: str | None = None
    """Logo URL for the website."""
    docs: str | None = None
    """Documentation URL."""


class IdParts(_Strict):
    """Word lists of the memorable ids of one resource type."""

    adjectives: list[str] = Field(min_length=1)
    """Adjectives (first part of an id)."""
    nouns: dict[str, str] = Field(min_length=1)
    """Nouns (second part) mapped to their emoji."""

    @field_validator("adjectives")
    @classmethod
    def _words(cls, value: list[str]) -> list[str]:
        import re

        for w in value:
            if not re.match(WORD, w):
                raise ValueError(f"'{w}' is not a lowercase word")
        if len(set(value)) != len(value):
            raise ValueError("duplicate adjectives")
        return value

    @field_validator("nouns")
    @classmethod
    def _nouns(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for w, emoji in value.items():
            if not re.match(WORD, w):
                raise ValueError(f"'{w}' is not a lowercase word")
            if not emoji or emoji.isascii():
                raise ValueError(f"noun '{w}' needs an emoji")
        return value


class CollectionTemplate(BaseModel):
    """Top-level fields of collection.json (the entries are generated)."""

    model_config = ConfigDict(extra="allow", frozen=True, use_attribute_docstrings=True)

    name: str = "bioimage.io collection"
    """Collection name."""
    description: str = ""
    """Collection description."""
    format_version: str = "0.3.0"
    """Format version of the collection file."""
    config: dict[str, Any] = Field(default_factory=dict)
    """Website settings (e.g. splash title, explore button text)."""


class CollectionConfig(_Strict):
    """The collection config file."""

    reviewers: list[Reviewer] = Field(min_length=1)
    """Reviewers of the collection."""
    partners: list[Partner] = Field(default_factory=list)
    """Community partners and how their checks run."""
    id_parts: dict[ResourceType, IdParts]
    """Memorable id word lists per resource type."""
    collection_template: CollectionTemplate = Field(default_factory=CollectionTemplate)
    """Template of collection.json."""
    demo_reviewer: str | None = None
    """Reviewer id used by the README's demo pipeline (must be a reviewer)."""
    website_bot: WebsiteBot | None = None
    """The account the website dispatches workflows with; steps it dispatches act for the
    person named in their inputs. Without it, only the named person may dispatch a step."""

    @model_validator(mode="after")
    def _check(self) -> CollectionConfig:
        missing = [t for t in RESOURCE_TYPES if t not in self.id_parts]
        if missing:
            raise ValueError(f"id_parts lacks {', '.join(missing)}")
        ids = [r.id for r in self.reviewers]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate reviewer ids")
        pids = [p.id for p in self.partners]
        if len(set(pids)) != len(pids):
            raise ValueError("duplicate partner ids")
        if self.demo_reviewer is not None and self.demo_reviewer not in ids:
            raise ValueError(f"demo_reviewer '{self.demo_reviewer}' is not a reviewer")
        return self

    def reviewer(self, reviewer_id: str) -> Reviewer:
        """The reviewer with that id, or PermissionDeniedError."""
        for r in self.reviewers:
            if r.id == reviewer_id:
                return r
        raise PermissionDeniedError(f"'{reviewer_id}' is not a reviewer of this collection")

    def is_reviewer(self, actor: str | None) -> bool:
        return actor is not None and any(r.id == actor for r in self.reviewers)


def load_collection_config(path: Path) -> CollectionConfig:
    """Read and validate the config; errors name the file and the field."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{path}: cannot be read: {e}") from None
    except json.JSONDecodeError as e:
        raise ConfigError(f"{path}: not valid JSON: {e.msg} at line {e.lineno}") from None
    try:
        return CollectionConfig.model_validate(raw)
    except ValidationError as e:
        raise config_error(path, e) from None

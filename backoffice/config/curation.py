"""Declared curation state: `collection/<concept-id>.yaml`, one file per concept that
needs one. Reviewers change these files by pull request (GitOps); the next index
generation applies them.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError, InvalidIdError
from ..layout import checked
from ..util.yaml_guard import YamlRefused, load_yaml
from ..weight_formats import WEIGHT_FORMATS
from .errors import config_error


class DisplayOverrides(BaseModel):
    """Display fields a declaration may override in collection.json."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    name: str | None = None
    """Display name."""
    description: str | None = None
    """One-paragraph description."""
    tags: list[str] | None = None
    """Tags (replace the description's)."""
    authors: list[str] | None = None
    """Author names (replace the description's)."""
    license: str | None = None
    """SPDX license id."""
    covers: list[str] | None = None
    """Cover image URLs."""
    documentation: str | None = None
    """Documentation URL."""


DISPLAY_FIELDS = tuple(DisplayOverrides.model_fields)
"""Fields a declaration may override for display."""


class BlockedVersion(BaseModel):
    """A published version that must not be listed (nor loaded by id)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    version: str
    """The blocked version, or `*` for every version of the concept."""
    reason: str = Field(min_length=1)
    """Why it is blocked (shown to reviewers)."""


class YankedVersion(BaseModel):
    """A published version withdrawn from "latest" (as PyPI yanks): still listed and
    resolvable by its exact id and version DOI, never what the concept id or DOI gives."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    version: str = Field(min_length=1, pattern=r"^[^*]+$")
    """The yanked version (one exact version)."""
    reason: str = Field(min_length=1)
    """Why it is yanked (shown in collection.json and on the dashboard)."""


class LegacyDecl(BaseModel):
    """What a concept carried in the earlier bioimage.io collection (kept so old links and clients work)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)
    ids: list[str] = Field(default_factory=list)
    """Earlier ids (e.g. Zenodo DOIs `10.5281/zenodo.5764892` or old nicknames); each resolves through id_map.json to the latest version. A real concept id always wins over such an alias."""
    nickname: str | None = None
    """Legacy nickname shown by the website (also resolves through id_map.json)."""
    nickname_icon: str | None = None
    """Emoji of the legacy nickname."""
    download_count: int | None = Field(default=None, ge=0)
    """Download count carried over from the earlier collection (collection.json `download_count`)."""


class CurationDecl(BaseModel):
    """The declared curation of one concept."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    blocked_versions: list[BlockedVersion] = Field(default_factory=list)
    """Published versions excluded from the index."""
    extra_owners: list[str] = Field(default_factory=list)
    """Uploaders (`github|<id>` or an e-mail) allowed to stage new versions besides the first uploader."""
    test_kwargs: dict[str, dict[str, Any]] = Field(default_factory=dict)
    """Keyword arguments for bioimageio.core's test, per weight format (`all` applies to every format)."""
    overrides: DisplayOverrides = Field(default_factory=DisplayOverrides)
    """Display fields overridden in collection.json (name, description, tags, authors, license, covers, documentation)."""
    legacy: LegacyDecl = Field(default_factory=LegacyDecl)
    """Legacy ids, nickname and download count from the earlier collection."""
    yanked_versions: list[YankedVersion] = Field(default_factory=list)
    """Published versions that stay listed and resolvable by exact id but are never "latest"."""

    @model_validator(mode="after")
    def _yanked_not_blocked(self) -> CurationDecl:
        for y in self.yanked_versions:
            if self.is_blocked(y.version):
                raise ValueError(f"version '{y.version}' is both blocked and yanked (blocked versions disappear; yanked ones stay listed)")
        return self

    @field_validator("extra_owners")
    @classmethod
    def _owners(cls, value: list[str]) -> list[str]:
        for owner in value:
            if not (re.fullmatch(r"github\|[0-9]+", owner) or re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", owner)):
                raise ValueError(f"'{owner}' is neither 'github|<number>' nor an e-mail address")
        return value

    @field_validator("test_kwargs")
    @classmethod
    def _formats(cls, value: dict[str, dict[str, Any]]) -> dict[str, dict[str, Any]]:
        for wf in value:
            if wf != "all" and wf not in WEIGHT_FORMATS:
                raise ValueError(f"unknown weight format '{wf}'")
        return value

    def is_blocked(self, version: str) -> bool:
        return any(b.version in ("*", version) for b in self.blocked_versions)

    def yank_reason(self, version: str) -> str | None:
        """Why `version` is yanked, or None if it is not."""
        return next((y.reason for y in self.yanked_versions if y.version == version), None)

    def display_overrides(self) -> dict[str, Any]:
        """The overridden fields only."""
        return self.overrides.model_dump(exclude_unset=True)

    def kwargs_for(self, weight_format: str) -> dict[str, Any]:
        return {**self.test_kwargs.get("all", {}), **self.test_kwargs.get(weight_format, {})}


def load_curation_file(path: Path) -> CurationDecl:
    """Load one declaration; errors name the file and the field."""
    try:
        checked(path.stem)  # the one id rule (partner applications such as `imjoy:vizarr` too)
    except InvalidIdError as e:
        raise ConfigError(f"{path}: file name must be '<concept-id>.yaml': {e}") from None
    try:
        raw: Any = load_yaml(path.read_bytes(), str(path))
    except YamlRefused as e:
        raise ConfigError(str(e)) from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot be read: {e}") from None
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: field '(top level)': must be a mapping")
    try:
        return CurationDecl.model_validate(raw)
    except ValidationError as e:
        raise config_error(path, e) from None


def load_curation(folder: Path) -> dict[str, CurationDecl]:
    """All declarations in `folder`, keyed by concept id (files starting with `_` are skipped);
    none if there is no such folder. A path that is there but no folder is refused."""
    out: dict[str, CurationDecl] = {}
    if not folder.is_dir():
        if folder.exists() or folder.is_symlink():
            raise ConfigError(f"{folder}: the collection folder (BACKOFFICE_COLLECTION_DIR) is not a folder")
        return out
    for path in sorted(folder.iterdir()):
        if path.name.startswith(("_", ".")) or path.suffix not in (".yaml", ".yml"):
            continue
        out[path.stem] = load_curation_file(path)
    return out

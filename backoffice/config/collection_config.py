"""`bioimageio_collection_config.json`: reviewers, partners, id word lists and the
collection.json template. Validated on load; a wrong file fails with the field named.

The JSON schema of this file is generated from these models by
`scripts/generate_docs.py` (see `docs/schemas/`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import ConfigError, NotFoundError, PermissionDeniedError
from ..resource_types import ID_WORD_LISTS, RESOURCE_KINDS, ResourceType
from .errors import config_error


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


TOOL_NAME = r"^[a-z0-9][a-z0-9.-]*$"
"""A tool (report) name: no `_`, which separates it from the tool version in report file names."""


class PartnerDisplay(_Strict):
    """How the website shows a partner (its page and splash screen); unset fields take the partner's name/logo."""

    icon: str | None = None
    """Square icon URL (default: the logo)."""
    splash_title: str | None = None
    """Title of the partner's splash screen (default: the name)."""
    splash_subtitle: str | None = None
    """Subtitle of the splash screen."""
    splash_feature_list: list[str] = Field(default_factory=list)
    """Bullet points of the splash screen."""
    background_image: str | None = None
    """Background image URL of the splash screen."""
    explore_button_text: str | None = None
    """Text of the explore button."""
    default_type: str | None = None
    """Resource type shown first (default: the first of `resource_types`)."""
    tags: list[str] = Field(default_factory=list)
    """Tags that select the partner's resources on the website."""


class WebsiteBot(_Strict):
    """The GitHub account the bioimage.io website dispatches workflows with, on behalf
    of the person it authenticated (named in the workflow's inputs)."""

    id: str = Field(pattern=r"^github\|[0-9]+$")
    """`github|<numeric GitHub user id>` of the bot account."""
    name: str = Field(min_length=1)
    """Login or display name of the bot account (for the log)."""


class PartnerDispatch(_Strict):
    """A check run by a workflow in the partner's repository, dispatched by the backoffice."""

    repository: str = Field(pattern=r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
    """`owner/name` of the repository whose workflow checks the resources."""
    workflow: str = Field(pattern=r"^[A-Za-z0-9_.-]+\.ya?ml$")
    """Workflow file dispatched with the list of new/updated resource versions."""
    ref: str = "main"
    """Git ref the workflow is dispatched on; report artifacts are taken only from runs on this branch."""
    reports_unsent: bool = False
    """Whether the partner may report on versions it was not sent (by default its reports must be
    about versions `dispatch-partners` sent it)."""


class PartnerScript(_Strict):
    """A check command our own workflow runs in an environment of its own."""

    command: list[str] = Field(min_length=1)
    """Command and arguments; `{python}` is the environment's interpreter, `{resources}` a JSON file listing
    the resource versions to check, `{out}` the folder to write `<tool>_<tool_version>.json` reports into
    (one sub-folder per `<concept id>/<version>`)."""
    environment: list[str] = Field(default_factory=list)
    """pip requirements of the check's own environment (empty: the current interpreter)."""
    timeout: float = Field(default=3600, gt=0)
    """Seconds the check may run."""


class PartnerReporters(_Strict):
    """Who may hand in reports for a partner (checked by the report_compatibility workflow)."""

    repositories: list[str] = Field(default_factory=list)
    """`owner/name` of repositories whose workflows may dispatch reports (`github.repository` of the caller)."""
    github_ids: list[int] = Field(default_factory=list)
    """Numeric GitHub user ids allowed to dispatch reports (`github.actor_id`)."""
    workflow: str | None = Field(default=None, pattern=r"^[A-Za-z0-9_.-]+\.ya?ml$")
    """Workflow file whose runs' artifacts are taken as reports (default: `dispatch.workflow`)."""
    branch: str | None = None
    """Branch those runs must be on (default: `dispatch.ref`, else `main`)."""


class Partner(_Strict):
    """Community partner software whose compatibility checks feed the test summaries."""

    id: str = Field(pattern=TOOL_NAME)
    """Short id, e.g. `ilastik`."""
    name: str
    """Display name."""
    tool: str | None = Field(default=None, pattern=TOOL_NAME)
    """Tool name of its reports (`<tool>_<tool version>.json`); defaults to the id. A partner may run
    another release of the backoffice's own tool (`bioimageio.core`), but never the release the backoffice runs."""
    resource_types: list[ResourceType] = Field(default_factory=lambda: ["model"])
    """Which resource types the partner checks."""
    dispatch: PartnerDispatch | None = None
    """How to start its check in its repository (exclusive with `script`)."""
    script: PartnerScript | None = None
    """How our workflow runs its check (exclusive with `dispatch`). With neither, the partner is
    never dispatched: its reports come from its `reporters` or an import of the running collection."""
    reporters: PartnerReporters = Field(default_factory=PartnerReporters)
    """Who may submit reports for it; the dispatch repository may always."""
    logo: str | None = None
    """Logo URL for the website."""
    icon: str | None = None
    """Small icon URL for badges."""
    docs: str | None = None
    """Documentation URL."""
    display: PartnerDisplay = Field(default_factory=PartnerDisplay)
    """Website display data (splash screen, icon, tags) for collection.json `config.partners`."""

    @model_validator(mode="after")
    def _one_way(self) -> Partner:
        if self.dispatch is not None and self.script is not None:
            raise ValueError(f"partner '{self.id}' has both `dispatch` and `script`; give at most one")
        return self

    @property
    def tool_name(self) -> str:
        """The tool name its reports carry."""
        return self.tool or self.id

    def may_report(self, repository: str | None, actor_id: int | None) -> bool:
        """Whether a dispatch from `repository` by GitHub user `actor_id` may hand in reports."""
        repos: set[str] = set(self.reporters.repositories)
        if self.dispatch is not None:
            repos.add(self.dispatch.repository)
        return (repository is not None and repository in repos) or (actor_id is not None and actor_id in self.reporters.github_ids)


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
            if not re.fullmatch(WORD, w):
                raise ValueError(f"'{w}' is not a lowercase word")
        if len(set(value)) != len(value):
            raise ValueError("duplicate adjectives")
        return value

    @field_validator("nouns")
    @classmethod
    def _nouns(cls, value: dict[str, str]) -> dict[str, str]:
        import re

        for w, emoji in value.items():
            if not re.fullmatch(WORD, w):
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

    reviewers: list[Reviewer] = Field(default_factory=list)
    """Reviewers of the collection (a deployment names its own; without one nobody can publish)."""
    partners: list[Partner] = Field(default_factory=list)
    """Community partners and how their checks run."""
    id_parts: dict[ResourceType, IdParts]
    """Memorable id word lists, by the resource type that owns them; a type may draw from another's
    list (applications use the notebooks' clothing and gear, as in the running collection)."""
    collection_template: CollectionTemplate = Field(default_factory=CollectionTemplate)
    """Template of collection.json."""
    demo_reviewer: str | None = None
    """Reviewer id used by the README's demo pipeline (must be a reviewer; set by the demo's own config)."""
    website_bot: WebsiteBot | None = None
    """The account the website dispatches workflows with; steps it dispatches act for the
    person named in their inputs. Without it, only the named person may dispatch a step."""

    @model_validator(mode="after")
    def _check(self) -> CollectionConfig:
        missing = [t for t in ID_WORD_LISTS if t not in self.id_parts]
        if missing:
            raise ValueError(f"id_parts lacks {', '.join(missing)}")
        unused = [t for t in self.id_parts if t not in ID_WORD_LISTS]
        if unused:
            users = ", ".join(f"{k.name}s use {k.id_words}'s" for k in RESOURCE_KINDS.values() if k.name in unused)
            raise ValueError(f"id_parts.{unused[0]} is not used ({users} word list)")
        ids = [r.id for r in self.reviewers]
        if len(set(ids)) != len(ids):
            raise ValueError("duplicate reviewer ids")
        pids = [p.id for p in self.partners]
        if len(set(pids)) != len(pids):
            raise ValueError("duplicate partner ids")
        if "bioimageio.core" in pids:
            raise ValueError("'bioimageio.core' is the backoffice's own tool, not a partner id")
        tools = [p.tool_name for p in self.partners]
        if len(set(tools)) != len(tools):
            raise ValueError("two partners report as the same tool")
        if self.demo_reviewer is not None and self.demo_reviewer not in ids:
            raise ValueError(f"demo_reviewer '{self.demo_reviewer}' is not a reviewer")
        return self

    def reviewer(self, reviewer_id: str) -> Reviewer:
        """The reviewer with that id, or PermissionDeniedError."""
        for r in self.reviewers:
            if r.id == reviewer_id:
                return r
        raise PermissionDeniedError(f"'{reviewer_id}' is not a reviewer of this collection")

    def partner(self, partner_id: str) -> Partner:
        """The partner with that id, or NotFoundError."""
        for p in self.partners:
            if p.id == partner_id:
                return p
        known = ", ".join(p.id for p in self.partners) or "none"
        raise NotFoundError(f"'{partner_id}' is not a partner of this collection (partners: {known})")

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

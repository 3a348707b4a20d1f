"""What every command works with: settings, storage, the collection rules, records."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from .config.collection_config import CollectionConfig, load_collection_config
from .config.curation import CurationDecl, load_curation
from .records.concept import ConceptStore
from .records.journal import ConceptChat, ConceptLog, LogEntry
from .settings import Settings
from .storage.base import Storage
from .storage.factory import make_storage


@dataclass
class Context:
    """One run of the backoffice against one collection."""

    settings: Settings
    storage: Storage = field(default=None)  # pyright: ignore[reportAssignmentType]  # a sentinel: __post_init__ replaces it

    def __post_init__(self) -> None:
        if self.storage is None:  # pyright: ignore[reportUnnecessaryComparison]
            self.storage = make_storage(self.settings)

    @cached_property
    def config(self) -> CollectionConfig:
        return load_collection_config(self.settings.config_path)

    @cached_property
    def curation(self) -> dict[str, CurationDecl]:
        return load_curation(self.settings.collection_dir)

    def curation_of(self, concept_id: str) -> CurationDecl:
        return self.curation.get(concept_id) or CurationDecl()

    @cached_property
    def concepts(self) -> ConceptStore:
        return ConceptStore(self.storage)

    def log(self, concept_id: str) -> ConceptLog:
        return ConceptLog(self.storage, concept_id)

    def chat(self, concept_id: str) -> ConceptChat:
        return ConceptChat(self.storage, concept_id)

    def record_step(
        self,
        concept_id: str,
        step: str,
        message: str,
        *,
        actor: str | None = None,
        subject: str = "draft",
        details: Any = None,
        mark: bool = True,
    ) -> None:
        """Append a log entry for a step (with the CI run URL, if any); `mark=False`: the caller
        marks the concept changed for the index after it (see `ConceptLog.append`)."""
        self.log(concept_id).append(
            LogEntry(
                step=step,
                actor=actor or "backoffice",
                subject=subject,
                run_url=self.settings.ci_run_url(),
                message=message,
                details=details,
            ),
            mark=mark,
        )

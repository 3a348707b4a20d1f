"""Append-only journals (the log and the chat of a concept).

Every entry is its own object under a fresh, time-ordered key written with
create-if-absent, so concurrent writers can never overwrite one another:
nothing is read-modified-written, nothing is lost.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, Field

from ..storage.base import PreconditionFailed, Storage
from . import keys
from .index_inputs import mark_changed


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class LogEntry(BaseModel):
    """One step done to a draft or version."""

    timestamp: datetime = Field(default_factory=utcnow)
    """When the step happened (UTC)."""
    step: str
    """What happened, e.g. `stage`, `validate-format`, `test`, `publish`."""
    actor: str | None = None
    """Who did it: an uploader/reviewer id, or `backoffice`."""
    subject: str = "draft"
    """`draft` or the published version the entry is about."""
    run_url: str | None = None
    """CI run that did it, if any."""
    message: str = ""
    """One line for people."""
    details: Any = None
    """Structured details (e.g. a full validation summary)."""


class ChatMessage(BaseModel):
    """One message of the review conversation of a concept."""

    timestamp: datetime = Field(default_factory=utcnow)
    author: str
    """Reviewer or uploader id (an e-mail address for replies by e-mail)."""
    text: str
    via: str | None = None
    """How it arrived if not through the CLI/website: `e-mail` for replies to notification mails."""


def _new_key(prefix: str, when: datetime) -> str:
    return f"{prefix}{keys.unique_stamp(when)}.json"


class Journal:
    """An append-only sequence of JSON entries under one key prefix."""

    def __init__(self, storage: Storage, prefix: str) -> None:
        self.storage = storage
        self.prefix = prefix

    def append_raw(self, entry: dict[str, Any], when: datetime) -> str:
        data = json.dumps(entry, default=str).encode()
        for _ in range(5):
            key = _new_key(self.prefix, when)
            try:
                self.storage.put_bytes(key, data, if_none_match=True, content_type="application/json")
                return key
            except PreconditionFailed:
                continue  # a uuid collision: take another key
        raise PreconditionFailed(f"could not append to {self.prefix}")

    def append_once(self, entry: dict[str, Any], when: datetime, name: str) -> bool:
        """Append under a key derived from `name` (not a random one), create-if-absent:
        returns False if that entry exists already (it was appended before)."""
        if not name or not all(c.isalnum() or c in "-_" for c in name):
            raise ValueError(f"unsafe journal entry name {name!r}")
        stamp = keys.time_stamp(when)
        try:
            self.storage.put_bytes(f"{self.prefix}{stamp}-{name}.json", json.dumps(entry, default=str).encode(),
                                   if_none_match=True, content_type="application/json")
        except PreconditionFailed:
            return False
        return True

    def read_raw(self, limit: int | None = None) -> list[dict[str, Any]]:
        entry_keys = self.storage.list_keys(self.prefix)
        if limit is not None:
            entry_keys = entry_keys[-limit:] if limit > 0 else []
        return [json.loads(self.storage.get_bytes(k)) for k in entry_keys]


class ConceptLog:
    """The log of a concept: entries about its draft and its versions (an index input:
    each append marks the concept changed, see `index_inputs.py`)."""

    def __init__(self, storage: Storage, concept_id: str) -> None:
        self.journal = Journal(storage, keys.log_prefix(concept_id))
        self.concept_id = concept_id

    def append(self, entry: LogEntry, *, mark: bool = True) -> None:
        """Append `entry`; `mark=False` when the caller changes the concept document right after
        (its marker covers the entry: see `index_inputs.py`)."""
        self.journal.append_raw(entry.model_dump(mode="json"), entry.timestamp)
        if mark:
            mark_changed(self.journal.storage, self.concept_id)

    def read(self, limit: int | None = None) -> list[LogEntry]:
        return [LogEntry.model_validate(e) for e in self.journal.read_raw(limit)]


class ConceptChat:
    """The review chat of a concept (an index input: each append marks the concept changed)."""

    def __init__(self, storage: Storage, concept_id: str) -> None:
        self.journal = Journal(storage, keys.chat_prefix(concept_id))
        self.concept_id = concept_id

    def append(self, message: ChatMessage) -> None:
        self.journal.append_raw(message.model_dump(mode="json"), message.timestamp)
        mark_changed(self.journal.storage, self.concept_id)

    def append_once(self, message: ChatMessage, name: str) -> bool:
        """Append `message` under a key derived from `name`; False if it is there already."""
        added = self.journal.append_once(message.model_dump(mode="json"), message.timestamp, name)
        if added:
            mark_changed(self.journal.storage, self.concept_id)
        return added

    def read(self, limit: int | None = None) -> list[ChatMessage]:
        return [ChatMessage.model_validate(e) for e in self.journal.read_raw(limit)]

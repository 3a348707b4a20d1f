"""The review chat: who may write in it, and what a message may hold."""

from __future__ import annotations

from ..context import Context
from ..errors import PermissionDeniedError
from ..records.concept import ConceptRecord
from ..records.journal import ChatMessage
from ..stage.ownership import check_uploader, may_upload
from ..records.message_text import check_message


def check_chat_author(ctx: Context, record: ConceptRecord, author: str) -> None:
    """Only the draft's uploader, the concept's owners and reviewers write in its chat
    (a refusal writes nothing)."""
    check_uploader(author)
    uploader = record.draft.uploader if record.draft is not None else None
    if author != uploader and not may_upload(ctx, record, author):
        raise PermissionDeniedError(f"'{author}' may not write in the chat of '{record.id}': only its uploader, owners and reviewers")


def add_message(ctx: Context, concept_id: str, author: str, message: str) -> ChatMessage:
    """Append a checked message by a checked author to the concept's chat and log it."""
    text = check_message(message)
    check_chat_author(ctx, ctx.concepts.get(concept_id), author)
    entry = ChatMessage(author=author, text=text)
    ctx.chat(concept_id).append(entry)
    ctx.record_step(concept_id, "chat", "message added", actor=author)
    return entry

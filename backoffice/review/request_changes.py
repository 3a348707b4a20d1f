"""`backoffice request-changes`: a reviewer sends the draft back to its uploader."""

from __future__ import annotations

from ..context import Context
from ..errors import IllegalTransitionError
from ..records.concept import ConceptRecord, DraftRecord
from ..records.journal import ChatMessage
from ..records.status import DraftStatus
from ..records.message_text import check_message


def require_reviewer(ctx: Context, actor: str) -> None:
    """Refuse unless `actor` is a reviewer (a refusal writes nothing)."""
    ctx.config.reviewer(actor)


def request_changes(ctx: Context, concept_id: str, reviewer: str, reason: str) -> DraftRecord:
    reason = check_message(reason, "the reason for requesting changes")
    record = ctx.concepts.get(concept_id)
    require_reviewer(ctx, reviewer)
    if record.draft is None:
        published = ", ".join(record.versions) or "none"
        raise IllegalTransitionError(
            f"'{concept_id}' has no draft; published versions ({published}) cannot get change requests"
        )

    def mutate(r: ConceptRecord) -> DraftRecord:
        current = r.require_draft().status
        if current == DraftStatus.TESTING:  # only the failed static validation sends a draft back from testing
            raise IllegalTransitionError(f"draft of '{concept_id}' is 'testing'; changes can be requested once it awaits review")
        draft = r.set_draft_status(DraftStatus.CHANGES_REQUESTED)
        draft.reviewer = reviewer
        return draft.model_copy()

    draft = ctx.concepts.update(concept_id, mutate)
    ctx.chat(concept_id).append(ChatMessage(author=reviewer, text=f"changes requested: {reason.strip()}"))
    ctx.record_step(concept_id, "request-changes", reason.strip(), actor=reviewer)
    return draft

"""Review commands: request-changes, publish, chat."""

from __future__ import annotations

import typer

from ..gh_actions import set_outputs
from ..index.generate import generate_index
from ..records.journal import ChatMessage
from ..review.publish import publish as run_publish
from ..review.request_changes import request_changes as run_request_changes
from ..errors import InvalidArgumentError, PermissionDeniedError
from ..review.message_text import check_message
from .acting import acting_option, verified
from .common import console, make_context


def register(app: typer.Typer) -> None:
    app.command("request-changes")(request_changes)
    app.command("publish")(publish)
    app.command("chat")(chat)


def request_changes(
    concept_id: str = typer.Argument(..., help="Concept id."),
    reviewer: str = typer.Option(..., "--reviewer", help="Reviewer id from the config (github|<number>)."),
    reason: str = typer.Option(..., "--reason", help="What the uploader should change."),
    acting_github_id: str | None = acting_option(),
) -> None:
    """Send a draft awaiting review back to its uploader with a reason."""
    reason = check_message(reason, "the reason")
    ctx = make_context()
    verified(ctx, concept_id, "request-changes", reviewer, acting_github_id)
    draft = run_request_changes(ctx, concept_id, reviewer, reason)
    from ..notify.mail import notify_uploader

    # tell the uploader first: a failing index run must not swallow the message
    notify_uploader(ctx, concept_id, "changes_requested", version=draft.summary.version, reason=reason,
                    uploader=draft.uploader, uploader_email=draft.summary.uploader_email,
                    version_assigned=draft.version_assigned)
    generate_index(ctx, "draft")
    console.print(f"{concept_id}: changes requested")


def publish(
    concept_id: str = typer.Argument(..., help="Concept id."),
    reviewer: str = typer.Option(..., "--reviewer", help="Reviewer id from the config (github|<number>)."),
    acting_github_id: str | None = acting_option(),
) -> None:
    """Publish the draft awaiting review as a new version and regenerate the index."""
    ctx = make_context()
    verified(ctx, concept_id, "publish", reviewer, acting_github_id)
    record = ctx.concepts.get(concept_id)
    draft = record.draft
    result = run_publish(ctx, concept_id, reviewer)
    if draft is not None and not result.resumed:  # before the index: its failure must not swallow the message
        from ..notify.mail import notify_uploader

        notify_uploader(ctx, concept_id, "published", version=result.version, url=result.rdf_url,
                        uploader=draft.uploader, uploader_email=draft.summary.uploader_email,
                        version_assigned=draft.version_assigned)
    generate_index(ctx, "all")
    set_outputs({"version": result.version, "rdf_url": result.rdf_url})
    console.print(f"published {concept_id} version {result.version}: {result.rdf_url}")


def chat(
    concept_id: str = typer.Argument(..., help="Concept id."),
    message: str | None = typer.Option(None, "--message", help="Message to add (omit to read the chat)."),
    author: str | None = typer.Option(None, "--author", help="Author id of the message (github|<number> or e-mail)."),
    acting_github_id: str | None = acting_option(),
) -> None:
    """Read a concept's review chat, or add a message to it (its uploader, owners and reviewers)."""
    ctx = make_context()
    record = ctx.concepts.get(concept_id)  # the concept must exist
    if message is not None:
        from ..stage.ownership import check_uploader, may_upload

        text = check_message(message)
        if not author:
            raise InvalidArgumentError("--author is required with --message")
        check_uploader(author)
        uploader = record.draft.uploader if record.draft is not None else None
        if author != uploader and not may_upload(ctx, record, author):
            ctx.record_step(concept_id, "chat", f"refused: '{author}' is not the uploader, an owner or a reviewer", actor=author)
            raise PermissionDeniedError(f"'{author}' may not write in the chat of '{concept_id}': only its uploader, owners and reviewers")
        verified(ctx, concept_id, "chat", author, acting_github_id)
        ctx.chat(concept_id).append(ChatMessage(author=author, text=text))
        ctx.record_step(concept_id, "chat", "message added", actor=author)
    for m in ctx.chat(concept_id).read():
        console.print(f"{m.timestamp:%Y-%m-%d %H:%M} {m.author}: {m.text}", markup=False)

"""Review commands: request-changes, publish, chat."""

from __future__ import annotations

import re

import typer

from ..errors import InvalidArgumentError
from ..gh_actions import set_outputs
from .acting import acting_option, log_verified, verified
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
    from ..records.message_text import check_message
    from ..review.steps import request_changes_step

    reason = check_message(reason, "the reason")
    ctx = make_context()
    actor = verified(ctx, "request-changes", reviewer, acting_github_id)
    request_changes_step(ctx, concept_id, reviewer, reason)
    log_verified(ctx, concept_id, "request-changes", actor)
    console.print(f"{concept_id}: changes requested")


def publish(
    concept_id: str = typer.Argument(..., help="Concept id."),
    reviewer: str = typer.Option(..., "--reviewer", help="Reviewer id from the config (github|<number>)."),
    draft_sha256: str | None = typer.Option(
        None, "--draft-sha256",
        help="The draft sha256 the reviewer approved: the digest of every file of the draft (shown on the review"
             " page and by `status`); a draft re-staged since, or with any file changed since, is refused."
             " The publish workflow always passes it."),
    acting_github_id: str | None = acting_option(),
) -> None:
    """Publish the draft awaiting review as a new version and regenerate the index."""
    from ..review.steps import publish_step

    if draft_sha256 is not None and not re.fullmatch(r"[0-9a-f]{64}", draft_sha256):
        raise InvalidArgumentError(f"--draft-sha256 must be 64 lowercase hex digits, not {draft_sha256[:80]!r}")
    ctx = make_context()
    actor = verified(ctx, "publish", reviewer, acting_github_id)
    result = publish_step(ctx, concept_id, reviewer, draft_sha256)
    log_verified(ctx, concept_id, "publish", actor)
    set_outputs({"version": result.version, "rdf_url": result.rdf_url})
    console.print(f"published {concept_id} version {result.version}: {result.rdf_url}")


def chat(
    concept_id: str = typer.Argument(..., help="Concept id."),
    message: str | None = typer.Option(None, "--message", help="Message to add (omit to read the chat)."),
    author: str | None = typer.Option(None, "--author", help="Author id of the message (github|<number> or e-mail)."),
    acting_github_id: str | None = acting_option(),
) -> None:
    """Read a concept's review chat, or add a message to it (its uploader, owners and reviewers)."""
    from ..review.chat import add_message, check_chat_author
    from ..records.message_text import check_message

    ctx = make_context()
    record = ctx.concepts.get(concept_id)  # the concept must exist
    if message is not None:
        check_message(message)
        if not author:
            raise InvalidArgumentError("--author is required with --message")
        check_chat_author(ctx, record, author)
        actor = verified(ctx, "chat", author, acting_github_id)
        add_message(ctx, concept_id, author, message)
        log_verified(ctx, concept_id, "chat", actor)
    for m in ctx.chat(concept_id).read():
        console.print(f"{m.timestamp:%Y-%m-%d %H:%M} {m.author}: {m.text}", markup=False)

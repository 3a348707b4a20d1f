"""The review steps whole, as the CLI, the workflows and the demo run them:
transition -> tell the uploader -> regenerate the index.

The e-mail goes out before the index run, so that a failing index run cannot swallow
it; the index is regenerated last (a failure there leaves the step done and is repaired
by the next index run).
"""

from __future__ import annotations

from ..context import Context
from ..index.generate import generate_index
from ..notify.mail import notify_uploader
from ..records.concept import DraftRecord
from .publish import PublishResult, publish
from .request_changes import request_changes


def request_changes_step(ctx: Context, concept_id: str, reviewer: str, reason: str) -> DraftRecord:
    """Send the draft back to its uploader with `reason`: status, chat entry, e-mail, draft index."""
    draft = request_changes(ctx, concept_id, reviewer, reason)
    notify_uploader(ctx, concept_id, "changes_requested", version=draft.summary.version, reason=reason,
                    uploader=draft.uploader, uploader_email=draft.summary.uploader_email,
                    version_assigned=draft.version_assigned)
    generate_index(ctx, "draft")
    return draft


def publish_step(ctx: Context, concept_id: str, reviewer: str, draft_sha256: str | None = None) -> PublishResult:
    """Publish the draft as a new version, tell the uploader (not again on a resumed run), index."""
    draft = ctx.concepts.get(concept_id).draft
    result = publish(ctx, concept_id, reviewer, draft_sha256)
    if draft is not None and not result.resumed:
        notify_uploader(ctx, concept_id, "published", version=result.version, url=result.rdf_url,
                        uploader=draft.uploader, uploader_email=draft.summary.uploader_email,
                        version_assigned=draft.version_assigned, tests=draft.tests)
    generate_index(ctx, "all")
    return result

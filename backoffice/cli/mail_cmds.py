"""`backoffice read-mail-replies`."""

from __future__ import annotations

import typer

from ..gh_actions import append_summary, set_outputs
from .common import console, make_context


def register(app: typer.Typer) -> None:
    app.command("read-mail-replies")(read_mail_replies)


def read_mail_replies() -> None:
    """Read the bot's mailbox over IMAP and append replies to notification e-mails to the concepts' review chats, each
    once (see `docs/mail_replies.md`).
    """
    from ..notify.mail_replies import read_mail_replies as run_read

    ctx = make_context()
    result = run_read(ctx)
    set_outputs({"added": str(len(result.added)), "unmatched": str(len(result.unmatched)), "refused": str(len(result.refused))})
    append_summary(result.markdown())
    console.print(result.markdown(), markup=False)

"""`backoffice read-mail-replies`: replies to notification mails become chat messages.

Reads the bot's mailbox over IMAP (`imap_*` settings). Each mail not yet handled
(no `BioimageioChat` keyword) is matched to its concept by the reply token
(`tokens.py`: the plus-address it was sent to, else the subject tag). Only the
concept's uploaders, owners and the reviewers may post; their text (see
`reply_text.py`) is appended to the concept's chat with the sender as author.

Never twice, even if the job dies half-way: the chat entry's key is derived from
the Message-ID and written create-if-absent BEFORE the mail is flagged
(`\\Seen` + `BioimageioChat`). A re-run finds the entry and only flags the mail.
Mail that matches no concept, or comes from someone else, is left as it is and
reported.
"""

from __future__ import annotations

import email
import email.policy
import imaplib
import re
from dataclasses import dataclass, field
from datetime import datetime, timezone
from email.message import Message
from typing import Any, cast

from ..context import Context
from ..errors import ConfigError, ExternalServiceError
from ..log import logger
from ..records.concept import ConceptRecord
from ..records.journal import ChatMessage
from .reply_text import entry_name, recipients_of, reply_content, sender_authenticated, sender_of
from .tokens import concept_of_address, concept_of_subject

HANDLED_KEYWORD = "BioimageioChat"
"""IMAP keyword set (with `\\Seen`) on a mail once its text is in the chat."""
IMAP_TIMEOUT = 60.0


@dataclass
class RepliesResult:
    added: list[tuple[str, str]] = field(default_factory=list)
    """(concept, sender) of replies appended to a chat in this run."""
    already: list[tuple[str, str]] = field(default_factory=list)
    """(concept, sender) of replies appended before (a run that died before flagging them)."""
    unmatched: list[str] = field(default_factory=list)
    """Mails (subject, sender) matching no concept: left alone."""
    refused: list[str] = field(default_factory=list)
    """Mails from someone who may not post to that concept: left alone."""

    def markdown(self) -> str:
        lines = ["### e-mail replies", "",
                 f"{len(self.added)} added to chats, {len(self.already)} added before (now flagged), "
                 f"{len(self.unmatched)} matching no concept, {len(self.refused)} from senders who may not post", ""]
        lines += [f"- added to `{c}` from {s}" for c, s in self.added]
        lines += [f"- left alone (no concept): {u}" for u in self.unmatched]
        lines += [f"- left alone (sender may not post): {r}" for r in self.refused]
        return "\n".join(lines) + "\n"


@dataclass(frozen=True)
class Match:
    concept_id: str | None
    """Concept the reply belongs to (None: no token or no such concept)."""
    allowed: bool
    """Whether the sender may post to it."""


def allowed_senders(ctx: Context, record: ConceptRecord) -> set[str]:
    """E-mail addresses that may post: the uploaders (ids or description e-mails of the draft
    and every version), the owners, owners declared in collection/, and the reviewers."""
    candidates: list[str | None] = [*record.owners, *ctx.curation_of(record.id).extra_owners]
    candidates += [r.email for r in ctx.config.reviewers]
    for item in [record.draft, *record.versions.values()]:
        if item is not None:
            candidates += [item.uploader, item.summary.uploader_email]
    return {c.strip().lower() for c in candidates if c and "@" in c}


def match_reply(ctx: Context, msg: Message) -> Match:
    mail_from = ctx.settings.mail_from
    cid = next((c for a in recipients_of(msg) if (c := concept_of_address(a, mail_from))), None)
    if cid is None:
        cid = concept_of_subject(str(msg.get("Subject", "")))
    record = ctx.concepts.find(cid) if cid else None
    if record is None:
        return Match(None, False)
    sender = sender_of(msg)
    allowed = sender is not None and sender in allowed_senders(ctx, record)
    return Match(record.id, allowed and sender_authenticated(msg, ctx.settings.imap_authserv_id, sender or ""))


def _connect(ctx: Context) -> imaplib.IMAP4:
    s = ctx.settings
    if not s.imap_host or not s.imap_user or s.imap_password is None:
        raise ConfigError("reading mail replies needs BACKOFFICE_IMAP_HOST, BACKOFFICE_IMAP_USER and BACKOFFICE_IMAP_PASSWORD")
    try:
        conn = (imaplib.IMAP4_SSL(s.imap_host, s.imap_port, timeout=IMAP_TIMEOUT) if s.imap_tls
                else imaplib.IMAP4(s.imap_host, s.imap_port, timeout=IMAP_TIMEOUT))
    except OSError as e:
        raise ExternalServiceError(f"cannot reach the IMAP server {s.imap_host}:{s.imap_port}: {e}") from None
    try:
        conn.login(s.imap_user, s.imap_password.get_secret_value())
    except imaplib.IMAP4.error:
        conn.shutdown()
        raise ExternalServiceError(f"IMAP login as {s.imap_user} at {s.imap_host} was refused") from None
    typ, _ = conn.select(_quote(s.imap_mailbox))
    if typ != "OK":
        conn.logout()
        raise ExternalServiceError(f"IMAP mailbox '{s.imap_mailbox}' cannot be opened")
    return conn


def _quote(mailbox: str) -> str:
    return '"' + mailbox.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _fetch(conn: imaplib.IMAP4, uid: bytes) -> tuple[bytes, datetime] | None:
    typ, data = conn.uid("FETCH", uid.decode(), "(INTERNALDATE BODY.PEEK[])")  # PEEK: not \Seen
    if typ != "OK":
        return None
    for item in data:
        if isinstance(item, tuple) and len(cast(tuple[Any, ...], item)) == 2:
            meta, raw = cast(tuple[bytes, bytes], item)
            return raw, _internaldate(meta)
    return None


def _internaldate(meta: bytes) -> datetime:
    """The server's arrival time of a mail (now, if it cannot be read)."""
    m = re.search(rb'INTERNALDATE "([^"]+)"', meta)
    if m:
        try:
            return datetime.strptime(m.group(1).decode().strip(), "%d-%b-%Y %H:%M:%S %z").astimezone(timezone.utc)
        except ValueError:
            pass
    return datetime.now(timezone.utc)


def _flag(conn: imaplib.IMAP4, uid: bytes) -> None:
    typ, _ = conn.uid("STORE", uid.decode(), "+FLAGS", f"(\\Seen {HANDLED_KEYWORD})")
    if typ != "OK":
        raise ExternalServiceError(f"could not flag mail {uid.decode()} as handled")


def _describe(msg: Message) -> str:
    return f"'{str(msg.get('Subject', ''))[:120]}' from {sender_of(msg) or '(no sender)'}"


def handle_mail(ctx: Context, raw: bytes, received: datetime, result: RepliesResult) -> bool:
    """Put one mail into its chat if it may go there; return whether it is handled (to be flagged)."""
    msg = email.message_from_bytes(raw, policy=email.policy.compat32)
    match = match_reply(ctx, msg)
    if match.concept_id is None:
        result.unmatched.append(_describe(msg))
        logger.warning("mail %s matches no concept: left alone", _describe(msg))
        return False
    sender = sender_of(msg) or ""
    if not match.allowed:
        result.refused.append(f"{_describe(msg)} to '{match.concept_id}'")
        logger.warning("mail %s: the sender may not post to '%s': left alone", _describe(msg), match.concept_id)
        return False
    content = reply_content(msg)
    # the server's arrival time: the sender's `Date:` header can say anything
    message = ChatMessage(timestamp=received, author=sender, text=content.text, via="e-mail")
    if ctx.chat(match.concept_id).append_once(message, entry_name(msg, raw)):
        result.added.append((match.concept_id, sender))
        ctx.record_step(match.concept_id, "mail-reply", f"e-mail reply from {sender} added to the chat", actor=sender,
                        details={"message_id": str(msg.get("Message-ID", "")), "attachments_dropped": content.dropped})
    else:
        result.already.append((match.concept_id, sender))
    return True


def read_mail_replies(ctx: Context) -> RepliesResult:
    """Read every mail not yet handled; append replies to chats; flag what was appended."""
    result = RepliesResult()
    conn = _connect(ctx)
    try:
        typ, data = conn.uid("SEARCH", "UNDELETED", "UNKEYWORD", HANDLED_KEYWORD)
        if typ != "OK":
            raise ExternalServiceError("IMAP search for unhandled mail failed")
        uids = data[0].split() if data and isinstance(data[0], bytes) else []
        for uid in uids:
            fetched = _fetch(conn, uid)
            if fetched is None:
                logger.warning("could not fetch mail %s; next run tries again", uid.decode())
                continue
            if handle_mail(ctx, *fetched, result):
                _flag(conn, uid)  # only after the chat entry exists
    except imaplib.IMAP4.error as e:
        raise ExternalServiceError(f"IMAP error: {e}") from None
    finally:
        try:
            conn.logout()
        except (imaplib.IMAP4.error, OSError):
            pass
    logger.info("mail replies: %d added, %d added before, %d unmatched, %d refused",
                len(result.added), len(result.already), len(result.unmatched), len(result.refused))
    return result

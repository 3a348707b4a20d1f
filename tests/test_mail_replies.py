"""Replies to notification mails go into the review chat: sent over SMTP (aiosmtpd on
127.0.0.1) into the real dovecot on 127.0.0.1, read with `read-mail-replies`, appended
once — also when the reader is killed after the chat write and started again."""

from __future__ import annotations

import json
import os
import smtplib
import subprocess
import sys
import textwrap
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from pathlib import Path
from typing import Any

import pytest

from backoffice.errors import ConfigError
from backoffice.context import Context
from backoffice.notify import notify_uploader
from backoffice.notify.mail_replies import HANDLED_KEYWORD, read_mail_replies
from backoffice.notify.reply_text import MAX_REPLY_CHARS
from backoffice.records.concept import ConceptRecord
from backoffice.storage.local import LocalStorage
from dovecot_server import IMAP_PASSWORD, IMAP_USER, Dovecot, MailRoute, dovecot, smtp_to_imap  # noqa: F401 - fixtures
from faulty_storage import FaultyStorage, InjectedFault
from test_mail import MAIL_PASSWORD, MAIL_USER, Inbox, smtp_server  # noqa: F401 - the fixture

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")

REPO = Path(__file__).resolve().parents[1]
CID = "affable-shark"
BOT = "bioimageiobot@example.org"
JANE = "jane@example.org"
REVIEWER_MAIL = "demo-reviewer@example.org"  # a reviewer in the repo's config


def _ctx(local_ctx: Context, settings_factory: Any, dovecot: Dovecot, mailbox: str, **extra: Any) -> Context:  # noqa: F811
    settings = settings_factory(imap_host=dovecot.host, imap_port=dovecot.port, imap_user=IMAP_USER,
                                imap_password=IMAP_PASSWORD, imap_tls=False, imap_mailbox=mailbox, mail_from=BOT,
                                imap_authserv_id=AUTHSERV, **extra)
    return Context(settings, storage=local_ctx.storage)


def _concept(ctx: Context, cid: str = CID) -> None:
    ctx.concepts.create(ConceptRecord(id=cid, type="model", owners=[JANE]))


def _send(route: MailRoute, msg: EmailMessage) -> None:
    with smtplib.SMTP("127.0.0.1", route.smtp_port, timeout=30) as smtp:
        smtp.send_message(msg)


AUTHSERV = "mx.bioimage.test"
"""The receiving mail server's authserv-id: it vouches for senders in Authentication-Results."""


def _reply(to: str, subject: str, body: str, sender: str = JANE, authenticated: bool = True, **headers: str) -> EmailMessage:
    msg = EmailMessage()
    if authenticated:  # as the receiving server adds it, on top
        msg["Authentication-Results"] = f"{AUTHSERV}; dkim=pass header.i=@{sender.split('@')[1]}; dmarc=pass header.from={sender.split('@')[1]}"
    msg["From"] = f"Jane Doe <{sender}>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain="example.org")
    for k, v in headers.items():
        msg[k] = v
    msg.set_content(body)
    return msg


def test_reply_to_a_notification_lands_once_in_the_chat(
    local_ctx: Context, settings_factory: Any, dovecot: Dovecot, smtp_to_imap: MailRoute,  # noqa: F811
    smtp_server: tuple[Inbox, int], tmp_path: Path,  # noqa: F811
) -> None:
    inbox, port = smtp_server
    ctx = _ctx(local_ctx, settings_factory, dovecot, smtp_to_imap.mailbox, mail_host="127.0.0.1", mail_port=port,
               mail_user=MAIL_USER, mail_password=MAIL_PASSWORD, mail_starttls=False)
    _concept(ctx)
    assert notify_uploader(ctx, CID, "changes_requested", version="1", reason="add a cover", uploader=JANE, uploader_email=None)
    (sent,) = inbox.messages
    assert sent.message["Reply-To"] == f"bioimageiobot+{CID}@example.org"
    assert str(sent.message["Subject"]).endswith(f"[bioimage.io:{CID}]")
    assert "your reply is added to the review chat" in sent.message.get_content()

    quoted = "\n".join("> " + line for line in sent.message.get_content().splitlines())
    body = f"I added a cover image.\nPlease have another look.\n\nOn Mon, 5 Jan 2026 at 10:00, bot <{BOT}> wrote:\n{quoted}\n"
    reply = _reply(str(sent.message["Reply-To"]), "Re: " + str(sent.message["Subject"]), body,
                   **{"In-Reply-To": str(sent.message["Message-ID"])})
    _send(smtp_to_imap, reply)
    assert smtp_to_imap.handler.received == 1

    result = read_mail_replies(ctx)
    assert result.added == [(CID, JANE)] and not result.unmatched and not result.refused
    (message,) = ctx.chat(CID).read()
    assert message.author == JANE and message.via == "e-mail"
    assert message.text == "I added a cover image.\nPlease have another look."
    assert any(e.step == "mail-reply" for e in ctx.log(CID).read())
    (flags,) = dovecot.flags(smtp_to_imap.mailbox)
    assert "\\Seen" in flags and HANDLED_KEYWORD in flags

    # again, through the CLI: nothing new; the password never shows
    env = {**os.environ, "PYTHONPATH": str(REPO), "BACKOFFICE_LOCAL_ROOT": str(ctx.settings.local_root),
           "BACKOFFICE_CONFIG_PATH": str(ctx.settings.config_path), "BACKOFFICE_COLLECTION_DIR": str(ctx.settings.collection_dir),
           "BACKOFFICE_IMAP_HOST": dovecot.host, "BACKOFFICE_IMAP_PORT": str(dovecot.port), "BACKOFFICE_IMAP_USER": IMAP_USER,
           "BACKOFFICE_IMAP_PASSWORD": IMAP_PASSWORD, "BACKOFFICE_IMAP_TLS": "false",
           "BACKOFFICE_IMAP_MAILBOX": smtp_to_imap.mailbox, "BACKOFFICE_MAIL_FROM": BOT, "BACKOFFICE_IMAP_AUTHSERV_ID": AUTHSERV, "GITHUB_STEP_SUMMARY": str(tmp_path / "s.md")}
    r = subprocess.run([sys.executable, "-m", "backoffice", "-v", "read-mail-replies"], env=env, capture_output=True,
                       text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert "0 added to chats" in r.stdout and "0 added to chats" in (tmp_path / "s.md").read_text()
    assert IMAP_PASSWORD not in r.stdout + r.stderr
    assert len(ctx.chat(CID).read()) == 1


def test_html_reply_attachment_and_size_limit_matched_by_subject(
    local_ctx: Context, settings_factory: Any, dovecot: Dovecot, smtp_to_imap: MailRoute,  # noqa: F811
) -> None:
    ctx = _ctx(local_ctx, settings_factory, dovecot, smtp_to_imap.mailbox)
    _concept(ctx)
    long_text = "word " * (MAX_REPLY_CHARS // 2)
    msg = _reply(BOT, f"Re: [bioimage.io] {CID} 1 awaits review [bioimage.io:{CID}]", "", sender=REVIEWER_MAIL)
    msg.set_content(f"<html><body><p>Looks <b>good</b> &amp; works.</p><p>{long_text}</p>"
                    f'<div class="gmail_quote">On Mon wrote:<blockquote>old text</blockquote></div></body></html>',
                    subtype="html")
    msg.add_attachment(b"\x89PNG fake image", maintype="image", subtype="png", filename="screenshot.png")
    _send(smtp_to_imap, msg)
    result = read_mail_replies(ctx)
    assert result.added == [(CID, REVIEWER_MAIL)]
    (message,) = ctx.chat(CID).read()
    assert message.text.startswith("Looks good & works.")
    assert "old text" not in message.text and "<b>" not in message.text
    assert f"the reply was longer than {MAX_REPLY_CHARS} characters" in message.text
    assert message.text.endswith("[attachment dropped: screenshot.png (image/png, 15 bytes)]")
    assert len(message.text) < MAX_REPLY_CHARS + 300


def test_unmatched_and_unauthorised_mail_is_left_alone_and_reported(
    local_ctx: Context, settings_factory: Any, dovecot: Dovecot, smtp_to_imap: MailRoute,  # noqa: F811
) -> None:
    ctx = _ctx(local_ctx, settings_factory, dovecot, smtp_to_imap.mailbox)
    _concept(ctx)
    _send(smtp_to_imap, _reply(BOT, "hello there", "no token in here"))
    _send(smtp_to_imap, _reply("bioimageiobot+no-such-concept@example.org", "Re: something", "unknown concept"))
    _send(smtp_to_imap, _reply(f"bioimageiobot+{CID}@example.org", "Re: x", "let me in", sender="mallory@example.net"))
    for _ in range(2):  # reported on every run, never flagged
        result = read_mail_replies(ctx)
        assert result.added == [] and len(result.unmatched) == 2 and len(result.refused) == 1
        assert "mallory@example.net" in result.refused[0]
        assert all("\\Seen" not in f and HANDLED_KEYWORD not in f for f in dovecot.flags(smtp_to_imap.mailbox))
    assert ctx.chat(CID).read() == []


class CrashAfterChatWrite(FaultyStorage):
    """The chat entry is written, then the job dies (before the mail is flagged)."""

    def put_bytes(self, key: str, data: bytes, **kwargs: Any) -> str:
        etag = self.inner.put_bytes(key, data, **kwargs)
        if "/chat/" in key:
            raise InjectedFault(f"died after writing {key}")
        return etag


def test_reader_dying_after_the_chat_write_appends_once(
    local_ctx: Context, settings_factory: Any, dovecot: Dovecot, smtp_to_imap: MailRoute,  # noqa: F811
) -> None:
    ctx = _ctx(local_ctx, settings_factory, dovecot, smtp_to_imap.mailbox)
    _concept(ctx)
    _send(smtp_to_imap, _reply(f"bioimageiobot+{CID}@example.org", "Re: review", "first reply"))
    crashing = Context(ctx.settings, storage=CrashAfterChatWrite(ctx.storage))
    with pytest.raises(InjectedFault):
        read_mail_replies(crashing)
    assert len(ctx.chat(CID).read()) == 1
    assert all(HANDLED_KEYWORD not in f for f in dovecot.flags(smtp_to_imap.mailbox))  # died before flagging
    result = read_mail_replies(ctx)
    assert result.added == [] and result.already == [(CID, JANE)]
    assert [m.text for m in ctx.chat(CID).read()] == ["first reply"]
    assert all(HANDLED_KEYWORD in f for f in dovecot.flags(smtp_to_imap.mailbox))
    assert read_mail_replies(ctx).already == []


KILLER = textwrap.dedent("""
    import os, signal, sys
    from pathlib import Path
    from backoffice.context import Context
    from backoffice.notify.mail_replies import read_mail_replies
    from backoffice.settings import Settings
    from backoffice.storage.local import LocalStorage

    class KilledAfterChatWrite(LocalStorage):
        def put_bytes(self, key, data, **kwargs):
            etag = super().put_bytes(key, data, **kwargs)
            if "/chat/" in key:
                os.kill(os.getpid(), signal.SIGKILL)  # the job dies: no flag, no logout
            return etag

    settings = Settings()
    read_mail_replies(Context(settings, storage=KilledAfterChatWrite(settings.local_root, "http://127.0.0.1:1")))
""")


def test_reader_killed_mid_run_and_started_again(
    local_ctx: Context, settings_factory: Any, dovecot: Dovecot, smtp_to_imap: MailRoute, tmp_path: Path,  # noqa: F811
) -> None:
    ctx = _ctx(local_ctx, settings_factory, dovecot, smtp_to_imap.mailbox)
    assert isinstance(ctx.storage, LocalStorage)
    _concept(ctx)
    for n in range(2):
        _send(smtp_to_imap, _reply(f"bioimageiobot+{CID}@example.org", "Re: review", f"reply {n}"))
    env = {**os.environ, "PYTHONPATH": str(REPO), "BACKOFFICE_LOCAL_ROOT": str(ctx.settings.local_root),
           "BACKOFFICE_CONFIG_PATH": str(ctx.settings.config_path), "BACKOFFICE_COLLECTION_DIR": str(ctx.settings.collection_dir),
           "BACKOFFICE_IMAP_HOST": dovecot.host, "BACKOFFICE_IMAP_PORT": str(dovecot.port), "BACKOFFICE_IMAP_USER": IMAP_USER,
           "BACKOFFICE_IMAP_PASSWORD": IMAP_PASSWORD, "BACKOFFICE_IMAP_TLS": "false",
           "BACKOFFICE_IMAP_MAILBOX": smtp_to_imap.mailbox, "BACKOFFICE_MAIL_FROM": BOT, "BACKOFFICE_IMAP_AUTHSERV_ID": AUTHSERV}
    r = subprocess.run([sys.executable, "-c", KILLER], env=env, capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == -9, r.stderr  # SIGKILL, right after the first chat write
    assert [m.text for m in ctx.chat(CID).read()] == ["reply 0"]
    assert all(HANDLED_KEYWORD not in f for f in dovecot.flags(smtp_to_imap.mailbox))
    result = read_mail_replies(ctx)  # started again
    assert result.already == [(CID, JANE)] and result.added == [(CID, JANE)]
    assert sorted(m.text for m in ctx.chat(CID).read()) == ["reply 0", "reply 1"]  # same second: any order
    assert all(HANDLED_KEYWORD in f for f in dovecot.flags(smtp_to_imap.mailbox))
    assert json.loads(json.dumps([m.model_dump(mode="json") for m in ctx.chat(CID).read()]))[0]["via"] == "e-mail"


def test_missing_imap_settings_is_one_line_error(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_IMAP")}
    r = subprocess.run([sys.executable, "-m", "backoffice", "read-mail-replies"], env={**env, "PYTHONPATH": str(REPO)},
                       capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert r.returncode == ConfigError.exit_code and r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith("error: reading mail replies needs BACKOFFICE_IMAP_HOST")


def test_a_forged_sender_is_left_alone() -> None:
    """Anyone can write a reviewer's address into From: only the receiving server's own
    Authentication-Results count (topmost, its authserv-id, dmarc or aligned dkim pass)."""
    from email import message_from_bytes

    from backoffice.notify.reply_text import sender_authenticated

    def parsed(msg: EmailMessage) -> Any:
        return message_from_bytes(bytes(msg))

    good = parsed(_reply(BOT, "x", "hi", sender=REVIEWER_MAIL))
    assert sender_authenticated(good, AUTHSERV, REVIEWER_MAIL)
    assert not sender_authenticated(good, None, REVIEWER_MAIL)  # no server configured: nobody is trusted
    forged = parsed(_reply(BOT, "x", "hi", sender=REVIEWER_MAIL, authenticated=False))
    assert not sender_authenticated(forged, AUTHSERV, REVIEWER_MAIL)
    # a header the sender wrote, naming another server, or below ours saying fail
    spoof = _reply(BOT, "x", "hi", sender=REVIEWER_MAIL, authenticated=False)
    spoof["Authentication-Results"] = "evil.example; dmarc=pass header.from=example.org"
    assert not sender_authenticated(parsed(spoof), AUTHSERV, REVIEWER_MAIL)
    failed = _reply(BOT, "x", "hi", sender=REVIEWER_MAIL, authenticated=False)
    failed["Authentication-Results"] = f"{AUTHSERV}; dkim=none; dmarc=fail header.from=example.org"
    failed["Authentication-Results"] = f"{AUTHSERV}; dmarc=pass header.from=example.org"  # lower: injected by the sender
    assert not sender_authenticated(parsed(failed), AUTHSERV, REVIEWER_MAIL)
    other_domain = _reply(BOT, "x", "hi", sender=REVIEWER_MAIL, authenticated=False)
    other_domain["Authentication-Results"] = f"{AUTHSERV}; dkim=pass header.i=@attacker.example"
    assert not sender_authenticated(parsed(other_domain), AUTHSERV, REVIEWER_MAIL)

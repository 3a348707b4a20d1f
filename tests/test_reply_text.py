"""The pure parts of e-mail replies: reply tokens, quoted history, HTML, attachments."""

from __future__ import annotations

import email
from email.message import EmailMessage

import pytest

from backoffice.notify.reply_text import entry_name, html_to_text, limit, reply_content, strip_quoted
from backoffice.notify.tokens import concept_of_address, concept_of_subject, reply_address, subject_token

BOT = "bioimageiobot@gmail.com"


def test_reply_tokens_round_trip() -> None:
    assert reply_address(BOT, "affable-shark") == "bioimageiobot+affable-shark@gmail.com"
    assert reply_address("bot+x@example.org", "affable-shark") == "bot+affable-shark@example.org"
    assert concept_of_address("BioimageioBot+affable-shark@Gmail.com", BOT) == "affable-shark"
    assert concept_of_address("bioimageiobot@gmail.com", BOT) is None
    assert concept_of_address("someone+affable-shark@gmail.com", BOT) is None
    assert concept_of_address("bioimageiobot+affable-shark@other.org", BOT) is None
    assert concept_of_subject("Re: AW: [bioimage.io] x " + subject_token("calm-cat")) == "calm-cat"
    assert concept_of_subject("Re: [bioimage.io] affable-shark awaits review") is None


@pytest.mark.parametrize("quote", [
    "On Mon, 5 Jan 2026 at 10:00, Bot <bot@x.org> wrote:\n> old",
    "On Mon, 5 Jan 2026 at 10:00, Bot <bot@x.org>\nwrote:\n> old",
    "Am Mo., 5. Jan. 2026 um 10:00 Uhr schrieb Bot <bot@x.org>:\n> alt",
    "-----Original Message-----\nFrom: Bot\nold",
    "________________________________\nFrom: Bot <bot@x.org>\nSent: Monday\nold",
    "-- \nJane Doe, Lab of Things",
])
def test_quoted_history_and_signature_are_stripped(quote: str) -> None:
    assert strip_quoted(f"Done, thanks!\n\n{quote}\n") == "Done, thanks!"


def test_inline_quotes_dropped_answers_kept() -> None:
    text = "> Please add a cover.\nAdded one.\n> And the license?\nMIT now.\n\n\n\nBye"
    assert strip_quoted(text) == "Added one.\nMIT now.\n\nBye"


def test_html_to_text() -> None:
    html = "<html><head><style>p{}</style></head><body><p>A&nbsp;<i>b</i></p><ul><li>one</li><li>two</li></ul>" \
           "<script>x()</script><blockquote>quoted</blockquote></body></html>"
    assert strip_quoted(html_to_text(html)) == "A\xa0b\n\n- one\n\n- two"


def test_limit() -> None:
    assert limit("abc", 5) == "abc"
    cut = limit("abcdefgh" * 20, 60)
    assert len(cut) <= 60 and cut.startswith("abcdefgh") and cut.endswith("[... cut: the reply was longer than 60 characters]")


def test_plain_part_preferred_and_attachments_noted() -> None:
    msg = EmailMessage()
    msg["Message-ID"] = "<1@x>"
    msg.set_content("plain answer")
    msg.add_alternative("<p>html answer</p>", subtype="html")
    msg.add_attachment(b"%PDF", maintype="application", subtype="pdf", filename="paper.pdf")
    parsed = email.message_from_bytes(msg.as_bytes())
    content = reply_content(parsed)
    assert content.text == "plain answer\n\n[attachment dropped: paper.pdf (application/pdf, 4 bytes)]"
    assert entry_name(parsed, b"") == entry_name(email.message_from_bytes(msg.as_bytes()), b"other bytes")
    assert entry_name(parsed, b"").startswith("mail-")
    empty = EmailMessage()
    empty.set_content("")
    assert reply_content(email.message_from_bytes(empty.as_bytes())).text == "(no text)"

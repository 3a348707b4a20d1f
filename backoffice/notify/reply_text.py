"""What of an e-mail reply goes into the chat: pure functions, tested on their own.

The text part (or the HTML part converted to text), without the quoted history of
the mail it answers, limited in size; attachments are dropped with a note naming them.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from email.message import Message
from email.utils import getaddresses, parseaddr
from html.parser import HTMLParser

from ..records.message_text import check_message, clean_message

MAX_REPLY_CHARS = 5000
"""Longest reply text kept in the chat (longer ones are cut with a note)."""

_QUOTE_INTRO = [
    re.compile(r"^\s*On .{0,300}wrote:\s*$", re.IGNORECASE),  # most clients
    re.compile(r"^\s*Am .{0,300}schrieb .{0,200}:\s*$"),
    re.compile(r"^\s*Le .{0,300}a écrit\s*:\s*$"),
    re.compile(r"^\s*-{2,}\s*(Original Message|Ursprüngliche Nachricht|Message d'origine)\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*_{10,}\s*$"),  # Outlook's rule above the quoted header block
    re.compile(r"^\s*From:\s.+$"),  # a quoted header block without an intro line
]
_SIGNATURE = re.compile(r"^-- ?$")


class _HtmlText(HTMLParser):
    """HTML to plain text: block elements become line breaks; scripts, styles and quoted
    blocks (`<blockquote>`, Gmail's `gmail_quote`) are left out."""

    BLOCKS = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "table", "ul", "ol"}
    SKIP = {"script", "style", "head", "title", "blockquote"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skip_depth = 0
        self.stack: list[tuple[str, bool]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        quoted = any(k == "class" and v and "gmail_quote" in v for k, v in attrs)
        skipping = tag in self.SKIP or quoted
        if tag not in ("br", "img", "hr", "meta", "link", "input"):
            self.stack.append((tag, skipping))
            self.skip_depth += skipping
        if tag in self.BLOCKS and not self.skip_depth:
            self.parts.append("\n")
        if tag == "li" and not self.skip_depth:
            self.parts.append("- ")

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            open_tag, skipping = self.stack.pop()
            self.skip_depth -= skipping
            if open_tag == tag:
                break
        if tag in self.BLOCKS and not self.skip_depth:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.skip_depth:
            self.parts.append(re.sub(r"[ \t\r\n]+", " ", data))


def html_to_text(html: str) -> str:
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    lines = [line.strip() for line in "".join(parser.parts).splitlines()]
    return "\n".join(lines)


def strip_quoted(text: str) -> str:
    """The new part of a reply: up to the quoted history or the signature, `>` lines dropped."""
    out: list[str] = []
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    for i, line in enumerate(lines):
        two = line + " " + lines[i + 1] if i + 1 < len(lines) else line  # "On ..., X <x@y>\nwrote:"
        if _SIGNATURE.match(line) or any(p.match(line) for p in _QUOTE_INTRO):
            break
        if _QUOTE_INTRO[0].match(two) and not line.lstrip().startswith(">"):
            break
        if line.lstrip().startswith(">"):
            continue
        out.append(line.rstrip())
    text = "\n".join(out).strip()
    return re.sub(r"\n{3,}", "\n\n", text)


def limit(text: str, max_chars: int = MAX_REPLY_CHARS, named: int | None = None) -> str:
    """`text` in at most `max_chars` characters, the cut note (naming the limit `named`) included."""
    if len(text) <= max_chars:
        return text
    note = f"\n[... cut: the reply was longer than {named or max_chars} characters]"
    return text[: max(max_chars - len(note), 0)].rstrip() + note


@dataclass(frozen=True)
class ReplyContent:
    text: str
    """What goes into the chat."""
    dropped: list[str] = field(default_factory=list)
    """Attachments left out (name, type, size)."""


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = part.get_content_charset() or "utf-8"
    try:
        return payload.decode(charset, errors="replace")
    except LookupError:
        return payload.decode("utf-8", errors="replace")


def reply_content(msg: Message, max_chars: int = MAX_REPLY_CHARS) -> ReplyContent:
    """The chat text of a reply: text/plain preferred, else text/html converted."""
    plain: str | None = None
    html: str | None = None
    dropped: list[str] = []
    for part in msg.walk():
        if part.is_multipart():
            continue
        ctype = part.get_content_type()
        attachment = part.get_content_disposition() == "attachment"
        if not attachment and ctype == "text/plain" and plain is None:
            plain = _decoded(part)
        elif not attachment and ctype == "text/html" and html is None:
            html = _decoded(part)
        elif attachment or not ctype.startswith("text/"):
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else 0
            dropped.append(f"{part.get_filename() or '(unnamed)'} ({ctype}, {size} bytes)")
    body = plain if plain is not None else html_to_text(html) if html is not None else ""
    note = _attachment_note(dropped, max_chars // 5)
    text = limit(clean_message(strip_quoted(body)).strip(), max_chars - len(note), max_chars) or "(no text)"
    # the assembled text is what the CLI's chat would accept: no control characters, inside the limit
    return ReplyContent(check_message(text + note, "the e-mail reply", max_chars), dropped)


def _attachment_note(dropped: list[str], budget: int) -> str:
    """`[attachment dropped: ...]` lines within `budget` characters (the rest counted)."""
    if not dropped:
        return ""
    lines: list[str] = []
    for i, d in enumerate(dropped):
        line = f"[attachment dropped: {clean_message(d)[:200]}]"
        rest = f"[and {len(dropped) - i} more attachments dropped]"
        if len("\n\n" + "\n".join([*lines, line, rest])) > budget:
            lines.append(rest)
            break
        lines.append(line)
    return "\n\n" + "\n".join(lines)


def sender_authenticated(msg: Message, authserv_id: str | None, sender: str) -> bool:
    """Whether the receiving server `authserv_id` vouches for the From address (RFC 8601):
    its topmost `Authentication-Results` header says `dmarc=pass`, or `dkim=pass` with a
    signing domain equal to the sender's. Headers of other servers (a sender can write any)
    do not count; neither does a later header of the same server."""
    if not authserv_id:
        return False
    domain = sender.rsplit("@", 1)[-1].lower()
    for value in msg.get_all("Authentication-Results", []):
        text = _without_comments(" ".join(str(value).split()).lower())
        server, _, results = text.partition(";")
        if not server.strip() or server.split()[0] != authserv_id.lower():
            continue
        for result in results.split(";"):  # one method's result and its properties
            words = result.split()
            if not words:
                continue
            props = dict(w.split("=", 1) for w in words[1:] if "=" in w)
            if words[0] == "dmarc=pass" and props.get("header.from") == domain:
                return True
            if words[0] == "dkim=pass" and domain in (props.get("header.d"), props.get("header.i", "").lstrip("@").rsplit("@", 1)[-1]):
                return True
        return False
    return False


def _without_comments(text: str) -> str:
    """RFC 5322 comments `( ... )` (nested too) removed: a sender can put `dmarc=pass` in one."""
    previous = None
    while previous != text:
        previous, text = text, re.sub(r"\([^()]*\)", " ", text)
    return text


def sender_of(msg: Message) -> str | None:
    """The sender's address, lower-cased."""
    _, address = parseaddr(str(msg.get("From", "")))
    return address.strip().lower() or None


def recipients_of(msg: Message) -> list[str]:
    headers = [str(v) for h in ("To", "Cc", "Delivered-To", "X-Original-To") for v in msg.get_all(h, [])]
    return [a for _, a in getaddresses(headers) if a]


def entry_name(msg: Message, raw: bytes) -> str:
    """The chat entry name of a mail: from its Message-ID (else its bytes), the same on every run."""
    message_id = str(msg.get("Message-ID", "")).strip()
    basis = message_id.encode() if message_id else raw
    return "mail-" + hashlib.sha256(basis).hexdigest()[:32]

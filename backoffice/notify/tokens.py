"""The reply token of notification mails: how a reply finds its concept again.

Every notification carries it twice (see docs/mail_replies.md):
- `Reply-To: <bot local part>+<concept id>@<bot domain>` — a plus-address of the
  sender address; replies go to the bot's mailbox with the concept in the address;
- the subject ends with `[bioimage.io:<concept id>]` — kept by mail clients in
  `Re: ...`, and the fallback when a client or forwarder drops the plus-address.
"""

from __future__ import annotations

import re

SUBJECT_TOKEN = re.compile(r"\[bioimage\.io:([a-z][a-z-]*[a-z])\]")


def subject_token(concept_id: str) -> str:
    return f"[bioimage.io:{concept_id}]"


def reply_address(mail_from: str, concept_id: str) -> str | None:
    """`local+<concept>@domain` of the sender address (None if it is not an address)."""
    local, at, domain = mail_from.strip().rpartition("@")
    if not at or not local or not domain:
        return None
    return f"{local.split('+', 1)[0]}+{concept_id}@{domain}"


def concept_of_address(address: str, mail_from: str) -> str | None:
    """The concept id of a plus-address of `mail_from`, else None."""
    local, at, domain = address.strip().lower().rpartition("@")
    bot_local, _, bot_domain = mail_from.strip().lower().rpartition("@")
    if not at or domain != bot_domain or "+" not in local:
        return None
    base, _, tag = local.partition("+")
    if base != bot_local.split("+", 1)[0] or not re.fullmatch(r"[a-z][a-z-]*[a-z]", tag):
        return None
    return tag


def concept_of_subject(subject: str) -> str | None:
    m = SUBJECT_TOKEN.search(subject)
    return m.group(1) if m else None

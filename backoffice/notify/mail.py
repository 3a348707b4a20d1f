"""E-mail to the uploader: their draft awaits review, needs changes, or is published.

Messages are rendered from jinja2 templates `backoffice/templates/mail/<event>.txt.j2`
(first line `Subject: ...`, then a blank line, then the body) in a sandboxed
environment and sent through SMTP with the `mail_*` settings.

Each message carries a reply token (a `Reply-To` plus-address and a subject tag,
see `tokens.py`): `backoffice read-mail-replies` puts the answers into the chat.

Sending is best effort: no address or no mail host means no mail, and a failed send
is logged as a warning — it never fails the step that triggered it. Every attempt
is recorded in the concept's log (recipient and event; never a secret).
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
from email.message import EmailMessage
from collections.abc import Mapping
from email.utils import formatdate, make_msgid
from importlib.resources import files
from typing import Any, Literal, get_args

from jinja2 import BaseLoader, StrictUndefined, TemplateNotFound
from jinja2.sandbox import SandboxedEnvironment

from ..context import Context
from ..records import keys
from ..records.concept import ReportBrief
from .tokens import reply_address, subject_token

logger = logging.getLogger("backoffice.notify")

MailEvent = Literal["awaiting_review", "changes_requested", "published", "validation_failed"]
MAIL_EVENTS: tuple[str, ...] = get_args(MailEvent)

SMTP_TIMEOUT = 30.0
"""Seconds to wait for the SMTP server (connect and each command)."""

_EMAIL = re.compile(r"^[^@\s<>(),;:\"\[\]]+@[^@\s<>(),;:\"\[\]]+\.[^@\s<>(),;:\"\[\]]+$")


def is_email(value: str | None) -> bool:
    """Whether `value` is a plain e-mail address (`name@domain.tld`)."""
    return value is not None and _EMAIL.fullmatch(value.strip()) is not None


def recipient_of(uploader: str | None, uploader_email: str | None) -> str | None:
    """The uploader if it is an e-mail address (verified by whoever vouched for the upload).
    An uploader known by another identity (`github|<id>`) gets no mail: the e-mail in the
    uploaded description is the uploader's word, and could be anyone's. Only a draft staged
    without an uploader (by a maintainer) is mailed to the description's address."""
    if uploader is not None:
        return uploader.strip() if is_email(uploader) else None
    return uploader_email.strip() if uploader_email and is_email(uploader_email) else None


class _PackageLoader(BaseLoader):
    """Loads `templates/mail/<name>` from the backoffice package (works installed or not)."""

    def get_source(self, environment: Any, template: str) -> tuple[str, None, Any]:
        if "/" in template or "\\" in template or template.startswith("."):
            raise TemplateNotFound(template)
        resource = files("backoffice") / "templates" / "mail" / template
        if not resource.is_file():
            raise TemplateNotFound(template)
        return resource.read_text(encoding="utf-8"), None, lambda: True


_env = SandboxedEnvironment(
    loader=_PackageLoader(),
    autoescape=False,  # plain text
    undefined=StrictUndefined,
    keep_trailing_newline=True,
)


def render_mail(event: str, **values: Any) -> tuple[str, str]:
    """(subject, body) of `event` rendered with `values`; the body ends with a newline."""
    text = _env.get_template(f"{event}.txt.j2").render(**values)
    head, sep, body = text.partition("\n")
    if not head.startswith("Subject:") or not sep:
        raise ValueError(f"mail template '{event}' must start with a 'Subject:' line")
    subject = " ".join(head[len("Subject:") :].split())
    body = body.lstrip("\n").rstrip() + "\n"
    return subject, body


def test_lines(tests: Mapping[str, ReportBrief] | None) -> list[str]:
    """One line per weight format tested: outcome, both verdicts, the hardware each gave its verdict on."""
    lines: list[str] = []
    for _, t in sorted((tests or {}).items(), key=lambda nt: (nt[1].weight_format or "", nt[0])):
        if not t.weight_format or t.tool != "bioimageio.core":
            continue
        line = f"{t.weight_format}: {t.status}"
        if t.runs is not None or t.reproduces is not None:
            reproduces = "yes" if t.reproduces else "no" if t.reproduces is False else "not known"
            line += f" (runs: {'yes' if t.runs else 'no'}, reproduces: {reproduces})"
        others = {hw: o for hw, o in t.by_hardware.items() if hw != t.hardware}
        if t.hardware:
            line += f" on {t.hardware}" + "".join(f"; {o} on {hw}" for hw, o in sorted(others.items()))
        lines.append(line)
    return lines


def _redact(text: str, secrets: list[str]) -> str:
    for s in secrets:
        if s:
            text = text.replace(s, "***")
    return text


def _record(ctx: Context, concept_id: str, message: str, *, subject: str, details: dict[str, Any]) -> None:
    try:
        ctx.record_step(concept_id, "notify", message, subject=subject, details=details)
    except Exception as e:  # the log must not fail the step either
        logger.warning("could not log the notification of '%s': %s", concept_id, type(e).__name__)


def notify_uploader(
    ctx: Context,
    concept_id: str,
    event: MailEvent,
    *,
    version: str | None,
    reason: str | None = None,
    url: str | None = None,
    uploader: str | None,
    uploader_email: str | None,
    version_assigned: bool = False,
    tests: Mapping[str, ReportBrief] | None = None,
) -> bool:
    """E-mail the uploader about `event`; returns whether a message was sent. Never raises."""
    settings = ctx.settings
    secrets = settings.secret_values()
    log_subject = version if event == "published" and version else "draft"
    recipient = recipient_of(uploader, uploader_email)
    details: dict[str, Any] = {"event": event, "recipient": recipient, "sent": False}

    if recipient is None:
        logger.info("no e-mail about '%s' (%s): no address for uploader %s", concept_id, event, uploader or "(unknown)")
        details["skipped"] = "no e-mail address"
        _record(ctx, concept_id, f"no e-mail ({event}): no address for the uploader", subject=log_subject, details=details)
        return False
    if not settings.mail_host:
        logger.info("no e-mail about '%s' (%s) to %s: no mail host configured", concept_id, event, recipient)
        details["skipped"] = "no mail host"
        _record(ctx, concept_id, f"no e-mail ({event}) to {recipient}: no mail host configured", subject=log_subject, details=details)
        return False

    try:
        if event not in MAIL_EVENTS:
            raise ValueError(f"unknown mail event '{event}'")
        subject, body = render_mail(
            event,
            concept_id=concept_id,
            version=version,
            reason=reason,
            url=url,
            version_assigned=version_assigned,
            tests=test_lines(tests),
            drafts_url=ctx.storage.public_url(keys.COLLECTION_DRAFT_JSON),
        )
        msg = EmailMessage()
        msg["From"] = settings.mail_from
        msg["To"] = recipient
        subject = f"{subject} {subject_token(concept_id)}"  # the reply token (see tokens.py)
        msg["Subject"] = subject
        reply_to = reply_address(settings.mail_from, concept_id)
        if reply_to:
            msg["Reply-To"] = reply_to
        msg["Date"] = formatdate(localtime=False, usegmt=True)
        msg["Message-ID"] = make_msgid(domain="bioimage.io")
        msg.set_content(body)

        with smtplib.SMTP(settings.mail_host, settings.mail_port, timeout=SMTP_TIMEOUT) as smtp:
            smtp.ehlo()
            if settings.mail_starttls:
                smtp.starttls(context=ssl.create_default_context())
                smtp.ehlo()
            password = settings.mail_password.get_secret_value() if settings.mail_password else ""
            if settings.mail_user and password:
                smtp.login(settings.mail_user, password)
            smtp.send_message(msg)
    except Exception as e:  # a failed mail never fails the step
        error = _redact(f"{type(e).__name__}: {e}", secrets)
        logger.warning("e-mail about '%s' (%s) to %s failed: %s", concept_id, event, recipient, error)
        details["error"] = error
        _record(ctx, concept_id, f"e-mail ({event}) to {recipient} failed: {error}", subject=log_subject, details=details)
        return False

    logger.info("e-mailed %s about '%s' (%s)", recipient, concept_id, event)
    details["sent"] = True
    details["subject"] = subject
    _record(ctx, concept_id, f"e-mail ({event}) sent to {recipient}", subject=log_subject, details=details)
    return True

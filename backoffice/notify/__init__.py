"""Notifications to uploaders (e-mail)."""

from .mail import MailEvent, notify_uploader

__all__ = ["MailEvent", "notify_uploader"]

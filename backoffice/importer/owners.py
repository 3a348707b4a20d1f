"""Who owns an imported concept: the uploaders and GitOps-era owners upstream knows, never the
collection's own bot; rdf maintainers known only by a GitHub login are named, not owners who act."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, cast

from .loaded import LoadedItem, LoadedVersion, nickname_of
from .models import GitopsEntry


BOT_PARTNER_SEPARATOR = ":"
"""Partner applications' ids hold it; their rdfs are uploaded by the running collection's bot."""


def bot_addresses(items: Sequence[LoadedItem], configured: Sequence[str]) -> set[str]:
    """E-mail addresses that are the collection's own bot, never an owner who gets mail: the
    configured sender (`mail_from`), and the uploader of the running collection's partner
    applications (which its bot uploads: `bioimageiobot@gmail.com`)."""
    out = {a.strip().lower() for a in configured if a and "@" in a}
    for loaded in items:
        if BOT_PARTNER_SEPARATOR in nickname_of(loaded.item):
            for v in loaded.versions:
                email = _uploader(v)
                if email:
                    out.add(email.lower())
    return out


def _uploader(v: LoadedVersion) -> str | None:
    uploader: Any = (v.summary.rdf_content.get("uploader") if v.summary else None) or {}
    email: Any = cast(dict[str, Any], uploader).get("email") if isinstance(uploader, dict) else None
    return email if isinstance(email, str) and "@" in email else None


def _maintainers(v: LoadedVersion) -> list[str]:
    listed: Any = v.summary.rdf_content.get("maintainers") if v.summary else None
    out: list[str] = []
    for m in cast(list[Any], listed) if isinstance(listed, list) else []:
        login: Any = cast(dict[str, Any], m).get("github_user") if isinstance(m, dict) else None
        if isinstance(login, str) and login.strip():
            out.append(login.strip())
    return out


def owners_of(first: LoadedItem, gitops: GitopsEntry | None, bots: set[str]) -> list[str]:
    out: list[str] = []
    for v in first.versions:
        email = _uploader(v)
        if email and email.lower() not in bots and email not in out:
            out.append(email)
    for o in gitops.owners if gitops else []:
        if f"zenodo|{o}" not in out:
            out.append(f"zenodo|{o}")
    return out


NAMED_OWNER = "github-user|"
"""Prefix of an owner known only by a GitHub login (an rdf's maintainer): shown, cannot act."""


def named_owners(loaded: LoadedItem) -> list[str]:
    return list(dict.fromkeys(f"{NAMED_OWNER}{login}" for v in loaded.versions for login in _maintainers(v)))

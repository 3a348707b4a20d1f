"""Zenodo metadata from a resource description: a pure function (see docs/backup.md)."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from datetime import date
from typing import Any, cast

from ..resource_types import RESOURCE_KINDS

PAGE_URL = "https://bioimage.io/#/?id={id}"
"""The bioimage.io page of a concept; also the mark by which a backup finds its own drafts."""


COLLECTION_KEYWORD = "bioimage.io"
PAGE_RELATION = "isPartOf"
CITE_RELATION = "cites"

_DOI = re.compile(r"^(?:https?://(?:dx\.)?doi\.org/|doi:)?(10\.\d{4,9}/\S+)$", re.IGNORECASE)
_ORCID = re.compile(r"(\d{4}-\d{4}-\d{4}-\d{3}[\dX])$")


OVERRIDABLE = ("name", "description", "tags", "authors", "license")
"""Fields of `collection/<id>.yaml`'s `overrides` that also apply to the Zenodo metadata."""


def with_overrides(rdf: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """The description with the declared display overrides applied (how a reviewer fixes
    metadata Zenodo refused, since published files never change)."""
    return {**rdf, **{k: v for k, v in overrides.items() if k in OVERRIDABLE and v is not None}}


def page_url(concept_id: str) -> str:
    return PAGE_URL.format(id=concept_id)


def normalize_doi(value: str) -> str | None:
    """`10.x/y`, `doi:10.x/y` or a doi.org URL -> `10.x/y`; None for anything else."""
    m = _DOI.match(value.strip())
    return m.group(1) if m else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


def creators(authors: Any) -> list[dict[str, str]]:
    """Zenodo creators from the description's authors (name, affiliation, ORCID)."""
    out: list[dict[str, str]] = []
    if not isinstance(authors, list):
        return out
    for a in authors:  # pyright: ignore[reportUnknownVariableType]
        if isinstance(a, str):
            if a.strip():
                out.append({"name": a.strip()})
            continue
        if not isinstance(a, Mapping):
            continue
        author: Mapping[str, Any] = a  # pyright: ignore[reportUnknownVariableType]
        name = _text(author.get("name"))
        if not name:
            continue
        entry = {"name": name}
        if affiliation := _text(author.get("affiliation")):
            entry["affiliation"] = affiliation
        if m := _ORCID.search(_text(author.get("orcid"))):
            entry["orcid"] = m.group(1)
        out.append(entry)
    return out


def keywords(tags: Any) -> list[str]:
    """The description's tags plus `bioimage.io`, without duplicates, in order."""
    out: list[str] = []
    for t in [*(tags if isinstance(tags, list) else []), COLLECTION_KEYWORD]:  # pyright: ignore[reportUnknownVariableType]
        if isinstance(t, str) and t.strip() and t.strip() not in out:
            out.append(t.strip())
    return out


def related_identifiers(concept_id: str, cite: Any) -> list[dict[str, str]]:
    """The bioimage.io page (`isPartOf`) and the DOIs of the description's cite entries (`cites`)."""
    out = [{"identifier": page_url(concept_id), "relation": PAGE_RELATION, "resource_type": "other"}]
    seen: set[str] = set()
    for c in cite if isinstance(cite, list) else []:  # pyright: ignore[reportUnknownVariableType]
        if not isinstance(c, Mapping):
            continue
        entry: Mapping[str, Any] = c  # pyright: ignore[reportUnknownVariableType]
        doi = normalize_doi(_text(entry.get("doi")))
        if doi and doi not in seen:
            seen.add(doi)
            out.append({"identifier": doi, "relation": CITE_RELATION})
    return out


def description_html(concept_id: str, resource_type: str, version: str, rdf: Mapping[str, Any]) -> str:
    page = page_url(concept_id)
    text = _text(rdf.get("description")) or _text(rdf.get("name")) or concept_id
    return (
        f"<p>{html.escape(text)}</p>"
        f"<p>This is version {html.escape(version)} of the {html.escape(resource_type)} "
        f"<a href=\"{html.escape(page)}\">{html.escape(concept_id)}</a> in the "
        f"<a href=\"https://bioimage.io\">bioimage.io</a> collection (BioImage Model Zoo).</p>"
    )


def zenodo_metadata(
    concept_id: str, resource_type: str, version: str, rdf: Mapping[str, Any], published: date
) -> dict[str, Any]:
    """The `metadata` of a Zenodo deposition for one published version."""
    meta: dict[str, Any] = {
        "upload_type": kind.zenodo_upload_type if (kind := RESOURCE_KINDS.get(resource_type)) else "other",
        "title": _text(rdf.get("name")) or concept_id,
        "description": description_html(concept_id, resource_type, version, rdf),
        "creators": creators(rdf.get("authors")),
        "keywords": keywords(rdf.get("tags")),
        "related_identifiers": related_identifiers(concept_id, rdf.get("cite")),
        "version": version,
        "publication_date": published.isoformat(),
        "access_right": "open",
    }
    if license_id := _text(rdf.get("license")):
        meta["license"] = license_id.lower()
    return meta


def is_draft_of(deposition: Mapping[str, Any], concept_id: str) -> bool:
    """Whether a deposition carries the concept's bioimage.io page as related identifier."""
    meta: Any = deposition.get("metadata")
    related: Any = cast(Mapping[str, Any], meta).get("related_identifiers") if isinstance(meta, Mapping) else None
    if not isinstance(related, list):
        return False
    page = page_url(concept_id)
    entries = cast(list[Any], related)
    return any(isinstance(r, Mapping) and cast(Mapping[str, Any], r).get("identifier") == page for r in entries)

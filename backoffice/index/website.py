"""What the bioimage.io website and older clients read besides the basic entry: author
objects, uploader, badges, `<tool>-compatible` tags, the top-level `config`,
all_versions.json, `<concept>/versions.json` and the id_map aliases. Pure functions."""

from __future__ import annotations

import re

from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from ..config.collection_config import CollectionConfig, Partner
from ..resource_types import RESOURCE_TYPES
from ..config.curation import CurationDecl
from ..log import logger
from ..records import keys
from ..records.concept import ConceptRecord, VersionRecord
from ..records.imported import LegacyConcept
from ..records.tool_report import is_https_url
from .models import (
    Author,
    LinkBadge,
    TrainingData,
    Uploader,
    WebsiteConfig,
    WebsitePartner,
)

UrlOf = Callable[[str], str]
"""Public URL of a storage key."""


def maybe_file_url(url_of: UrlOf, files_prefix: str, value: str | None) -> str | None:
    """A file name becomes its URL; URLs, emoji and other text stay as they are."""
    if not value or "://" in value or not value.isascii() or not ("." in value or "/" in value):
        return value
    return url_of(files_prefix + value)


def _https_or_none(value: str | None) -> str | None:
    """A badge icon the description gives: a URL only when it is https; a file name or text (an emoji) stays."""
    if value is None or not re.match(r"^\s*[A-Za-z][A-Za-z0-9+.-]*:", value):
        return value
    return value if is_https_url(value) else None


def authors(given: list[Any], details: list[Any]) -> list[Author]:
    """Author objects: the description's details, or names (from an override or an old record)."""
    if details and [d.name for d in details] == list(given):
        return [Author(**d.model_dump()) for d in details]
    return [Author(name=str(n)) for n in given]


_NOT_IMPORTED = LegacyConcept(source="", imported=datetime(1970, 1, 1, tzinfo=timezone.utc))


def download_count(record: ConceptRecord, decl: CurationDecl) -> int | None:
    """The earlier collection's count (imported into the record, else declared) plus the
    downloads counted from the access logs; None when neither is known."""
    d = record.downloads
    declared = decl.legacy.download_count
    if d is None:
        return declared
    return (d.legacy or declared or 0) + d.counted


def website_fields(record: ConceptRecord, latest: VersionRecord, decl: CurationDecl, url_of: UrlOf) -> dict[str, Any]:
    """The fields the bioimage.io website reads besides the basic display fields."""
    s = latest.summary
    files = keys.version_files(record.id, latest.version, latest.content)
    email = latest.uploader if latest.uploader and "@" in latest.uploader else s.uploader_email
    imported = record.legacy or _NOT_IMPORTED
    nickname = decl.legacy.nickname or s.nickname or (record.id if record.legacy else None)
    if nickname == record.id and not record.legacy:
        nickname = None
    return {
        "uploader": Uploader(id=latest.uploader, email=email, name=s.uploader_name)
        if latest.uploader or email or s.uploader_name else None,
        "badges": [LinkBadge(label=b.label, icon=maybe_file_url(url_of, files, _https_or_none(b.icon)),
                             url=b.url if is_https_url(b.url) else None) for b in s.badges],
        "icon": maybe_file_url(url_of, files, s.icon),
        "links": s.links,
        "training_data": TrainingData(id=s.training_data) if s.training_data else None,
        "root_url": url_of(files + "rdf.yaml").rsplit("/", 1)[0],
        "source": maybe_file_url(url_of, files, s.source),
        "download_count": download_count(record, decl),
        "downloads_by_tool": dict(record.downloads.tools) if record.downloads else {},
        "nickname": nickname,
        "nickname_icon": (decl.legacy.nickname_icon or s.nickname_icon or imported.nickname_icon) if nickname else None,
    }


DOI = re.compile(r"^10\.\d{4,9}/")
"""What a DOI looks like (`10.<registrant>/<suffix>`)."""


def plan_aliases(record: ConceptRecord, listed: list[VersionRecord], decl: CurationDecl, *, latest: str | None = "") -> dict[str, str]:
    """Other ids that resolve to a listed version of `record`: alias -> version.

    From weakest to strongest (a stronger one takes an alias a weaker one gave): the
    description's own `id` where it differs from the concept id and is not a DOI (newer
    versions over older, yanked ones never), legacy ids and the legacy nickname declared in `collection/` (-> latest), the concept DOI (-> latest),
    each version DOI (-> that version). Whether an alias may shadow another concept is
    decided in `assemble` (never). `latest` is what the concept-level aliases give (default:
    the newest listed version; None: nothing, every version being yanked).
    """
    if latest == "":
        latest = listed[-1].version
    out: dict[str, str] = {}
    for v in listed:
        if decl.yank_reason(v.version) is not None:
            continue  # a yanked version is never what a name of the concept gives, the description's own `id` included
        d = v.summary.declared_id
        # an upload may not claim a DOI (it could be another concept's): DOIs come from the
        # records (the Zenodo backup) and from reviewers' `legacy.ids` only
        if d and d != record.id and not d.startswith(record.id + "/") and not DOI.match(d):
            out[d] = v.version
    imported = record.legacy.ids if record.legacy else []
    for alias in (*imported, *decl.legacy.ids, decl.legacy.nickname):  # declared by reviewers or imported, not by the upload
        if alias and alias != record.id and latest:
            out[alias] = latest
    if record.concept_doi and latest:
        out[record.concept_doi] = latest
    for v in listed:
        for old in v.legacy.ids if v.legacy else ():  # older GitOps-era record DOIs -> this version
            out[old] = v.version
    for v in listed:
        if v.doi:
            out[v.doi] = v.version
    return out


def website_partner(p: Partner) -> WebsitePartner:
    d = p.display
    return WebsitePartner(
        id=p.id, name=p.name, logo=p.logo, icon=d.icon or p.logo, docs=p.docs,
        splash_title=d.splash_title or p.name, splash_subtitle=d.splash_subtitle,
        splash_feature_list=d.splash_feature_list, background_image=d.background_image,
        explore_button_text=d.explore_button_text, resource_types=list(p.resource_types),
        default_type=d.default_type or (p.resource_types[0] if p.resource_types else "model"), tags=d.tags,
    )


def website_config(config: CollectionConfig, entries: list[dict[str, Any]], url_root: str) -> dict[str, Any]:
    """collection.json `config`: the template's settings, counts per type, url_root and partners."""
    template = dict(config.collection_template.config)
    n_resources = {t: 0 for t in RESOURCE_TYPES}
    n_versions = {t: 0 for t in RESOURCE_TYPES}
    for e in entries:
        n_resources[e["type"]] += 1
        n_versions[e["type"]] += len(e["versions"])
    present = [t for t in RESOURCE_TYPES if n_resources[t]]
    return WebsiteConfig(
        **{k: v for k, v in template.items() if k not in WebsiteConfig.model_fields},
        n_resources=n_resources,
        n_resource_versions=n_versions,
        resource_types=present or [str(template.get("default_type") or "model")],
        url_root=url_root,
        partners=[website_partner(p) for p in config.partners],
    ).model_dump(mode="json")


def _yanked(v: Mapping[str, Any]) -> dict[str, Any]:
    """`yanked: <reason>` for a yanked version; nothing otherwise (the files stay as they were)."""
    return {"yanked": v["yanked"]} if v.get("yanked") else {}


def all_versions(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """all_versions.json (`AllVersionsJson`) from collection entries (plain dicts: this runs on
    every index generation; `plan_index` validates it against the model)."""
    return {"entries": [
        {"concept": e["id"], "type": e["type"], "concept_doi": e.get("concept_doi"),
         "versions": [{"v": v["version"], "created": v["created"], "doi": v.get("doi"), "source": v["rdf_source"],
                       "sha256": v["rdf_sha256"], **_yanked(v)} for v in e["versions"]]}
        for e in entries
    ]}


def versions_file(e: dict[str, Any] | None) -> dict[str, Any]:
    """`<concept>/versions.json` (`VersionsJson`) of one concept from its entry (no versions when nothing is listed)."""
    if e is None:
        return {"concept_doi": None, "versions": []}
    return {"concept_doi": e.get("concept_doi"),
            "versions": [{"v": v["version"], "created": v["created"], "doi": v.get("doi"), **_yanked(v)} for v in e["versions"]]}


def record_dois(entries: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """DOI -> the concept whose record holds it (its concept DOI, a version's DOI), from collection entries."""
    out: dict[str, str] = {}
    for e in entries:
        for doi in (e.get("concept_doi"), *(v.get("doi") for v in e.get("versions", []))):
            if isinstance(doi, str) and doi:
                out.setdefault(doi, e["id"])
    return out


def _doi_owner(alias: str, dois: Mapping[str, str]) -> str | None:
    """The concept whose record DOI `alias` is, or starts with (`<concept DOI>/<record id>`), else None."""
    key = alias
    while True:
        if key in dois:
            return dois[key]
        if "/" not in key:
            return None
        key = key.rsplit("/", 1)[0]


def merge_id_maps(ids: Mapping[str, Mapping[str, Any]], dois: Mapping[str, str] | None = None) -> dict[str, Any]:
    """id_map.json from per-concept ids. Real ids (`<concept>`, `<concept>/<version>`) always win:
    an alias equal to a concept id (listed or not), of the form `<concept>/...`, or naming
    another concept in any part (`bioimage-io/<other concept>`) is dropped; so is an alias that
    is another concept's record DOI or starts with its concept DOI (`dois`, from `record_dois`:
    an imported rdf's own `id` must not take another concept's DOI);
    an alias claimed by two concepts goes to the one whose id sorts first."""
    dois = dois or {}
    id_map: dict[str, Any] = {}
    aliases: list[tuple[str, str, Any]] = []
    for c in sorted(ids):
        for k, v in ids[c].items():
            if k == c or k.startswith(c + "/"):
                id_map[k] = v
            else:
                aliases.append((c, k, v))
    for c, k, v in aliases:
        # an alias naming another concept in any part (`bioimage-io/<other concept>`, the running
        # collection's form) is that concept's name: an upload's own `id` must not take it
        if (k in ids or any(part in ids and part != c for part in k.split("/")) or k.split("/", 1)[0] in ids or k in id_map
                or _doi_owner(k, dois) not in (None, c)):
            logger.warning("id_map: alias '%s' of '%s' is not used: '%s' is taken already", k, c, k)
            continue
        id_map[k] = v
    return id_map

"""Read the raw description (`rdf.yaml`): its type, id, version and display fields,
and write the concept id into it. Full validation is bioimageio.spec's job
(`validate-format`); this only needs the fields staging relies on."""

from __future__ import annotations

import io
import re
from typing import Any, cast

from ruamel.yaml import YAML

from .resource_types import RESOURCE_TYPES, ResourceType
from .errors import PackageError
from .records.concept import BadgeSummary, PersonSummary, ResourceSummary
from .util.yaml_guard import YamlRefused, load_yaml


def _yaml() -> YAML:
    y = YAML(typ="rt")
    y.preserve_quotes = True
    y.width = 4096
    return y


def parse_description(data: bytes, name: str = "rdf.yaml") -> dict[str, Any]:
    """Parse YAML into a mapping (round-trip, so it can be written back unchanged)."""
    try:
        content: Any = load_yaml(data, name, loader=_yaml())  # the guard first: a YAML bomb is never expanded
    except YamlRefused as e:
        raise PackageError(str(e)) from None
    if not isinstance(content, dict):
        raise PackageError(f"{name} does not hold a mapping of fields")
    return cast(dict[str, Any], content)


def resource_type(content: dict[str, Any], name: str = "rdf.yaml") -> ResourceType:
    rtype = content.get("type")
    if rtype not in RESOURCE_TYPES:
        raise PackageError(
            f"{name}: type '{rtype}' is not one the collection accepts ({', '.join(RESOURCE_TYPES)})"
        )
    return rtype


def declared_id(content: dict[str, Any]) -> str | None:
    """The `id` the description gives, without any `/version` suffix (None for a DOI)."""
    value = content.get("id")
    if not value or not isinstance(value, str):
        return None
    if re.match(r"^10\.[0-9]{4,}/", value):
        return None  # a DOI of the earlier collection is no concept id: it stays an id_map alias
    return value.split("/", 1)[0]


def with_concept_id(content: dict[str, Any], concept_id: str, *, version: str | None = None) -> bytes:
    """The description serialised with `id` set to the concept id (and `version` set, if given)."""
    content["id"] = concept_id
    if version is not None:
        content["version"] = version
    buf = io.StringIO()
    _yaml().dump(content, buf)  # pyright: ignore[reportUnknownMemberType]  # ruamel's stream types are hidden behind `if False:`
    return buf.getvalue().encode("utf-8")


def _names(items: Any) -> list[str]:
    out: list[str] = []
    if isinstance(items, list):
        for a in cast(list[Any], items):
            if isinstance(a, dict):
                name = cast(dict[str, Any], a).get("name")
                if name:
                    out.append(str(name))
            elif isinstance(a, str):
                out.append(a)
    return out


def _scalar_text(value: Any) -> str:
    """A scalar as written in the YAML (`version: 1.10` stays "1.10", not 1.1)."""
    if isinstance(value, float):
        buf = io.StringIO()
        _yaml().dump(value, buf)  # pyright: ignore[reportUnknownMemberType]  # ruamel's stream types are hidden behind `if False:`
        return buf.getvalue().splitlines()[0].strip()
    return str(value)


def _source(value: Any) -> str | None:
    """A file reference: a plain string or a `{source: ..., sha256: ...}` mapping."""
    if isinstance(value, dict):
        value = cast(dict[str, Any], value).get("source")
    return None if value is None else str(value)


def _weight_files(weights: Any) -> list[str]:
    """File names of the weight entries (`weights: <format>: source:`), relative ones only."""
    out: list[str] = []
    entries: list[Any] = list(cast(dict[str, Any], weights).values()) if isinstance(weights, dict) else []
    for entry in entries:
        name = _source(entry)
        if name and "://" not in name and name not in out:
            out.append(name)
    return out


def _email(content: dict[str, Any]) -> str | None:
    uploader = content.get("uploader")
    if isinstance(uploader, dict) and cast(dict[str, Any], uploader).get("email"):
        return str(cast(dict[str, Any], uploader)["email"])
    for group in ("maintainers", "authors"):
        people: Any = content.get(group) or []
        for person in people:
            if isinstance(person, dict) and cast(dict[str, Any], person).get("email"):
                return str(cast(dict[str, Any], person)["email"])
    return None


def _text(value: Any) -> str | None:
    return None if value is None or isinstance(value, (dict, list)) else str(value)


def _mapping(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _people(items: Any) -> list[PersonSummary]:
    out: list[PersonSummary] = []
    for a in cast(list[Any], items) if isinstance(items, list) else []:
        m = _mapping(a)
        name = _text(m.get("name")) if m else _text(a)
        if name:
            out.append(PersonSummary(name=name, affiliation=_text(m.get("affiliation")), orcid=_text(m.get("orcid")),
                                     github_user=_text(m.get("github_user"))))
    return out


def _badges(items: Any) -> list[BadgeSummary]:
    out: list[BadgeSummary] = []
    for b in cast(list[Any], items) if isinstance(items, list) else []:
        m = _mapping(b)
        label = _text(m.get("label"))
        if label:
            out.append(BadgeSummary(label=label, icon=_source(m.get("icon")), url=_text(m.get("url"))))
    return out


def _extras(content: dict[str, Any]) -> dict[str, Any]:
    """Display fields the website reads besides the basic ones (tolerant of any shape)."""
    links = content.get("links")
    bioimageio = _mapping(_mapping(content.get("config")).get("bioimageio"))
    raw_id = content.get("id")
    return {
        "author_details": _people(content.get("authors")),
        "uploader_name": _text(_mapping(content.get("uploader")).get("name")),
        "badges": _badges(content.get("badges")),
        "icon": _source(content.get("icon")),
        "links": [str(x) for x in cast(list[Any], links) if _text(x)] if isinstance(links, list) else [],
        "training_data": _text(_mapping(content.get("training_data")).get("id")),
        "source": _text(content.get("source")),
        "declared_id": _text(raw_id) if raw_id else None,
        "nickname": _text(bioimageio.get("nickname")),
        "nickname_icon": _text(bioimageio.get("nickname_icon")),
    }


def summarize(content: dict[str, Any]) -> ResourceSummary:
    """Display fields of a description (tolerant: missing fields stay empty)."""
    weights = content.get("weights")
    covers = content.get("covers")
    tags = content.get("tags")
    version = content.get("version")
    return ResourceSummary(
        name=str(content.get("name") or ""),
        description=str(content.get("description") or ""),
        version=None if version is None else _scalar_text(version),
        tags=[str(t) for t in cast(list[Any], tags)] if isinstance(tags, list) else [],
        authors=_names(content.get("authors")),
        covers=[c for c in map(_source, cast(list[Any], covers)) if c] if isinstance(covers, list) else [],
        license=None if content.get("license") is None else str(content.get("license")),
        documentation=_source(content.get("documentation")),
        weight_formats=list(cast(dict[str, Any], weights)) if isinstance(weights, dict) else [],
        weight_files=_weight_files(weights),
        format_version=None if content.get("format_version") is None else str(content.get("format_version")),
        uploader_email=_email(content),
        **_extras(content),
    )


def set_thumbnails(content: dict[str, Any], thumbnails: dict[str, str]) -> bool:
    """List `thumbnails` as `config: bioimageio: thumbnails:` (bioimage.io's display data).

    Returns False (and changes nothing) if `config` or `config.bioimageio` is not a mapping.
    """
    if not thumbnails:
        return True
    config: Any = content.setdefault("config", {})
    if not isinstance(config, dict):
        return False
    bio: Any = cast(dict[str, Any], config).setdefault("bioimageio", {})
    if not isinstance(bio, dict):
        return False
    cast(dict[str, Any], bio)["thumbnails"] = dict(thumbnails)
    return True

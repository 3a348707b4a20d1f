"""Which files an rdf names (pure): covers, documentation, weights, architecture sources,
test and sample tensors, attachments, environment files, a notebook's source. A name
relative to the rdf (or a URL inside the rdf's own folder) is a file of the package;
other URLs are links and stay as they are."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit, urlunsplit

_LIST_FIELDS = ("covers", "test_inputs", "test_outputs", "sample_inputs", "sample_outputs")
_SCHEMES = ("conda:", "pip:")


@dataclass(frozen=True)
class NamedFile:
    """A file of the package an rdf names."""

    name: str
    """Path relative to the rdf's folder."""
    url: str
    """Where it is served beside the upstream rdf."""
    sha256: str | None
    """The sha256 the rdf declares, if any."""


def _safe_name(name: str) -> str | None:
    name = name.strip()
    if not name or name.startswith("/") or "\\" in name or "://" in name:
        return None
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        return None
    return "/".join(parts)


def _relative(ref: str, rdf_url: str) -> str | None:
    """`ref` as a name relative to the rdf's folder, or None for an external link."""
    for scheme in _SCHEMES:
        if ref.startswith(scheme):
            ref = ref[len(scheme):]
    if "://" not in ref:
        return _safe_name(ref)
    base, ref_parts = urlsplit(rdf_url), urlsplit(ref)
    folder = base.path.rsplit("/", 1)[0] + "/"
    if (ref_parts.scheme, ref_parts.netloc) == (base.scheme, base.netloc) and ref_parts.path.startswith(folder):
        return _safe_name(ref_parts.path[len(folder):])
    return None


def file_url(rdf_url: str, name: str) -> str:
    """URL of `name` beside the rdf (the rdf's query, e.g. `?version=v0`, kept)."""
    parts = urlsplit(rdf_url)
    folder = parts.path.rsplit("/", 1)[0]
    return urlunsplit((parts.scheme, parts.netloc, f"{folder}/{name}", parts.query, ""))


def _walk(value: Any, found: list[tuple[str, str | None]]) -> None:
    if isinstance(value, dict):
        d = cast(dict[str, Any], value)
        src = d.get("source")
        if isinstance(src, str):
            sha = d.get("sha256")
            found.append((src, sha if isinstance(sha, str) else None))
        for key in ("dependencies", "environment_file"):
            dep = d.get(key)
            if isinstance(dep, str):
                found.append((dep, None))
        for k, v in d.items():
            if k in ("source", "cite", "authors", "maintainers", "config", "badges", "links", "training_data"):
                continue
            _walk(v, found)
    elif isinstance(value, list):
        for v in cast(list[Any], value):
            _walk(v, found)


def named_files(rdf: dict[str, Any], rdf_url: str) -> list[NamedFile]:
    """Every package file `rdf` names, first mention first (a declared sha256 wins)."""
    found: list[tuple[str, str | None]] = []
    for key in _LIST_FIELDS:
        items = rdf.get(key)
        if isinstance(items, list):
            found.extend((i, None) for i in cast(list[Any], items) if isinstance(i, str))
    for key in ("documentation", "source"):
        value = rdf.get(key)
        if isinstance(value, str):
            found.append((value, None))
    attachments = rdf.get("attachments")
    if isinstance(attachments, dict):
        files = cast(dict[str, Any], attachments).get("files")
        if isinstance(files, list):
            found.extend((f, None) for f in cast(list[Any], files) if isinstance(f, str))
    for key, value in rdf.items():
        if key not in ("config", "cite", "authors", "maintainers", "badges", "links", "training_data", "source"):
            _walk(value, found)
    out: dict[str, NamedFile] = {}
    for ref, sha in found:
        name = _relative(ref, rdf_url)
        if name is None or name == "rdf.yaml":
            continue
        if name not in out or (out[name].sha256 is None and sha):
            out[name] = NamedFile(name, file_url(rdf_url, name), sha or (out[name].sha256 if name in out else None))
    return list(out.values())


def declared_sha256s(value: Any) -> set[str]:
    """Every sha256 an rdf declares, wherever its file is (what two rdfs of one resource share)."""
    out: set[str] = set()
    if isinstance(value, dict):
        for k, v in cast(dict[str, Any], value).items():
            if k == "sha256" and isinstance(v, str):
                out.add(v.lower())
            else:
                out |= declared_sha256s(v)
    elif isinstance(value, list):
        for v in cast(list[Any], value):
            out |= declared_sha256s(v)
    return out

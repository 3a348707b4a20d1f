"""The comparison itself, pure: the running collection's resources (from its `index.json` and
summaries) against our `collection.json`, `id_map.json` and whether each imported rdf is the
published file. Reading both sides is `read.py`'s job."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any, cast
from urllib.parse import unquote, urlparse

from .intended import REASONS

WORKSPACE = "bioimage-io/"
"""The running collection's ids are `bioimage-io/<nickname>`."""

ABSENT = "(absent)"
"""Shown where one side has no value."""
_COMPATIBLE_TAG = re.compile(r"^.+-compatible$")
_SHOWN = 160
"""Longest value shown on a line."""


@dataclass(frozen=True)
class RunningVersion:
    label: str
    sha256: str
    created: str | None = None
    comment: str | None = None
    summary: Mapping[str, Any] | None = None
    """The version's `summary.json` (None: not published)."""

    @property
    def rdf(self) -> Mapping[str, Any]:
        content = self.summary.get("rdf_content") if self.summary is not None else None
        return content if isinstance(content, dict) else {}  # pyright: ignore[reportUnknownVariableType]

    @property
    def unreadable(self) -> bool:
        """The running collection could not read this rdf itself: its `rdf_content` is only an `error`."""
        return set(self.rdf) == {"error"}


@dataclass(frozen=True)
class RunningResource:
    id: str
    """As `index.json` has it: `bioimage-io/<nickname>`."""
    type: str
    versions: list[RunningVersion]
    """Oldest first, as `index.json` lists them."""

    @property
    def nickname(self) -> str:
        return self.id.removeprefix(WORKSPACE)

    def id_forms(self) -> list[str]:
        """Every form under which the resource is named: `bioimage-io/a:b`, `a:b` and, for a
        partner's application, the `a/b` its links use."""
        forms = [self.id, self.nickname]
        if ":" in self.nickname:
            forms.append(self.nickname.replace(":", "/", 1))
        return list(dict.fromkeys(forms))


@dataclass(frozen=True)
class Ours:
    entries: Mapping[str, Mapping[str, Any]]
    """collection.json's entries by id."""
    id_map: Mapping[str, Mapping[str, Any]]
    rdf_exact: Mapping[str, bool] = field(default_factory=dict[str, bool])
    """`<concept>/<version>` -> whether its rdf is the published file (an import's `legacy.rdf_exact`)."""


@dataclass(frozen=True)
class Difference:
    resource: str
    version: str | None
    kind: str
    """What differs (`docs/import.md` lists the kinds that are intended)."""
    ours: str
    running: str
    intended: str | None = None
    """Why it is meant to be, if it is."""

    def line(self) -> str:
        where = self.resource + (f" {self.version}" if self.version else "")
        tail = f"  [intended: {self.kind}]" if self.intended else ""
        return f"{where}: {self.kind}: ours {self.ours}, running {self.running}{tail}"


@dataclass
class _Diffs:
    items: list[Difference] = field(default_factory=list[Difference])

    def add(self, resource: str, version: str | None, kind: str, ours: object, running: object) -> None:
        self.items.append(Difference(resource, version, kind, _shown(ours), _shown(running), REASONS.get(kind)))


def _shown(value: object) -> str:
    text = value if value is ABSENT else json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def compare(running: list[RunningResource], ours: Ours) -> list[Difference]:
    """Every difference, resource by resource, field by field."""
    d = _Diffs()
    matched: set[str] = set()
    held_forms = {form for r in running for form in r.id_forms()}
    for resource in running:
        cid = _our_id(resource, ours)
        if cid is None:
            kind = "resource.unreadable" if resource.versions and all(v.unreadable for v in resource.versions) else "resource.missing"
            d.add(resource.id, None, kind, ABSENT, resource.type)
            continue
        matched.add(cid)
        _compare_resource(d, resource, cid, ours, held_forms)
    for cid in sorted(set(ours.entries) - matched):
        d.add(cid, None, "resource.extra", ours.entries[cid].get("type"), ABSENT)
    return d.items


def unexplained(differences: list[Difference]) -> list[Difference]:
    return [x for x in differences if x.intended is None]


def as_json(differences: list[Difference]) -> dict[str, Any]:
    return {"differences": [asdict(x) for x in differences], "total": len(differences),
            "unexplained": len(unexplained(differences))}


def summary_line(differences: list[Difference]) -> str:
    bad = len(unexplained(differences))
    return f"{len(differences)} differences: {bad} unexplained, {len(differences) - bad} intended"


def _our_id(resource: RunningResource, ours: Ours) -> str | None:
    """Our concept of a running resource: its nickname, else whatever its id resolves to in our id_map."""
    if resource.nickname in ours.entries:
        return resource.nickname
    target = ours.id_map.get(resource.id)
    if target is None:
        return None
    return next((cid for cid, e in ours.entries.items() if e.get("rdf_source") == target.get("source")), None)


def _compare_resource(d: _Diffs, r: RunningResource, cid: str, ours: Ours, held_forms: set[str]) -> None:
    entry = ours.entries[cid]
    name = r.id
    if entry.get("type") != r.type:
        d.add(name, None, "type", entry.get("type"), r.type)
    our_versions: dict[str, Mapping[str, Any]] = {str(v.get("version")): v for v in entry.get("versions", [])}
    labels = [v.label for v in r.versions]
    for label in labels:
        if label not in our_versions:
            d.add(name, label, "version.missing", ABSENT, label)
    for label in our_versions:
        if label not in labels:
            d.add(name, label, "version.extra", label, ABSENT)
    for v in r.versions:
        if v.label in our_versions:
            _compare_version(d, name, cid, v, our_versions[v.label], ours)
    if not r.versions:
        return
    latest = r.versions[-1]
    if entry.get("version") != latest.label:
        d.add(name, None, "version.latest", entry.get("version"), latest.label)
    _compare_created(d, name, entry, r)
    _compare_display(d, name, entry, latest.rdf)
    _compare_ids(d, r, entry, ours)
    _compare_links(d, name, entry, latest.rdf, ours, held_forms)


def _compare_version(d: _Diffs, name: str, cid: str, v: RunningVersion, mine: Mapping[str, Any], ours: Ours) -> None:
    if mine.get("rdf_sha256") != v.sha256:
        exact = ours.rdf_exact.get(f"{cid}/{v.label}", True)
        d.add(name, v.label, "rdf_sha256" if exact else "rdf_sha256.rebuilt", mine.get("rdf_sha256"), v.sha256)
    if v.created is not None and not _same_time(mine.get("created"), v.created):
        d.add(name, v.label, "created", mine.get("created"), v.created)
    if (mine.get("comment") or None) != (v.comment or None):
        d.add(name, v.label, "comment", mine.get("comment", ABSENT), v.comment)
    if v.summary is None:
        d.add(name, v.label, "summary.missing", ABSENT, ABSENT)
        return
    status = v.summary.get("status")
    test_summary = mine.get("test_summary")
    our_status = cast(dict[str, object], test_summary).get("status") if isinstance(test_summary, dict) else None
    if status is not None and our_status != status:
        d.add(name, v.label, "status", our_status, status)


def _time(value: object) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None


def _same_time(a: object, b: object) -> bool:
    ta, tb = _time(a), _time(b)
    return ta is not None and ta == tb


def _compare_created(d: _Diffs, name: str, entry: Mapping[str, Any], r: RunningResource) -> None:
    """The concept's `created`: the earliest date the running collection knows, or an earlier one."""
    known = [t for t in (_time(v.created) for v in r.versions) if t is not None]
    ours = _time(entry.get("created"))
    if not known:
        return
    first = min(known)
    if ours is None or ours > first:
        d.add(name, None, "created", entry.get("created"), first.isoformat())
    elif ours < first:
        d.add(name, None, "created.earlier", entry.get("created"), first.isoformat())


def _author_names(value: object) -> list[str]:
    if not isinstance(value, list):
        return []
    return [str(a.get("name")) if isinstance(a, dict) else str(a) for a in value]  # pyright: ignore[reportUnknownMemberType, reportUnknownArgumentType, reportUnknownVariableType]


def _file_names(value: object) -> list[str]:
    """Covers by file name: ours are URLs, the rdf's are names relative to the rdf (or URLs)."""
    return [unquote(urlparse(c).path).rsplit("/", 1)[-1] for c in _strings(value)]


def _strings(value: object) -> list[str]:
    return [str(x) for x in cast(list[object], value)] if isinstance(value, list) else []


_DISPLAY: tuple[tuple[str, Any], ...] = (
    ("name", None), ("description", None), ("license", None), ("id_emoji", None),
    ("authors", _author_names), ("covers", _file_names),
)
"""Display fields compared with the latest version's rdf, with how each is normalised."""


def _compare_display(d: _Diffs, name: str, entry: Mapping[str, Any], rdf: Mapping[str, Any]) -> None:
    for key, norm in _DISPLAY:
        if key not in rdf:
            continue
        theirs, mine = rdf.get(key), entry.get(key)
        if norm is not None:
            theirs, mine = norm(theirs), norm(mine)
        elif isinstance(theirs, str) and isinstance(mine, str):
            theirs, mine = theirs.strip(), mine.strip()
        if theirs != mine:
            d.add(name, None, key, mine if key in entry else ABSENT, theirs)
    if "tags" in rdf:
        theirs_tags, mine_tags = _strings(rdf.get("tags")), _strings(entry.get("tags"))
        for t in theirs_tags:
            if t not in mine_tags:
                d.add(name, None, "tags.missing", ABSENT, t)
        extra = [t for t in mine_tags if t not in theirs_tags]
        added = [t for t in extra if _COMPATIBLE_TAG.match(t)]
        if added:  # one line for what the compatibility reports add
            d.add(name, None, "tags.compatible", added, ABSENT)
        for t in extra:
            if t not in added:
                d.add(name, None, "tags.extra", t, ABSENT)


def _compare_ids(d: _Diffs, r: RunningResource, entry: Mapping[str, Any], ours: Ours) -> None:
    """Every form of the resource's id resolves through our id_map to our latest version."""
    for form in r.id_forms():
        if form == entry.get("id"):
            continue
        target = ours.id_map.get(form)
        if target is None:
            d.add(r.id, None, "old_id.unresolved", ABSENT, form)
        elif target.get("sha256") != entry.get("rdf_sha256"):
            d.add(r.id, None, "old_id.elsewhere", target.get("source"), form)


def _compare_links(d: _Diffs, name: str, entry: Mapping[str, Any], rdf: Mapping[str, Any],
                   ours: Ours, held_forms: set[str]) -> None:
    theirs, mine = _strings(rdf.get("links")), _strings(entry.get("links"))
    for link in theirs:
        if link not in mine:
            d.add(name, None, "links.missing", ABSENT, link)
        if link.startswith(("http://", "https://")):
            continue
        if link not in held_forms:
            d.add(name, None, "link.dangling", ABSENT, link)
        elif link not in ours.id_map and link not in ours.entries:
            d.add(name, None, "link.unresolved", ABSENT, link)
    extra = [link for link in mine if link not in theirs]
    if extra:
        d.add(name, None, "links.extra", extra, ABSENT)

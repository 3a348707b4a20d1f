"""The two sides of a diff read from storage: a draft's or version's description, its
files (from `files.json`, else listed and hashed) and its verdicts (from the concept
document). `changes_since_latest` is what staging keeps on the new draft."""

from __future__ import annotations

from typing import Any, cast

from ..errors import InvalidArgumentError, NotFoundError
from ..log import logger
from ..storage.base import Storage
from ..util.yaml_guard import YamlRefused, load_yaml
from . import keys
from .changes import Snapshot, VersionDiff, compact, plan_diff
from .concept import ConceptRecord, ConceptStore, ReportBrief
from .manifest import FileEntry, manifest_of
from .target import Target, resolve_target


def rdf_data(data: bytes) -> dict[str, Any]:
    """A description as plain data (empty when it is not a YAML mapping, or a YAML bomb)."""
    try:
        content: Any = load_yaml(data, "rdf.yaml")  # anchors, aliases or deep nesting: never expanded here
    except YamlRefused:
        return {}
    return cast(dict[str, Any], content) if isinstance(content, dict) else {}


def verdicts(tests: dict[str, ReportBrief]) -> dict[str, str]:
    return {name: brief.status for name, brief in tests.items()}


def snapshot_of(storage: Storage, target: Target) -> Snapshot:
    """A draft or version as `plan_diff` compares it."""
    record = target.record
    if target.subject == "draft":
        draft = record.require_draft()
        label, tests = f"draft ({draft.summary.version or '?'})", draft.tests
    else:
        label, tests = target.subject, record.versions[target.subject].tests
    files = manifest_of(storage, target.files_prefix).by_name()
    return Snapshot(label, rdf_data(storage.get_bytes(target.rdf_key)), files, verdicts(tests))


def changes_since_latest(storage: Storage, record: ConceptRecord, rdf: bytes, files: list[FileEntry]) -> VersionDiff | None:
    """What a new upload changes against the latest published version (None for a first
    version, or when the published side cannot be read: the diff is a help, not a gate)."""
    if not record.versions:
        return None
    latest = list(record.versions.values())[-1]
    prefix = keys.version_files(record.id, latest.version, latest.content)
    try:
        old = Snapshot(latest.version, rdf_data(storage.get_bytes(prefix + latest.rdf_name)), manifest_of(storage, prefix).by_name())
    except Exception as e:  # e.g. a storage failure: the draft is staged without its diff
        logger.warning("changes of %s since %s not computed: %s", record.id, latest.version, e)
        return None
    new = Snapshot("draft", rdf_data(rdf), {f.name: f for f in files})
    return compact(plan_diff(old, new))


def diff_of(storage: Storage, concepts: ConceptStore, concept_id: str, old: str | None = None, new: str | None = None) -> VersionDiff:
    """`old` against `new` (each `draft` or a published version); by default the latest
    published version against the draft."""
    record = concepts.get(concept_id)
    if old is None:
        if not record.versions:
            raise NotFoundError(f"'{concept_id}' has no published version to compare with; name two")
        old = list(record.versions)[-1]
    new = new or "draft"
    if old == new:
        raise InvalidArgumentError(f"'{old}' compared with itself; name two different ones")
    a, b = resolve_target(concepts, concept_id, old), resolve_target(concepts, concept_id, new)
    return plan_diff(snapshot_of(storage, a), snapshot_of(storage, b))

"""`backoffice import-collection <source>...`: read the sources, plan, execute, report."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime

from ..resource_types import RESOURCE_TYPES
from ..context import Context
from ..errors import ImportSourceError, InvalidArgumentError, InvalidIdError
from ..records import keys
from ..records.concept import ConceptRecord
from ..records.journal import utcnow
from ..storage.base import ObjectNotFound, PreconditionFailed
from .spec_check import format_problem
from .execute import ConceptOutcome, ImportOptions, execute
from .files import Fetcher, HostClock
from .progress import ImportProgress
from .models import GitopsEntry
from .plan import ImportPlan, LoadedItem, LoadedVersion, id_problem, nickname_of, plan_import
from .sources import Reader, is_gitops_collection, load_gitops, load_index, load_summary, open_reader, report_names, version_dir


HOST_TIME_LIMIT = 300.0
"""Seconds a file host may keep one import waiting without an answer, in all (`import-collection --host-time-limit`)."""

BULK_CONCEPTS = 200
"""More new concepts than this: the index cache is dropped (the next index run reads every concept)
instead of writing a change marker per concept."""


@dataclass(frozen=True)
class ImportReport:
    plan: ImportPlan
    outcomes: list[ConceptOutcome]

    def count(self, action: str) -> int:
        return sum(1 for o in self.outcomes if o.action == action)

    def refusals(self) -> dict[str, int]:
        """Refused resources and versions, counted by reason."""
        out: dict[str, int] = {}
        for o in self.outcomes:
            for r in o.refusals:
                out[r] = out.get(r, 0) + 1
        return dict(sorted(out.items()))


def load_items(reader: Reader, workers: int) -> list[LoadedItem]:
    index = load_index(reader)

    def one(item_version: tuple[int, int]) -> LoadedVersion:
        item = index.items[item_version[0]]
        entry = item.versions[item_version[1]]
        try:
            keys.checked_label(entry.version)
        except InvalidIdError:
            return LoadedVersion(entry, None, [])  # not read: the plan refuses the label
        if id_problem(item) is not None:
            return LoadedVersion(entry, None, [])  # not read: the plan refuses the id
        try:
            summary = load_summary(reader, item, entry.version)
            return LoadedVersion(entry, summary, report_names(reader, item, entry.version, summary))
        except ImportSourceError as e:  # one unreadable summary.json (or reports folder) refuses its version; the import goes on
            return LoadedVersion(entry, None, [], problem=str(e))

    pairs = [(i, j) for i, item in enumerate(index.items) for j in range(len(item.versions))]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        loaded = list(pool.map(one, pairs))
    out: list[LoadedItem] = []
    k = 0
    for item in index.items:
        out.append(LoadedItem(item, loaded[k:k + len(item.versions)]))
        k += len(item.versions)
    return out


def existing_records(ctx: Context, ids: Sequence[str], workers: int) -> tuple[dict[str, ConceptRecord | None], list[str]]:
    """(the records of `ids` the store holds, every id it holds)."""
    held = ctx.concepts.list_ids()
    known = set(held)
    wanted = [i for i in ids if i in known]
    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        found = list(pool.map(ctx.concepts.find, wanted))
    return {i: r for i, r in zip(wanted, found, strict=True)}, list(held)


def run_key(sources: Sequence[str]) -> str:
    """Where a run of these sources notes that it is under way."""
    return keys.import_run(hashlib.sha256("\n".join(sources).encode()).hexdigest()[:24])


def _start(ctx: Context, sources: Sequence[str], at: datetime | None) -> tuple[str, datetime]:
    """The run's key and start time: an unfinished earlier run of the same sources is resumed with its time."""
    key = run_key(sources)
    if at is None:
        try:
            return key, datetime.fromisoformat(json.loads(ctx.storage.get_bytes(key))["at"])
        except ObjectNotFound:
            at = utcnow()
    try:
        ctx.storage.put_bytes(key, json.dumps({"sources": list(sources), "at": at.isoformat()}).encode(), if_none_match=True)
    except PreconditionFailed:
        pass
    return key, at


def import_collection(ctx: Context, sources: Sequence[str], *, files: bool = True, update: bool = False,
                      at: datetime | None = None, workers: int = 8, progress: ImportProgress | None = None,
                      host_time_limit: float = HOST_TIME_LIMIT) -> list[ImportReport]:
    """Import the running collection `sources` (a GitOps-era collection.json among them adds its DOIs,
    nicknames' icons, owners and download counts to the resources matched by nickname). Every request
    goes through the guarded fetch; a file host may keep the import waiting `host_time_limit` seconds
    in all (see `files.HostClock`); `progress` gets the counts and each refusal as it happens."""
    running = [s for s in sources if not is_gitops_collection(s)]
    gitops_sources = [s for s in sources if is_gitops_collection(s)]
    if not running:
        raise InvalidArgumentError("no running collection among the sources (a folder, zip or URL with index.json)")
    timeout, allowed = ctx.settings.download_timeout, ctx.settings.download_allowed_hosts
    gitops: list[GitopsEntry] = [e for s in gitops_sources for e in load_gitops(s, timeout, allowed)]
    readers = [open_reader(s, timeout, allowed) for s in running]
    loaded = [load_items(r, workers) for r in readers]  # everything read (and checked) before anything is written
    run_key, started = _start(ctx, sources, at)
    types = list(RESOURCE_TYPES)
    fetcher = Fetcher(timeout=timeout, allowed_hosts=allowed, clock=HostClock(host_time_limit), progress=progress)
    opts = ImportOptions(files=files, fetcher=fetcher, workers=workers, max_file_bytes=ctx.settings.max_package_bytes)
    reports: list[ImportReport] = []
    for source, reader, items in zip(running, readers, loaded, strict=True):
        existing, held = existing_records(ctx, [nickname_of(i.item) for i in items], workers)
        plan = plan_import(items, gitops, existing, types=types, source=source, at=started, files=files, update=update,
                           held=held, mail_from=[ctx.settings.mail_from or ""])
        note_invalid(plan)
        if plan.count("create") > BULK_CONCEPTS:  # one cache removal instead of a change marker per concept
            ctx.storage.delete(keys.INDEX_CACHE)
            opts = replace(opts, mark=False)
        by_id = {nickname_of(i.item): i.item for i in items}
        outcomes = execute(ctx, reader, plan, opts, lambda cid, label: version_dir(by_id[cid], label))
        reports.append(ImportReport(plan, outcomes))
    ctx.storage.delete(run_key)
    fetcher.progress.finish()
    return reports


def note_invalid(plan: ImportPlan) -> None:
    """Name each version upstream's test passed whose rdf (as we would write it from `rdf_content`)
    does not validate with our bioimageio.spec, and why."""
    from bioimageio.spec import __version__ as spec

    for cp in plan.concepts:
        for vp in cp.versions:
            if vp.record.legacy is not None and vp.record.legacy.status == "passed" and (why := format_problem(vp.rdf_content)):
                cp.notes.append(f"{vp.label}: upstream's test passed, but its rdf does not validate with bioimageio.spec {spec}: {why}")


def check_sources(sources: Sequence[str]) -> None:
    if not sources:
        raise ImportSourceError("no source given")

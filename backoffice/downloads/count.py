"""`count-downloads`: read new access log objects, count downloads, write the counts.

Exactly once: a log object's lines enter the counts together with its ledger entry, in
one write of `downloads/state.json` (replace-if-unchanged, so two runs cannot both
commit). A run killed at any point leaves the state of its last commit; the re-run skips
the objects that commit lists and reads the rest. The concept documents and
`<id>/downloads.json` are derived afterwards from the state (idempotent), for the
concepts still marked pending.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from dataclasses import dataclass, field
from typing import Any, cast

from ..context import Context
from ..errors import BackofficeError, ConfigError, ConflictError, StorageError
from ..index.generate import load_records
from ..log import logger
from ..records import keys
from ..records.concept import ConceptRecord
from ..storage.base import ObjectNotFound, PreconditionFailed, normalize_prefix
from .agents import classify_agent
from .catalog import Catalog, catalog_of
from .logline import parse_line
from .publish import publish_counts
from .sources import LogObject, iter_lines, resolve_sources
from .tally import FORMAT, OUTCOMES, Tally

DOWNLOAD_STATUSES = frozenset({200, 206})
GET_OBJECT = frozenset({"REST.GET.OBJECT", "WEBSITE.GET.OBJECT"})
"""Reads of an object, through the REST API or the bucket's static website endpoint."""


@dataclass
class CountResult:
    objects: int = 0
    """Log objects read in this run."""
    skipped_objects: int = 0
    """Log objects skipped because the ledger has them."""
    lines: dict[str, int] = field(default_factory=lambda: dict[str, int].fromkeys(OUTCOMES, 0))
    """This run's lines by outcome."""
    concepts_updated: int = 0


@dataclass
class LineCounter:
    """Applies the counting rules to lines (pure apart from the tally it fills)."""

    tally: Tally
    catalog: Catalog
    bucket: str
    key: bytes

    def requester(self, day: str, concept: str, version: str, ip: str, user_agent: str) -> str:
        """Keyed hash of the requester (address and user agent) for one version on one day: the
        address is not kept, and one requester's hashes of other days or versions do not match."""
        text = f"{day}\x00{concept}/{version}\x00{ip}\x00{user_agent}"
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()[:16]

    def outcome(self, text: str) -> str:
        line = parse_line(text)
        if line is None:
            return "malformed"
        if line.bucket != self.bucket:
            return "other_bucket"
        if line.operation not in GET_OBJECT:
            return "other_request"
        target = self.catalog.download_of(line.key)
        if target is None:
            return "not_download"
        if line.status not in DOWNLOAD_STATUSES:
            return "failed"
        tool = classify_agent(line.user_agent)
        if tool is None:
            return "bot"
        cid, version = target
        return self.tally.add(line.day, cid, version, self.requester(line.day, cid, version, line.remote_ip, line.user_agent), tool)

    def read(self, obj: LogObject) -> dict[str, int]:
        """Count one log object's lines (into the tally) and mark it processed."""
        counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        try:
            with obj.open() as stream:
                for text in iter_lines(stream):
                    if not text.strip():
                        continue
                    counts["lines"] += 1
                    counts[self.outcome(text)] += 1
        except BackofficeError:
            raise
        except Exception as e:  # a broken read: nothing of this object is committed; the re-run reads it whole
            raise StorageError(f"reading {obj.name} failed: {e}") from e
        self.tally.mark_processed(obj.name)
        for k, n in counts.items():
            self.tally.stats[k] = self.tally.stats.get(k, 0) + n
        return counts


class StateStore:
    """`downloads/state.json`, written whole and only over the version it was read from."""

    def __init__(self, ctx: Context) -> None:
        self.storage = ctx.storage
        self.etag: str | None = None

    def load(self) -> Tally:
        try:
            data, self.etag = self.storage.get(keys.DOWNLOADS_STATE)
        except ObjectNotFound:
            return Tally()
        try:
            raw: Any = json.loads(data)
            if not isinstance(raw, dict) or cast(dict[str, Any], raw).get("format") != FORMAT:
                raise ValueError(f"not a format {FORMAT} state")
            return Tally.load(cast(dict[str, Any], raw))
        except (ValueError, TypeError, KeyError, AttributeError) as e:
            raise StorageError(f"{keys.DOWNLOADS_STATE} is unreadable ({e}); nothing was counted — restore it from a backup "
                               "or a bucket version before counting again") from None

    def commit(self, tally: Tally) -> None:
        data = json.dumps(tally.dump(), separators=(",", ":")).encode()
        try:
            if self.etag is None:
                self.etag = self.storage.put_bytes(keys.DOWNLOADS_STATE, data, if_none_match=True, content_type="application/json")
            else:
                self.etag = self.storage.put_bytes(keys.DOWNLOADS_STATE, data, if_match=self.etag, content_type="application/json")
        except PreconditionFailed:
            raise ConflictError("another count-downloads run committed meanwhile; run it again (nothing was counted twice)") from None


def hash_key(ctx: Context) -> bytes:
    secret = ctx.settings.downloads_hash_key
    if secret is None or len(secret.get_secret_value()) < 16:
        raise ConfigError("BACKOFFICE_DOWNLOADS_HASH_KEY (at least 16 characters) must be set to pseudonymise requesters")
    return secret.get_secret_value().encode()


def read_catalog(ctx: Context) -> tuple[Catalog, dict[str, ConceptRecord]]:
    records = {cid: r for cid, _, r in load_records(ctx.storage, ctx.concepts.list_ids(), then=lambda r, _etag: r)}
    return catalog_of(records.values(), normalize_prefix(ctx.settings.s3_prefix)), records


def count_downloads(ctx: Context, sources: list[str], *, commit_seconds: float | None = None) -> CountResult:
    """Count the downloads in the log objects of `sources` not counted before."""
    key = hash_key(ctx)
    objects = resolve_sources(ctx.settings, sources)  # a bad source fails before anything is written
    every = ctx.settings.downloads_commit_seconds if commit_seconds is None else commit_seconds
    store = StateStore(ctx)
    tally = store.load()
    catalog, records = read_catalog(ctx)
    counter = LineCounter(tally=tally, catalog=catalog, bucket=ctx.settings.s3_bucket, key=key)
    result = CountResult()
    last_commit = time.monotonic()
    dirty = False
    for obj in objects:
        if tally.is_processed(obj.name):
            result.skipped_objects += 1
            continue
        for k, n in counter.read(obj).items():
            result.lines[k] += n
        result.objects += 1
        dirty = True
        if time.monotonic() - last_commit >= every:
            store.commit(tally)
            last_commit, dirty = time.monotonic(), False
    if dirty:
        store.commit(tally)
    if tally.pending:
        result.concepts_updated = publish_counts(ctx, tally, records)
        tally.pending.clear()
        store.commit(tally)
    logger.info("count-downloads: %d log objects read (%d already counted), %s", result.objects, result.skipped_objects,
                ", ".join(f"{k} {n}" for k, n in result.lines.items()))
    return result


def summary_markdown(result: CountResult) -> str:
    rows = "\n".join(f"| {k} | {n} |" for k, n in result.lines.items())
    return (f"### Downloads counted\n\n{result.objects} log objects read, {result.skipped_objects} already counted, "
            f"{result.concepts_updated} concepts updated.\n\n| lines | n |\n| --- | --- |\n{rows}\n")


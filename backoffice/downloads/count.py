"""`count-downloads`: read new access log objects, count downloads, write the counts.

Exactly once: a log object's lines enter the counts together with its ledger entry, in
one write of the private state (`state.py`; replace-if-unchanged, so two runs cannot both
commit). A run killed at any point leaves the state of its last commit; the re-run skips
the objects that commit lists and reads the rest. The concept documents and
`<id>/downloads.json` are derived afterwards from the state (idempotent), for the
concepts still marked pending.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

from ..context import Context
from ..errors import BackofficeError, ConfigError, StorageError
from ..index.generate import load_records
from ..log import logger
from ..records.concept import ConceptRecord
from ..storage.base import normalize_prefix
from .agents import classify_agent
from .catalog import Catalog, catalog_of
from .logline import SKIP_REASONS, parse_line
from .publish import publish_counts
from .sources import LogObject, iter_lines, resolve_sources
from .state import StateStore
from .tally import OUTCOMES, Tally

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
    skipped: dict[str, int] = field(default_factory=dict[str, int])
    """This run's skipped (`malformed`) lines by reason (keys of `SKIP_REASONS`)."""
    concepts_updated: int = 0

    def skipped_text(self) -> str:
        """`3 lines skipped (no valid date 1, not in the access log format 2)`."""
        n = sum(self.skipped.values())
        if not n:
            return "no line skipped"
        return f"{n} line{'s' if n != 1 else ''} skipped (" + ", ".join(
            f"{SKIP_REASONS[r]} {self.skipped[r]}" for r in SKIP_REASONS if self.skipped.get(r)) + ")"


@dataclass
class LineCounter:
    """Applies the counting rules to lines (pure apart from the tally it fills)."""

    tally: Tally
    catalog: Catalog
    bucket: str
    key: bytes
    last_day: str = field(default_factory=lambda: (datetime.now(timezone.utc) + timedelta(days=1)).date().isoformat())
    """Lines of later days are skipped (`future`): one would close every real day."""

    def client(self, day: str, concept: str, version: str, ip: str) -> str:
        """Keyed hash of the client address for one version on one day: the address is not kept,
        and one client's hashes of other days or versions do not match. The user agent is not part
        of it: a client that changes its agent is the same client."""
        text = f"{day}\x00{concept}/{version}\x00{ip}"
        return hmac.new(self.key, text.encode(), hashlib.sha256).hexdigest()[:16]

    def outcome(self, text: str) -> tuple[str, str | None]:
        """What the line counts as, and why it is skipped (for `malformed`)."""
        line = parse_line(text)
        if isinstance(line, str):
            return "malformed", line
        if line.day > self.last_day:
            return "malformed", "future"
        if line.bucket != self.bucket:
            return "other_bucket", None
        if line.operation not in GET_OBJECT:
            return "other_request", None
        target = self.catalog.download_of(line.key)
        if target is None:
            return "not_download", None
        if line.status not in DOWNLOAD_STATUSES:
            return "failed", None
        tool = classify_agent(line.user_agent)
        if tool is None:
            return "bot", None
        cid, version = target
        obj = line.key.rsplit(f"{cid}/{version}/", 1)[-1]
        return self.tally.add(line.day, cid, version, self.client(line.day, cid, version, line.remote_ip), obj,
                              line.bytes_sent, line.object_size, tool), None

    def read(self, obj: LogObject, skipped: dict[str, int]) -> dict[str, int]:
        """Count one log object's lines (into the tally) and mark it processed. A line that cannot
        be read is skipped and counted by reason (into `skipped`); it never stops the run."""
        counts: dict[str, int] = dict.fromkeys(OUTCOMES, 0)
        reasons: dict[str, int] = {}
        try:
            with obj.open() as stream:
                for text in iter_lines(stream):
                    if not text.strip():
                        continue
                    counts["lines"] += 1
                    try:
                        outcome, reason = self.outcome(text)
                    except (ValueError, ArithmeticError):  # a field no check above foresaw: this line only
                        outcome, reason = "malformed", "field"
                    counts[outcome] += 1
                    if reason:
                        reasons[reason] = reasons.get(reason, 0) + 1
        except BackofficeError:
            raise
        except Exception as e:  # a broken read: nothing of this object is committed; the re-run reads it whole
            raise StorageError(f"reading {obj.name} failed: {e}") from e
        self.tally.mark_processed(obj.name)
        for k, n in counts.items():
            self.tally.stats[k] = self.tally.stats.get(k, 0) + n
        for r, n in reasons.items():
            skipped[r] = skipped.get(r, 0) + n
        return counts


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
    dirty = store.moved  # a state found in the public store is moved at the first commit
    for obj in objects:
        if tally.is_processed(obj.name):
            result.skipped_objects += 1
            continue
        for k, n in counter.read(obj, result.skipped).items():
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
    logger.info("count-downloads: %d log objects read (%d already counted), %s; %s", result.objects, result.skipped_objects,
                ", ".join(f"{k} {n}" for k, n in result.lines.items()), result.skipped_text())
    return result


def summary_markdown(result: CountResult) -> str:
    rows = "\n".join(f"| {k} | {n} |" for k, n in result.lines.items())
    return (f"### Downloads counted\n\n{result.objects} log objects read, {result.skipped_objects} already counted, "
            f"{result.concepts_updated} concepts updated; {result.skipped_text()}.\n\n| lines | n |\n| --- | --- |\n{rows}\n")


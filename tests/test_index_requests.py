"""The index path reads concept documents and nothing else per concept: requests
counted with a botocore event hook against moto, for a small collection with drafts,
logs, chats and reports. The derived files (`versions.json`, dashboard details) are
repaired without reading more than the concepts concerned."""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pytest

from backoffice.context import Context
from backoffice.index.generate import generate_index
from backoffice.records import keys
from backoffice.records.concept import ConceptRecord, DraftRecord, ResourceSummary, ReportBrief, VersionRecord
from backoffice.records.index_inputs import INDEX_INPUTS, NOT_INPUTS
from backoffice.records.journal import ChatMessage, Journal, LogEntry
from backoffice.records.status import DraftStatus
from backoffice.storage.s3 import S3Storage

T0 = datetime(2026, 1, 1, tzinfo=timezone.utc)
CONCEPTS = 100
LIMIT = 1.2
"""Most requests per concept a full index generation may make (issue 18)."""


def _record(cid: str, n_versions: int = 2, draft: bool = False) -> ConceptRecord:
    r = ConceptRecord(id=cid, type="model", owners=["github|1"])
    for i in range(n_versions):
        v = f"{i + 1}.0"
        r.versions[v] = VersionRecord(
            version=v, published=T0 + timedelta(days=i), rdf_sha256="0" * 64, draft_token=f"t{i}",
            summary=ResourceSummary(name=f"Model {cid}", version=v, covers=["cover.png"], weight_formats=["onnx"]),
            tests={"bioimageio.core_0.11.0_onnx": ReportBrief(status="passed", report="r", tool="bioimageio.core", weight_format="onnx")},
        )
    if draft:
        r.draft = DraftRecord(token="tok", status=DraftStatus.AWAITING_REVIEW, rdf_sha256="d" * 64,
                              summary=ResourceSummary(name=f"Draft {cid}", version="9.0"))
    return r


@contextmanager
def counted(storage: S3Storage) -> Iterator[list[str]]:
    """The S3 operations made inside the block."""
    seen: list[str] = []

    def count(model: object, **_: object) -> None:
        seen.append(str(getattr(model, "name", "?")))

    storage.client.meta.events.register("before-call.s3", count)
    try:
        yield seen
    finally:
        storage.client.meta.events.unregister("before-call.s3", count)


@pytest.fixture
def s3_ctx(s3_storage: S3Storage, settings_factory) -> Context:  # noqa: ANN001
    ctx = Context(settings_factory(), storage=s3_storage)
    ids = [f"{a}-shark" for a in ("affable", "bold", "calm", "dapper", "eager")] + [f"c{i:03d}" for i in range(CONCEPTS - 5)]
    for n, cid in enumerate(ids):
        ctx.concepts.save(_record(cid, n_versions=1 + n % 3, draft=n % 4 == 0))
        if n % 4 == 0:
            ctx.record_step(cid, "stage", "staged")
            ctx.storage.put_bytes(keys.draft_reports(cid, "tok") + "ilastik_1.4.json", b'{"status": "passed"}')
        if n % 10 == 0:
            ctx.chat(cid).append(ChatMessage(author="github|2", text=f"about {cid}"))
    generate_index(ctx)  # the first run writes every derived file
    return ctx


def _per_concept(ops: list[str]) -> float:
    return len(ops) / CONCEPTS


def test_full_generation_reads_one_document_per_concept(s3_ctx: Context) -> None:
    storage = s3_ctx.storage
    assert isinstance(storage, S3Storage)
    storage.delete(keys.INDEX_CACHE)  # no cache: every concept document is listed and read
    with counted(storage) as ops:
        result = generate_index(s3_ctx)
    print(f"full generation: {len(ops)} requests for {CONCEPTS} concepts")
    assert result.fetched == CONCEPTS
    assert ops.count("GetObject") <= CONCEPTS + 5, ops  # documents, the previous files, the manifest
    assert _per_concept(ops) <= LIMIT, f"{len(ops)} requests for {CONCEPTS} concepts"
    with counted(storage) as ops:
        result = generate_index(s3_ctx, full=True)
    print(f"--full: {len(ops)} requests: {sorted(set(ops))}")
    assert _per_concept(ops) <= LIMIT, f"--full: {len(ops)} requests for {CONCEPTS} concepts"
    # nothing changed: no per-concept file was written again
    assert [op for op in ops if op == "PutObject"] == ["PutObject"] * ops.count("PutObject")
    assert ops.count("PutObject") <= 6


def test_chat_and_log_reach_the_details_of_that_concept_only(s3_ctx: Context) -> None:
    storage = s3_ctx.storage
    assert isinstance(storage, S3Storage)
    s3_ctx.chat("bold-shark").append(ChatMessage(author="github|3", text="a question"))
    with counted(storage) as ops:
        result = generate_index(s3_ctx)
    assert result.fetched == 1
    assert ops.count("ListObjectsV2") <= 5 and len(ops) < 30, ops
    detail = json.loads(storage.get_bytes(keys.dashboard_detail("bold-shark")))
    assert [m["text"] for m in detail["chat"]] == ["a question"]


def test_lost_detail_and_lost_marker_are_repaired(s3_ctx: Context) -> None:
    storage = s3_ctx.storage
    storage.delete(keys.dashboard_detail("calm-shark"))
    generate_index(s3_ctx)  # incremental: trusts what it wrote
    assert not storage.exists(keys.dashboard_detail("calm-shark"))
    generate_index(s3_ctx, full=True)  # lists the dashboard folder
    assert storage.exists(keys.dashboard_detail("calm-shark"))
    # a chat message whose marker was lost (crash after the write): the next change repairs
    Journal(storage, keys.chat_prefix("affable-shark")).append_raw({"author": "x", "text": "lost", "timestamp": T0.isoformat()}, T0)
    generate_index(s3_ctx)
    assert "lost" not in storage.get_bytes(keys.dashboard_detail("affable-shark")).decode()
    s3_ctx.record_step("affable-shark", "test", "tested")
    generate_index(s3_ctx)
    detail = json.loads(storage.get_bytes(keys.dashboard_detail("affable-shark")))
    assert "lost" in [m["text"] for m in detail["chat"]] and detail["log"][-1]["message"] == "tested"


def test_versions_json_follows_the_entry(s3_ctx: Context) -> None:
    storage = s3_ctx.storage
    assert [v["v"] for v in json.loads(storage.get_bytes(keys.versions_json("c001")))["versions"]] == ["1.0"]
    s3_ctx.concepts.save(_record("c001", n_versions=3))
    generate_index(s3_ctx)
    assert [v["v"] for v in json.loads(storage.get_bytes(keys.versions_json("c001")))["versions"]] == ["3.0", "2.0", "1.0"]


def test_every_per_concept_key_is_declared() -> None:
    """A new record kind is an index input or says why not (`records/index_inputs.py`)."""
    functions = {name for name, f in vars(keys).items()
                 if inspect.isfunction(f) and f.__module__ == keys.__name__ and not name.startswith("concept_id_from")}
    assert functions == set(INDEX_INPUTS) - {"curation", "config"} | set(NOT_INPUTS)


def test_journal_writers_mark_their_concept(local_ctx: Context) -> None:
    local_ctx.log("bold-bat").append(LogEntry(step="x"))
    local_ctx.chat("calm-cat").append(ChatMessage(author="a", text="b"))
    reply = ChatMessage(author="a", text="b", via="e-mail")
    assert local_ctx.chat("calm-cat").append_once(reply, "mail-1")
    assert not local_ctx.chat("calm-cat").append_once(reply, "mail-1")
    marked = [keys.concept_id_from_marker(k) for k in local_ctx.storage.list_keys(keys.DIRTY_PREFIX)]
    assert sorted(marked) == ["bold-bat", "calm-cat", "calm-cat"]

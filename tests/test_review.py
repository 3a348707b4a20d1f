"""Review and publish: reviewer-only steps, illegal steps refused, publication with one
commit point (fault injected at every storage call), racing reviewers."""

from __future__ import annotations

import threading

import pytest

from backoffice.context import Context
from backoffice.errors import (
    BackofficeError,
    ConflictError,
    IllegalTransitionError,
    InvalidArgumentError,
    NotFoundError,
    PermissionDeniedError,
)
from backoffice.records import keys
from backoffice.records.concept import ConceptRecord, DraftRecord, ResourceSummary, ReportBrief, VersionRecord
from backoffice.records.status import DraftStatus
from backoffice.review.publish import publish
from backoffice.review.request_changes import request_changes
from faulty_storage import FaultyStorage, InjectedFault

REVIEWER = "github|10000001"
OTHER_REVIEWER = "github|10000002"
CID = "affable-shark"
FILES = {"rdf.yaml": b"type: model\nid: affable-shark\nversion: '1.0'\n", "weights.pt": b"w" * 1000, "doc/README.md": b"# hi\n"}


def _setup(ctx: Context, status: DraftStatus = DraftStatus.AWAITING_REVIEW, version: str = "1.0",
           published: tuple[str, ...] = ()) -> DraftRecord:
    draft = DraftRecord(token="tok1", status=status, uploader="up@example.org", rdf_sha256="abc",
                        summary=ResourceSummary(name="Shark", version=version, uploader_email="up@example.org"),
                        tests={"r": ReportBrief(status="passed", report="r")})
    record = ConceptRecord(id=CID, type="model", owners=["up@example.org"], draft=draft)
    for v in published:
        record.versions[v] = VersionRecord(version=v, draft_token=f"old-{v}")
    ctx.concepts.create(record)
    for name, data in FILES.items():
        ctx.storage.put_bytes(keys.draft_files(CID, "tok1") + name, data)
    ctx.storage.put_bytes(keys.draft_reports(CID, "tok1") + "r.json", b"{}")
    return draft


def _state(ctx: Context) -> str:
    """'draft' if the draft stands complete, 'published' if the version is complete; else fail."""
    record = ctx.concepts.get(CID)
    if "1.0" in record.versions:
        for name, data in FILES.items():
            assert ctx.storage.get_bytes(keys.version_files(CID, "1.0") + name) == data
        assert ctx.storage.exists(keys.version_reports(CID, "1.0") + "r.json")
        assert record.versions["1.0"].tests["r"].status == "passed"
        return "published"
    assert record.draft is not None and record.draft.token == "tok1"
    for name, data in FILES.items():
        assert ctx.storage.get_bytes(keys.draft_files(CID, "tok1") + name) == data
    return "draft"


def test_publish_moves_draft_to_version(ctx: Context) -> None:
    _setup(ctx)
    result = publish(ctx, CID, REVIEWER)
    assert (result.version, result.resumed) == ("1.0", False)
    record = ctx.concepts.get(CID)
    assert record.draft is None and record.versions["1.0"].published_by == REVIEWER
    assert _state(ctx) == "published"
    assert list(ctx.storage.list(keys.draft_root(CID, "tok1"))) == []
    steps = [e.step for e in ctx.log(CID).read()]
    assert steps[-2:] == ["accept", "publish"]


@pytest.mark.parametrize("backend", ["local", "s3"])
def test_publish_survives_a_failure_at_every_storage_call(backend: str, request: pytest.FixtureRequest,
                                                          settings_factory) -> None:  # noqa: ANN001
    # count the calls of a healthy run first
    probe_storage = FaultyStorage(request.getfixturevalue(f"{backend}_storage"))
    probe = Context(settings_factory(), storage=probe_storage)
    _setup(probe)
    probe_storage.calls.clear()
    publish(probe, CID, REVIEWER)
    n_calls = len(probe_storage.calls)
    assert n_calls >= 8
    outcomes: dict[str, int] = {"draft": 0, "published": 0}
    for fail_at in range(n_calls):
        inner = request.getfixturevalue(f"{backend}_storage")
        inner.delete_prefix("")
        for key in [o.key for o in inner.list("")]:
            inner.delete(key)
        storage = FaultyStorage(inner)
        ctx = Context(settings_factory(), storage=storage)
        _setup(ctx)
        storage.calls.clear()
        storage.fail_at = fail_at
        try:
            publish(ctx, CID, REVIEWER)
        except InjectedFault:
            pass  # failures of the cleanup after the commit are logged, not raised
        assert len(storage.calls) > fail_at, "the fault was not reached"
        storage.fail_at = None
        outcomes[_state(ctx)] += 1
        # run it again: it completes (or finds it complete already)
        try:
            publish(ctx, CID, REVIEWER)
        except NotFoundError:
            pass  # "no draft": the first run had committed
        except IllegalTransitionError as e:
            assert "no draft" in str(e)
        assert _state(ctx) == "published", f"failure at call {fail_at}: {probe_storage.calls[fail_at]}"
        assert len(ctx.concepts.get(CID).versions) == 1
    assert outcomes["draft"] > 0 and outcomes["published"] > 0, outcomes


def test_two_reviewers_publishing_at_once_make_one_version(ctx: Context) -> None:
    _setup(ctx)
    barrier = threading.Barrier(2)
    results: list[object] = []

    def go(reviewer: str) -> None:
        barrier.wait()
        try:
            results.append(publish(ctx, CID, reviewer))
        except BackofficeError as e:
            results.append(e)

    threads = [threading.Thread(target=go, args=(r,)) for r in (REVIEWER, OTHER_REVIEWER)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    record = ctx.concepts.get(CID)
    assert list(record.versions) == ["1.0"] and record.draft is None
    assert _state(ctx) == "published"
    assert sum(1 for r in results if not isinstance(r, BackofficeError) and not r.resumed) <= 1  # type: ignore[attr-defined]
    assert sum(1 for e in ctx.log(CID).read() if e.step == "publish") == 1


def _state_but_log(ctx: Context) -> dict[str, str]:
    """Every stored object but the log: a refusal is logged, and a log entry leaves the
    concept's change marker (the dashboard's history reads the log)."""
    return {o.key: o.etag for o in ctx.storage.list("") if "/log/" not in o.key and not o.key.startswith("index/dirty/")}


def _unchanged(ctx: Context):  # noqa: ANN202
    before = _state_but_log(ctx)

    def check() -> None:
        assert _state_but_log(ctx) == before

    return check


def test_unknown_reviewer_refused_and_nothing_written(local_ctx: Context) -> None:
    """A refusal changes nothing: no log entry, no index marker (issue 26)."""
    _setup(local_ctx)
    check = _unchanged(local_ctx)
    before = [o.key for o in local_ctx.storage.list("")]
    with pytest.raises(PermissionDeniedError, match="'github|999' is not a reviewer"):
        publish(local_ctx, CID, "github|999")
    with pytest.raises(PermissionDeniedError):
        request_changes(local_ctx, CID, "github|999", "please fix")
    check()
    assert [o.key for o in local_ctx.storage.list("")] == before


@pytest.mark.parametrize("status", [DraftStatus.TESTING, DraftStatus.CHANGES_REQUESTED, DraftStatus.UNPACKED])
def test_publish_refused_unless_awaiting_review(local_ctx: Context, status: DraftStatus) -> None:
    _setup(local_ctx, status=status)
    check = _unchanged(local_ctx)
    with pytest.raises(IllegalTransitionError, match=f"is '{status.value}' and cannot become 'accepted'"):
        publish(local_ctx, CID, REVIEWER)
    check()


def test_publish_refuses_existing_version(local_ctx: Context) -> None:
    _setup(local_ctx, published=("1.0",))
    check = _unchanged(local_ctx)
    with pytest.raises(ConflictError, match="version 1.0 of 'affable-shark' is published already"):
        publish(local_ctx, CID, REVIEWER)
    check()


def test_request_changes(local_ctx: Context) -> None:
    _setup(local_ctx)
    draft = request_changes(local_ctx, CID, REVIEWER, "  please add a cover  ")
    assert draft.status == DraftStatus.CHANGES_REQUESTED
    assert local_ctx.concepts.get(CID).require_draft().status == DraftStatus.CHANGES_REQUESTED
    (msg,) = local_ctx.chat(CID).read()
    assert msg.author == REVIEWER and "please add a cover" in msg.text


def test_request_changes_bad_input(local_ctx: Context) -> None:
    _setup(local_ctx)
    check = _unchanged(local_ctx)
    with pytest.raises(InvalidArgumentError, match="must not be empty"):
        request_changes(local_ctx, CID, REVIEWER, "   ")
    with pytest.raises(NotFoundError, match="'bold-bat' does not exist"):
        request_changes(local_ctx, "bold-bat", REVIEWER, "x")
    check()
    publish(local_ctx, CID, REVIEWER)
    with pytest.raises(IllegalTransitionError, match="published versions .*cannot get change requests"):
        request_changes(local_ctx, CID, REVIEWER, "too late")


def test_publish_unknown_concept(local_ctx: Context) -> None:
    with pytest.raises(NotFoundError, match="'bold-bat' does not exist"):
        publish(local_ctx, "bold-bat", REVIEWER)
    assert list(local_ctx.storage.list("")) == []



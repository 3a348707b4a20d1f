"""Exactly once: a failure at every request of a backup (Zenodo answering 500 before or
after doing the work) and at every storage call, then a re-run, ends with exactly one
Zenodo version per published version and no stray drafts, on both backends; so do two
runs at once."""

from __future__ import annotations

import pytest

from backoffice.backup.run import run_backup
from backoffice.context import Context
from backoffice.errors import BackofficeError
from backoffice.storage.base import Storage
from backup_helpers import CID, TOKEN, add_published, client
from faulty_storage import FaultyStorage
from zenodo_server import ZenodoStandIn, zenodo_standin

VERSIONS = ("1.0", "2.0")


def _fresh(storage: Storage) -> None:
    storage.delete_prefix("")


def _check(ctx: Context, zenodo: ZenodoStandIn, where: str) -> None:
    published = zenodo.published()
    assert sorted(d.metadata["version"] for d in published) == list(VERSIONS), where
    assert len({d.conceptrecid for d in published}) == 1, where
    assert not zenodo.drafts(), f"{where}: stray drafts {[d.id for d in zenodo.drafts()]}"
    record = ctx.concepts.get(CID)
    by_version = {d.metadata["version"]: d for d in published}
    for v in VERSIONS:
        assert record.versions[v].doi == by_version[v].doi, where
        assert record.versions[v].status.value == "backed up", where
    assert record.concept_doi == f"10.5072/zenodo.{published[0].conceptrecid}", where
    for d in published:
        assert sorted(f.filename for f in d.files) == ["cover.png", "doc/README.md", "rdf.yaml", "weights.pt"], where


def _probe(ctx: Context) -> int:
    with zenodo_standin(TOKEN) as zenodo:
        add_published(ctx, versions=("1.0",))
        assert run_backup(ctx, client(zenodo.url), lambda _: None).outcomes[0].outcome == "backed up"
        add_published(ctx, versions=VERSIONS)
        assert run_backup(ctx, client(zenodo.url), lambda _: None).outcomes[0].outcome == "backed up"
        _check(ctx, zenodo, "probe")
        return len(zenodo.requests)


@pytest.mark.parametrize("mode", ["before", "after"])
def test_a_failed_request_then_a_rerun_makes_one_version_each(ctx: Context, mode: str) -> None:
    n_requests = _probe(ctx)
    assert n_requests >= 15
    failures_seen = 0
    for k in range(n_requests):
        _fresh(ctx.storage)
        with zenodo_standin(TOKEN) as zenodo:
            zenodo.fail_at, zenodo.fail_mode = {k}, mode
            add_published(ctx, versions=("1.0",))
            first = run_backup(ctx, client(zenodo.url), lambda _: None)  # give-up time 0: the first failure ends it
            add_published(ctx, versions=VERSIONS)
            second = run_backup(ctx, client(zenodo.url), lambda _: None)
            failures_seen += sum(o.outcome == "failed" for o in first.outcomes + second.outcomes)
            zenodo.fail_at = set()
            rerun = run_backup(ctx, client(zenodo.url), lambda _: None)
            assert all(o.outcome == "backed up" for o in rerun.outcomes), (k, rerun)
            _check(ctx, zenodo, f"{mode} failure at request {k}: {zenodo.requests[k]}")
    assert failures_seen >= n_requests - 2


def test_failures_within_the_give_up_time_are_absorbed_in_one_run(local_ctx: Context) -> None:
    n_requests = _probe(local_ctx)
    for mode in ("before", "after"):
        for k in range(n_requests):
            _fresh(local_ctx.storage)
            with zenodo_standin(TOKEN) as zenodo:
                zenodo.fail_at, zenodo.fail_mode = {k}, mode
                add_published(local_ctx, versions=VERSIONS)
                report = run_backup(local_ctx, client(zenodo.url, give_up=30), lambda _: None)
                assert [o.outcome for o in report.outcomes] == ["backed up", "backed up"], (mode, k, report)
                _check(local_ctx, zenodo, f"{mode} failure at request {k}")


def test_a_storage_failure_at_every_call_then_a_rerun(storage: Storage, settings_factory) -> None:  # noqa: ANN001
    faulty = FaultyStorage(storage)
    ctx = Context(settings_factory(), storage=faulty)
    with zenodo_standin(TOKEN) as zenodo:
        add_published(ctx, versions=VERSIONS)
        faulty.calls.clear()
        run_backup(ctx, client(zenodo.url), lambda _: None)
        n_calls = len(faulty.calls)
        _check(ctx, zenodo, "probe")
    assert n_calls >= 10
    for k in range(n_calls):
        faulty.fail_at = None
        _fresh(storage)
        with zenodo_standin(TOKEN) as zenodo:
            add_published(ctx, versions=VERSIONS)
            faulty.calls.clear()
            faulty.fail_at = k
            try:
                run_backup(ctx, client(zenodo.url), lambda _: None)
            except BackofficeError:
                pass  # a failure outside a version's backup (listing concepts) ends the run
            assert len(faulty.calls) > k, "the fault was not reached"
            faulty.fail_at = None
            run_backup(ctx, client(zenodo.url), lambda _: None)
            _check(ctx, zenodo, f"storage failure at call {k}: {faulty.calls[k]}")


def test_two_runs_at_once_make_one_version_and_leave_no_draft(local_ctx: Context) -> None:
    import threading

    raced = 0
    for attempt in range(4):
        _fresh(local_ctx.storage)
        with zenodo_standin(TOKEN) as zenodo:
            add_published(local_ctx, versions=("1.0",))
            barrier = threading.Barrier(2)
            zenodo.create_barrier = threading.Barrier(2)  # both runs get to create a deposition

            def go() -> None:
                barrier.wait()
                run_backup(local_ctx, client(zenodo.url), lambda _: None)

            threads = [threading.Thread(target=go) for _ in range(2)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            zenodo.create_barrier = None
            add_published(local_ctx, versions=VERSIONS)
            run_backup(local_ctx, client(zenodo.url), lambda _: None)  # the loser's version, if any, and 2.0
            _check(local_ctx, zenodo, f"race {attempt}")
            creates = [s for s in zenodo.requests if (s.method, s.path) == ("POST", "/api/deposit/depositions")]
            discards = [s for s in zenodo.requests if s.method == "DELETE" and "/files/" not in s.path]
            assert len(discards) == len(creates) - 1  # every deposition that lost the race was discarded
            raced += len(discards)
    assert raced == 4  # the stand-in holds each create until both runs made one: every attempt races

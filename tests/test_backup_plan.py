"""The pure parts of the backup: metadata mapping, retry timing, which versions and which
files, Zenodo's error bodies as one line."""

from __future__ import annotations

from datetime import date, datetime, timezone

import pytest

from backoffice.backup.metadata import creators, is_draft_of, keywords, normalize_doi, related_identifiers, zenodo_metadata
from backoffice.backup.plan import LocalFile, needs_checksum, pending_versions, plan_files
from backoffice.storage.base import plain_md5
from backoffice.backup.retry import RetryPolicy, next_wait, parse_retry_after, should_give_up
from backoffice.backup.zenodo import RemoteFile, refusal_message
from backoffice.config.curation import BlockedVersion, CurationDecl
from backoffice.errors import NotFoundError
from backoffice.records.concept import ConceptRecord, VersionRecord

RDF = {
    "name": "Nuclei <UNet>", "description": "Segments nuclei & more", "license": "CC-BY-4.0",
    "tags": ["unet", "2d", "unet", "bioimage.io"],
    "authors": [{"name": "Ada Lovelace", "affiliation": "Engines", "orcid": "https://orcid.org/0000-0002-1825-0097"},
                {"name": "  "}, "Charles Babbage", {"name": "Grace Hopper", "github_user": "grace"}],
    "cite": [{"text": "paper", "doi": "doi:10.1234/abc.1"}, {"text": "web", "url": "https://example.org"},
             {"text": "again", "doi": "https://doi.org/10.1234/abc.1"}, {"text": "bad", "doi": "not-a-doi"}],
}


def test_metadata_mapping() -> None:
    m = zenodo_metadata("affable-shark", "model", "1.2", RDF, date(2026, 1, 31))
    assert m["title"] == "Nuclei <UNet>" and m["version"] == "1.2" and m["publication_date"] == "2026-01-31"
    assert m["upload_type"] == "software" and m["access_right"] == "open" and m["license"] == "cc-by-4.0"
    assert m["creators"] == [{"name": "Ada Lovelace", "affiliation": "Engines", "orcid": "0000-0002-1825-0097"},
                             {"name": "Charles Babbage"}, {"name": "Grace Hopper"}]
    assert m["keywords"] == ["unet", "2d", "bioimage.io"]
    assert m["related_identifiers"] == [
        {"identifier": "https://bioimage.io/#/?id=affable-shark", "relation": "isPartOf", "resource_type": "other"},
        {"identifier": "10.1234/abc.1", "relation": "cites"}]
    assert m["description"].startswith("<p>Segments nuclei &amp; more</p>")
    assert '<a href="https://bioimage.io/#/?id=affable-shark">affable-shark</a>' in m["description"]
    assert zenodo_metadata("tasty-bun", "dataset", "1", {}, date(2026, 1, 1))["upload_type"] == "dataset"
    bare = zenodo_metadata("tasty-bun", "notebook", "1", {}, date(2026, 1, 1))
    assert bare["title"] == "tasty-bun" and bare["creators"] == [] and "license" not in bare
    assert bare["keywords"] == ["bioimage.io"]


def test_metadata_helpers() -> None:
    assert normalize_doi("https://dx.doi.org/10.5281/zenodo.5") == "10.5281/zenodo.5"
    assert normalize_doi("https://example.org/10.5/x") is None
    assert creators("Ada") == [] and creators([{"name": 5}]) == []
    assert keywords(None) == ["bioimage.io"]
    assert related_identifiers("a-b", "x") == [{"identifier": "https://bioimage.io/#/?id=a-b", "relation": "isPartOf",
                                                "resource_type": "other"}]
    mine = {"metadata": {"related_identifiers": related_identifiers("a-b", [])}}
    assert is_draft_of(mine, "a-b") and not is_draft_of(mine, "a-bc") and not is_draft_of({"metadata": None}, "a-b")


def test_retry_timing() -> None:
    p = RetryPolicy(give_up_after=100, backoff=1, max_backoff=8)
    assert [next_wait(p, n, None) for n in range(6)] == [1, 2, 4, 8, 8, 8]
    assert next_wait(p, 0, 30.0) == 30.0 and next_wait(p, 3, 2.0) == 8
    assert not should_give_up(p, first_failure=0, now=50, wait=50) and should_give_up(p, first_failure=0, now=50, wait=51)
    assert parse_retry_after("12") == 12.0 and parse_retry_after(" ") is None and parse_retry_after("soon") is None
    now = datetime(2026, 1, 1, 12, 0, 0, tzinfo=timezone.utc)
    assert parse_retry_after("Thu, 01 Jan 2026 12:00:30 GMT", now) == 30.0
    assert parse_retry_after("Thu, 01 Jan 2026 11:00:00 GMT", now) == 0.0


def test_pending_versions_in_order_without_blocked_or_backed_up() -> None:
    record = ConceptRecord(id="affable-shark", type="model", versions={
        "1": VersionRecord(version="1", doi="10.5072/zenodo.1"), "2": VersionRecord(version="2"),
        "3": VersionRecord(version="3"), "4": VersionRecord(version="4")})
    decl = CurationDecl(blocked_versions=[BlockedVersion(version="3", reason="broken")])
    assert pending_versions(record, decl) == ["2", "4"]
    assert pending_versions(record, decl, "4") == ["2", "4"]
    assert pending_versions(record, decl, "2") == ["2"]
    assert pending_versions(record, decl, "1") == [] and pending_versions(record, decl, "3") == []
    with pytest.raises(NotFoundError, match="has no published version 9"):
        pending_versions(record, decl, "9")


def test_file_plan_reuses_only_matching_files() -> None:
    local = [LocalFile("rdf.yaml", "k/rdf.yaml", 10, "e1"), LocalFile("w.pt", "k/w.pt", 100, "e2"),
             LocalFile("doc/a.md", "k/doc/a.md", 5, "e3"), LocalFile("new.png", "k/new.png", 7, "e4")]
    remote = [RemoteFile("1", "rdf.yaml", 10, "aaa"), RemoteFile("2", "w.pt", 100, "bbb"),
              RemoteFile("3", "doc/a.md", 6, "ccc"), RemoteFile("4", "old.txt", 1, "ddd")]
    assert [f.name for f in needs_checksum(local, remote)] == ["rdf.yaml", "w.pt"]
    plan = plan_files(local, remote, {"rdf.yaml": "zzz", "w.pt": "bbb"})
    assert plan.keep == ["w.pt"]
    assert [r.file_id for r in plan.delete] == ["1", "3", "4"]
    assert [f.name for f in plan.upload] == ["rdf.yaml", "doc/a.md", "new.png"]
    assert plain_md5('"0123456789abcdef0123456789ABCDEF"') == "0123456789abcdef0123456789abcdef"
    assert plain_md5("0123456789abcdef0123456789abcdef-3") is None


def test_refusal_message() -> None:
    body = {"status": 400, "message": "Validation error.",
            "errors": [{"field": "metadata.license", "message": "Invalid license."}, {"messages": ["x"]}]}
    assert refusal_message(body, 400) == "Validation error. metadata.license: Invalid license.; ['x']"
    assert refusal_message("oops", 403) == "HTTP 403"

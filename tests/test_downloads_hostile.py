"""count-downloads against hostile or unlucky input: an rdf that names its description or
cover as weights, a broken state file, log objects of several prefixes in a backlog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from access_logs import D1, log_line
from test_downloads import HASH_KEY, seed

from backoffice.context import Context
from backoffice.description import summarize
from backoffice.downloads.catalog import catalog_of
from backoffice.downloads.count import count_downloads
from backoffice.downloads.state import state_place
from backoffice.records import keys
from backoffice.records.concept import ConceptRecord, ConceptStore, VersionRecord


def _concept(cid: str, rtype: str, rdf: dict[str, Any]) -> ConceptRecord:
    summary = summarize(rdf).model_copy(update={"thumbnails": {"cover.png": "cover.thumbnail.png"}})
    return ConceptRecord(id=cid, type=rtype, versions={"1": VersionRecord(version="1", summary=summary)})  # type: ignore[arg-type]


def test_an_rdf_naming_its_description_or_cover_as_weights_does_not_make_them_downloads() -> None:
    weights = {"pytorch_state_dict": {"source": "rdf.yaml"}, "onnx": {"source": "cover.png"},
               "torchscript": "./weights.pt", "keras_hdf5": {"source": "README.md"}, "tensorflow_js": "cover.thumbnail.png"}
    model = _concept("greedy-shark", "model", {"type": "model", "covers": ["cover.png"], "documentation": "README.md", "weights": weights})
    dataset = _concept("tasty-bagel", "dataset", {"type": "dataset", "weights": {"onnx": {"source": "data.onnx"}}})
    catalog = catalog_of([model, dataset], "")
    for name in ("rdf.yaml", "cover.png", "cover.thumbnail.png", "README.md"):
        assert catalog.download_of(f"greedy-shark/1/files/{name}") is None, name  # a website card's reads
    assert catalog.download_of("greedy-shark/1/files/weights.pt") == ("greedy-shark", "1")  # `./weights.pt` is this file
    assert catalog.download_of("greedy-shark/1/package.zip") == ("greedy-shark", "1")
    assert catalog.download_of("tasty-bagel/1/files/data.onnx") is None  # only models have weights
    assert catalog.download_of("tasty-bagel/1/package.zip") == ("tasty-bagel", "1")


def test_a_broken_state_file_is_one_error_line_and_stays_as_it_was(local_ctx: Context, tmp_path: Path, settings_factory: Any,
                                                                   run_cli: Any) -> None:
    settings = settings_factory()
    seed(local_ctx.storage)
    logs = tmp_path / "logs"
    logs.mkdir()
    (logs / "2026-03-01-10-00-00-AAAA").write_text(log_line(when=D1, ip="192.0.2.1", key="affable-shark/1/files/weights.pt") + "\n")
    private, shown = state_place(settings)
    places = ((private, keys.DOWNLOADS_STATE_NAME, shown),  # the state's own place
              (local_ctx.storage, keys.OLD_PUBLIC_DOWNLOADS_STATE, keys.OLD_PUBLIC_DOWNLOADS_STATE))  # one an earlier version left
    for storage, key, name in places:
        for broken in (b"{not json", json.dumps({"format": 99, "ledger": {}}).encode(), b"[]",
                       json.dumps({"format": 1, "concepts": {"x": {"total": "many"}}}).encode(),
                       json.dumps({"format": 2, "newest_day": "2026-02-32"}).encode()):
            storage.put_bytes(key, broken)
            out = run_cli(["count-downloads", str(logs)], settings=settings, BACKOFFICE_DOWNLOADS_HASH_KEY=HASH_KEY)
            assert out.returncode != 0 and out.returncode != 1, out.stderr
            assert out.stderr.strip().startswith("error: ") and len(out.stderr.strip().splitlines()) == 1, out.stderr
            assert name in out.stderr
            assert storage.get_bytes(key) == broken
        storage.delete(key)
    assert ConceptStore(local_ctx.storage).get("affable-shark").downloads is None


def test_objects_of_several_prefixes_are_read_oldest_first_so_none_is_skipped(local_ctx: Context, tmp_path: Path,
                                                                            settings_factory: Any) -> None:
    """A backlog from two prefixes (two sources, or one log prefix holding several buckets'
    dated folders): name order would read the newer prefix first, and the ledger's 30-day
    watermark, committed in between, would then pass over the older prefix's objects unread."""
    ctx = Context(settings_factory(downloads_hash_key=HASH_KEY), storage=local_ctx.storage)
    seed(ctx.storage)
    old = tmp_path / "b-logs" / "2026-01-20-10-00-00-BBBB"
    new = tmp_path / "a-logs" / "2026-03-01-10-00-00-AAAA"
    for path, day, ip in ((old, D1.replace(month=1, day=20), "192.0.2.1"), (new, D1, "192.0.2.2")):
        path.parent.mkdir(parents=True)
        path.write_text(log_line(when=day, ip=ip, key="affable-shark/1/files/weights.pt") + "\n")
    result = count_downloads(ctx, [str(new.parent), str(old.parent)], commit_seconds=0)
    assert (result.objects, result.skipped_objects, result.lines["download"]) == (2, 0, 2)
    doc = ConceptStore(ctx.storage).get("affable-shark").downloads
    assert doc is not None and doc.daily == {"2026-01-20": 1, "2026-03-01": 1}


def test_a_get_through_the_buckets_website_endpoint_is_a_download_too(local_ctx: Context, tmp_path: Path,
                                                                     settings_factory: Any) -> None:
    """S3 logs a read through the static website endpoint as `WEBSITE.GET.OBJECT`: a collection
    served that way must not count zero; HEAD and PUT stay no downloads."""
    ctx = Context(settings_factory(downloads_hash_key=HASH_KEY), storage=local_ctx.storage)
    seed(ctx.storage)
    path = tmp_path / "logs" / "2026-03-01-10-00-00-AAAA"
    path.parent.mkdir()
    key = "affable-shark/1/files/weights.pt"
    path.write_text("".join(log_line(when=D1, ip=ip, key=key, op=op) + "\n" for ip, op in (
        ("192.0.2.1", "WEBSITE.GET.OBJECT"), ("192.0.2.2", "REST.GET.OBJECT"), ("192.0.2.3", "WEBSITE.HEAD.OBJECT"),
        ("192.0.2.4", "REST.PUT.OBJECT"))))
    result = count_downloads(ctx, [str(path)])
    assert (result.lines["download"], result.lines["other_request"]) == (2, 2)


def test_access_logs_inside_the_public_collection_storage_are_refused(local_ctx: Context, tmp_path: Path,
                                                                      settings_factory: Any, run_cli: Any) -> None:
    """Access logs hold every requester's address; the collection's storage is public (its keys
    are served under the bucket URL). Logs delivered there are a leak the count must not
    make routine: refused before anything is read or written."""
    settings = settings_factory()
    seed(local_ctx.storage)
    inside = settings.local_root / "logs" / "2026-03-01-10-00-00-AAAA"
    inside.parent.mkdir(parents=True)
    inside.write_text(log_line(when=D1, ip="192.0.2.1", key="affable-shark/1/files/weights.pt") + "\n")
    for source in (str(inside.parent), f"s3://{settings.s3_bucket}/logs/"):
        out = run_cli(["count-downloads", source], settings=settings, BACKOFFICE_DOWNLOADS_HASH_KEY=HASH_KEY,
                      BACKOFFICE_S3_ENDPOINT_URL="http://127.0.0.1:9")  # nothing listens: refused before connecting
        assert out.returncode == 2, out.stderr
        assert out.stderr.strip().startswith("error: ") and "public" in out.stderr and len(out.stderr.strip().splitlines()) == 1
    assert not state_place(settings)[0].exists(keys.DOWNLOADS_STATE_NAME)

"""count-downloads against hostile or unlucky input: an rdf that names its description or
cover as weights, a broken state file, log objects of several prefixes in a backlog."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

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
    every = (b"{not json", json.dumps({"format": 99, "ledger": {}}).encode(), b"[]",
             json.dumps({"format": 1, "concepts": {"x": {"total": "many"}}}).encode(),
             json.dumps({"format": 2, "newest_day": "2026-02-32"}).encode())
    for (storage, key, name), kinds in zip(places, (every, every[:2]), strict=True):
        for broken in kinds:
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


# --- issue 26: a client that changes its agent, an impossible date, state that grows, state in public --------


def _ctx(local_ctx: Context, settings_factory: Any) -> Context:
    ctx = Context(settings_factory(downloads_hash_key=HASH_KEY), storage=local_ctx.storage)
    seed(ctx.storage)
    return ctx


def _write(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(x + "\n" for x in lines))
    return path


WEIGHTS = "affable-shark/1/files/weights.pt"


def test_twenty_user_agents_reading_one_byte_each_are_no_download(local_ctx: Context, tmp_path: Path, settings_factory: Any) -> None:
    """The attack: one address, 20 user agents, a 1-byte range read each. Counted per (address,
    agent) that was 20 downloads; a client is its address, and a download needs half the object."""
    ctx = _ctx(local_ctx, settings_factory)
    agents = [f"fetcher-{i}/1.0" for i in range(20)]
    one_byte = [log_line(when=D1, ip="192.0.2.66", key=WEIGHTS, ua=ua, status=206, size=1_000_000, sent=1) for ua in agents]
    spread = [log_line(when=D1, ip="192.0.2.67", key=k, status=206, size=1_000_000, sent=1)  # 1 byte of each download object
              for k in (WEIGHTS, "affable-shark/1/files/my weights.onnx", "affable-shark/1/package.zip")]
    result = count_downloads(ctx, [str(_write(tmp_path / "logs" / "2026-03-01-10-00-00-AAAA", one_byte + spread))])
    assert (result.lines["download"], result.lines["partial"]) == (0, 23)
    assert ConceptStore(ctx.storage).get("affable-shark").downloads is None  # nothing counted, nothing written
    # the same address reading the whole file under 20 agents: one download, attributed to the agent that completed it
    whole = [log_line(when=D1, ip="192.0.2.66", key=WEIGHTS, ua=ua, size=1_000_000) for ua in ("curl/8.5.0", *agents)]
    again = count_downloads(ctx, [str(_write(tmp_path / "logs" / "2026-03-01-11-00-00-BBBB", whole))])
    assert (again.lines["download"], again.lines["duplicate"]) == (1, 20)
    doc = ConceptStore(ctx.storage).get("affable-shark").downloads
    assert doc is not None and doc.counted == 1 and doc.tools == {"other": 1}
    state = state_place(ctx.settings)[0].get_bytes(keys.DOWNLOADS_STATE_NAME).decode()
    assert "192.0.2.6" not in state and "fetcher" not in state  # neither address nor agent kept


def test_an_impossible_date_is_skipped_counted_and_the_object_marked_read(local_ctx: Context, tmp_path: Path,
                                                                         settings_factory: Any, run_cli: Any) -> None:
    """The attack: a line dated `32/Feb/2026` ended the run, and since its log object was never
    marked read, every later run ended on it too. It is skipped and counted; the rest counts."""
    settings = settings_factory()
    seed(local_ctx.storage)
    good = log_line(when=D1, ip="192.0.2.1", key=WEIGHTS)
    bad = [log_line(when=D1, ip="192.0.2.2", key=WEIGHTS).replace("01/Mar/2026", day) for day in ("32/Feb/2026", "32/Mar/2026")]
    logs = tmp_path / "logs"  # (32/Feb was counted on a day that does not exist; 32/Mar, the newest day, ended the run)
    future = log_line(when=D1.replace(year=2099), ip="192.0.2.5", key=WEIGHTS)  # would close every real day
    _write(logs / "2026-03-01-10-00-00-AAAA", [good, *bad, "not a log line", future, log_line(when=D1, ip="192.0.2.3", key=WEIGHTS)])
    env = {"BACKOFFICE_DOWNLOADS_HASH_KEY": HASH_KEY}
    first = run_cli(["count-downloads", str(logs)], settings=settings, **env)
    assert first.returncode == 0, first.stderr
    assert "2 downloads" in first.stdout and "4 lines skipped (not in the access log format 1, no valid date 2, a date after the day of the run 1)" in first.stdout
    state = json.loads(state_place(settings)[0].get_bytes(keys.DOWNLOADS_STATE_NAME))
    assert [Path(n).name for n in state["ledger"]] == ["2026-03-01-10-00-00-AAAA"]  # marked read
    _write(logs / "2026-03-01-11-00-00-BBBB", [log_line(when=D1, ip="192.0.2.4", key=WEIGHTS)])
    second = run_cli(["count-downloads", str(logs)], settings=settings, **env)
    assert second.returncode == 0 and "1 log objects read (1 already counted)" in second.stdout, second.stdout + second.stderr
    assert "1 downloads" in second.stdout and "no line skipped" in second.stdout
    doc = ConceptStore(local_ctx.storage).get("affable-shark").downloads
    assert doc is not None and doc.counted == 3


def test_the_state_stays_bounded_however_many_requests(local_ctx: Context, tmp_path: Path, settings_factory: Any) -> None:
    """The attack: the state kept ~19 bytes per requester for 90 days. Now what grows with the
    requests is kept for the open days only: after 60 days of 150 clients a day, the state holds
    the clients of `OPEN_DAYS` days, and each further day adds no more than its daily count and
    ledger entry."""
    from datetime import timedelta

    from backoffice.downloads.tally import OPEN_DAYS

    ctx = _ctx(local_ctx, settings_factory)
    private = state_place(ctx.settings)[0]
    per_day, sizes = 150, {}
    for i in range(60):
        day = D1 + timedelta(days=i)
        lines = [log_line(when=day, ip=f"10.{i}.{c // 250}.{c % 250}", key=WEIGHTS) for c in range(per_day)]
        lines += [log_line(when=day, ip=f"10.{i}.9.{c}", key=WEIGHTS, status=206, sent=1) for c in range(20)]  # partial readers
        _write(tmp_path / "logs" / f"{day:%Y-%m-%d}-12-00-00-{i:016X}", lines)
        count_downloads(ctx, [str(tmp_path / "logs")])
        sizes[i] = len(private.get_bytes(keys.DOWNLOADS_STATE_NAME))
    state = json.loads(private.get_bytes(keys.DOWNLOADS_STATE_NAME))
    assert state["stats"]["download"] == 60 * per_day
    assert len(state["open"]) == OPEN_DAYS
    assert sum(len(d["counted"]) for d in state["open"].values()) == OPEN_DAYS * per_day
    assert sum(len(d["partial"]) for d in state["open"].values()) == OPEN_DAYS * 20
    ledger_entry = max(len(json.dumps({n: s})) for n, s in state["ledger"].items())
    per_day_growth = ledger_entry + len('"2026-03-01":150,')  # a ledger entry and a daily count, nothing per client
    assert sizes[59] - sizes[OPEN_DAYS] <= (59 - OPEN_DAYS) * per_day_growth, (sizes[OPEN_DAYS], sizes[59])


def test_the_state_is_not_in_the_public_store_nor_served(local_ctx: Context, tmp_path: Path, settings_factory: Any,
                                                         run_cli: Any) -> None:
    """The attack: the state (ledger, pseudonymised requesters) was `downloads/state.json` in the
    collection's storage, public under the bucket URL and served by `backoffice serve`."""
    import requests

    from backoffice.serve.server import serve_in_thread
    from backoffice.storage.base import ObjectNotFound
    from backoffice.storage.local import INTERNAL
    from backoffice.storage.public import PublicStorage

    ctx = _ctx(local_ctx, settings_factory)
    count_downloads(ctx, [str(_write(tmp_path / "logs" / "2026-03-01-10-00-00-AAAA", [log_line(when=D1, ip="192.0.2.1", key=WEIGHTS)]))])
    private, shown = state_place(ctx.settings)
    state = json.loads(private.get_bytes(keys.DOWNLOADS_STATE_NAME))
    (client,) = state["open"]["2026-03-01"]["counted"]
    public_keys = ctx.storage.list_keys("")
    assert not any(client.encode() in ctx.storage.get_bytes(k) for k in public_keys)  # no stored key holds the pseudonym
    assert not any(Path(shown).name in k or "ledger" in k for k in public_keys if k.startswith("downloads"))
    server, base = serve_in_thread(ctx.storage)
    try:
        for path in ("downloads/state.json", f"{INTERNAL}/downloads/state.json", f"{INTERNAL}/{keys.DOWNLOADS_STATE_NAME}"):
            r = requests.get(f"{base}/{path}", timeout=10)
            assert r.status_code in (400, 404) and client not in r.text, path
        with pytest.raises(ObjectNotFound):
            PublicStorage(base).get(keys.OLD_PUBLIC_DOWNLOADS_STATE)
    finally:
        server.shutdown()
        server.server_close()
    # a place inside the store is refused before anything is read
    out = run_cli(["count-downloads", str(tmp_path / "logs")], settings=ctx.settings, BACKOFFICE_DOWNLOADS_HASH_KEY=HASH_KEY,
                  BACKOFFICE_DOWNLOADS_STATE=str(ctx.settings.local_root / "downloads"))
    assert out.returncode == 2 and out.stderr.startswith("error: count-downloads' state at") and "public storage" in out.stderr
    assert not (ctx.settings.local_root / "downloads").exists()


def test_a_state_left_in_the_public_store_is_moved_and_removed(local_ctx: Context, tmp_path: Path, settings_factory: Any) -> None:
    """An earlier version's state (format 1, in the public store): its counts and ledger carry over
    into the private place, and the public copy is removed, even when no new log object came."""
    ctx = _ctx(local_ctx, settings_factory)
    logs = tmp_path / "logs"
    read = _write(logs / "2026-03-01-10-00-00-AAAA", [log_line(when=D1, ip="192.0.2.1", key=WEIGHTS)])
    old = {"format": 1, "newest_day": "2026-03-01", "watermark": "", "ledger": {str(read.resolve()): "2026-03-01"},
           "stats": {"lines": 1, "download": 1}, "pending": list[str](),
           "concepts": {"affable-shark": {"total": 7, "versions": {"1": 7}, "tools": {"bioimageio": 7}, "days": {"2026-03-01": 7}}},
           "seen": {"2026-03-01": {"affable-shark/1": ["0123456789abcdef"]}}}
    ctx.storage.put_bytes(keys.OLD_PUBLIC_DOWNLOADS_STATE, json.dumps(old).encode())
    result = count_downloads(ctx, [str(logs)])
    assert (result.objects, result.skipped_objects) == (0, 1)  # the ledger carried over: not counted again
    assert not ctx.storage.exists(keys.OLD_PUBLIC_DOWNLOADS_STATE)
    state = json.loads(state_place(ctx.settings)[0].get_bytes(keys.DOWNLOADS_STATE_NAME))
    assert state["format"] == 2 and state["concepts"]["affable-shark"]["total"] == 7 and "seen" not in state
    assert "0123456789abcdef" not in json.dumps(state)

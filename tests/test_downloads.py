"""count-downloads on access logs in AWS's format written by the suite: every rule of what
counts, exactly once across runs and after a SIGKILL, on a local folder and on moto."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any, cast

import pytest
from access_logs import RECORDS, UA, D1, expected, log_line, object_names, scenario
from cli_runner import cli_environ

from backoffice.context import Context
from backoffice.downloads.agents import classify_agent
from backoffice.downloads.count import count_downloads
from backoffice.downloads.logline import AccessLine, parse_line
from backoffice.downloads.state import state_place
from backoffice.records import keys
from backoffice.records.concept import ConceptStore, DownloadCounts
from backoffice.storage.base import Storage

HASH_KEY = "test-downloads-hash-key-5d1e0a"


def write_logs(folder: Path, parts: list[list[Any]], names: list[str] | None = None) -> list[Path]:
    out: list[Path] = []
    for name, part in zip(names or object_names(), parts, strict=True):
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(x.line + "\n" for x in part))
        out.append(path)
    return out


def seed(storage: Storage, legacy: int | None = None) -> None:
    store = ConceptStore(storage)
    for r in RECORDS:
        r = r.model_copy(deep=True)
        if legacy is not None and r.id == "affable-shark":
            r.downloads = DownloadCounts(legacy=legacy)
        store.create(r)


def private(ctx: Context) -> Storage:
    """Where the counting state is kept (with the local backend: the store's internal folder)."""
    return state_place(ctx.settings)[0]


def state_of(ctx: Context) -> dict[str, Any]:
    return json.loads(private(ctx).get_bytes(keys.DOWNLOADS_STATE_NAME))


def assert_counts(storage: Storage, state: dict[str, Any], parts: list[list[Any]], legacy: int = 0) -> None:
    want = expected(parts)
    assert {k: v for k, v in state["stats"].items() if k != "lines" and v} == dict(want["outcomes"])
    assert state["stats"]["lines"] == sum(len(p) for p in parts)
    for r in RECORDS:
        doc = ConceptStore(storage).get(r.id).downloads
        assert doc is not None
        assert doc.counted == want["concepts"][r.id]  # type: ignore[index]
        assert doc.legacy == (legacy if r.id == "affable-shark" else 0)
        assert doc.versions == {v: n for (c, v), n in want["versions"].items() if c == r.id}  # type: ignore[union-attr]
        assert doc.tools == {t: n for (c, t), n in want["tools"].items() if c == r.id}  # type: ignore[union-attr]
        assert doc.daily == {d: n for (c, d), n in want["days"].items() if c == r.id}  # type: ignore[union-attr]
        series = json.loads(storage.get_bytes(keys.downloads_json(r.id)))
        assert len(series["daily"]) == 90 and series["daily"][-1]["day"] == "2026-03-02"
        assert sum(d["downloads"] for d in series["daily"]) == doc.counted
        assert series["download_count"] == doc.counted + doc.legacy


def test_parse_line_reads_the_documented_fields() -> None:
    line = parse_line(log_line(when=D1, ip="192.0.2.3", key="a b/c.pt", status=206, ua=UA["firefox"], size=1000, sent=300))
    assert isinstance(line, AccessLine)
    assert (line.bucket, line.day, line.remote_ip, line.operation, line.key, line.status, line.bytes_sent, line.object_size) == (
        "bioimageio-collection", "2026-03-01", "192.0.2.3", "REST.GET.OBJECT", "a b/c.pt", 206, 300, 1000)
    assert line.user_agent == UA["firefox"]
    quoted = parse_line(log_line(when=D1, ip="192.0.2.3", key="k", ua='odd "agent" 1'))
    assert isinstance(quoted, AccessLine) and quoted.user_agent == 'odd "agent" 1'
    older = log_line(when=D1, ip="192.0.2.3", key="k").rsplit('"', 1)[0] + '"'  # a store that writes no fields after the agent
    assert isinstance(parse_line(older), AccessLine)
    assert parse_line(log_line(when=D1, ip="192.0.2.3", key="k").split(' - ', 1)[0]) == "format"  # cut after the address
    assert parse_line(older[:-1]) == "format"  # the agent's quote not closed
    assert parse_line("") == "format"
    whole = log_line(when=D1, ip="192.0.2.3", key="k", status=404)
    assert parse_line(whole.replace("01/Mar/2026", "32/Feb/2026")) == "date"  # not a day of the calendar
    assert parse_line(whole.replace("01/Mar/2026", "29/Feb/2026")) == "date"  # 2026 is no leap year
    assert parse_line(log_line(when=D1.replace(year=9999, month=12, day=31, hour=23), ip="192.0.2.3", key="k", tz="-0200")) == "date"
    assert parse_line(whole.replace(" 404 NoSuchKey - 1000 ", " 404 NoSuchKey x 1000 ")) == "size"
    missing = parse_line(whole)  # a 404 sends nothing: `-`
    assert isinstance(missing, AccessLine) and missing.bytes_sent == 0


@pytest.mark.parametrize(("agent", "tool"), [
    (UA["core"], "bioimageio"), (UA["spec"], "bioimageio"), (UA["firefox"], "browser"), (UA["deepimagej"], "deepimagej"),
    ("JDLL/0.5 Java/17", "deepimagej"), (UA["ilastik"], "ilastik"), (UA["curl"], "other"), ("", "other"),
    (UA["googlebot"], None), (UA["ci"], None), ("Mozilla/5.0 (compatible; bingbot/2.0)", None), ("UptimeRobot/2.0", None),
])
def test_agents(agent: str, tool: str | None) -> None:
    assert classify_agent(agent) == tool


def test_counts_exactly_as_defined_and_each_object_once(local_ctx: Context, tmp_path: Path, settings_factory: Any) -> None:
    ctx = Context(settings_factory(downloads_hash_key=HASH_KEY), storage=local_ctx.storage)
    seed(ctx.storage, legacy=1000)
    parts = scenario()
    files = write_logs(tmp_path / "logs", parts)
    result = count_downloads(ctx, [str(tmp_path / "logs")])
    assert result.objects == 3 and result.lines["download"] == 10 == sum(expected(parts)["concepts"].values())  # type: ignore[union-attr]
    assert_counts(ctx.storage, state_of(ctx), parts, legacy=1000)
    state = private(ctx).get_bytes(keys.DOWNLOADS_STATE_NAME).decode()
    assert "192.0.2.1" not in state and "203.0.113" not in state and HASH_KEY not in state  # no address stored
    again = count_downloads(ctx, [str(tmp_path / "logs"), str(files[0])])
    assert (again.objects, again.skipped_objects, again.lines["lines"]) == (0, 3, 0)
    assert_counts(ctx.storage, state_of(ctx), parts, legacy=1000)
    # a new object: the requester seen on day 1 in an earlier object stays a repeat; a new one counts
    late = [[_line("duplicate", "192.0.2.1"), _line("download", "192.0.2.99")]]
    write_logs(tmp_path / "logs", late, [f"access-logs/2026-03-01-23-00-00-{'F' * 16}"])
    third = count_downloads(ctx, [str(tmp_path / "logs")])
    assert (third.objects, third.lines["download"], third.lines["duplicate"]) == (1, 1, 1)
    assert ConceptStore(ctx.storage).get("affable-shark").downloads.counted == expected(parts)["concepts"]["affable-shark"] + 1  # type: ignore[union-attr,index]


def _line(outcome: str, ip: str) -> Any:
    from access_logs import Labelled

    return Labelled(log_line(when=D1, ip=ip, key="affable-shark/1/files/weights.pt"), outcome)


def test_publish_is_redone_after_a_crash_before_it(local_ctx: Context, tmp_path: Path, settings_factory: Any) -> None:
    ctx = Context(settings_factory(downloads_hash_key=HASH_KEY), storage=local_ctx.storage)
    seed(ctx.storage)
    parts = scenario()
    write_logs(tmp_path / "logs", parts)
    count_downloads(ctx, [str(tmp_path / "logs")])
    # as if killed after committing the counts but before writing them to the documents
    state = state_of(ctx)
    state["pending"] = ["affable-shark"]
    private(ctx).put_bytes(keys.DOWNLOADS_STATE_NAME, json.dumps(state).encode())
    ConceptStore(ctx.storage).update("affable-shark", lambda r: setattr(r, "downloads", None))
    assert count_downloads(ctx, [str(tmp_path / "logs")]).concepts_updated == 1
    assert_counts(ctx.storage, state_of(ctx), parts)


def test_bad_input_leaves_the_state_alone(local_ctx: Context, tmp_path: Path, settings_factory: Any, run_cli: Any) -> None:
    settings = settings_factory()
    seed(local_ctx.storage)
    missing = run_cli(["count-downloads", str(tmp_path / "nowhere")], settings=settings, BACKOFFICE_DOWNLOADS_HASH_KEY=HASH_KEY)
    assert missing.returncode == 4 and missing.stderr.strip().startswith("error: no log file or folder")
    write_logs(tmp_path / "logs", scenario())
    no_key = run_cli(["count-downloads", str(tmp_path / "logs")], settings=settings)
    assert no_key.returncode == 2 and "BACKOFFICE_DOWNLOADS_HASH_KEY" in no_key.stderr
    assert not private(local_ctx).exists(keys.DOWNLOADS_STATE_NAME)


def test_sigkill_mid_run_then_rerun_counts_each_line_once(local_ctx: Context, tmp_path: Path, settings_factory: Any) -> None:
    settings = settings_factory()
    seed(local_ctx.storage)
    # many objects: the scenario's lines again and again (same requesters: repeats), plus one new requester per object
    base = scenario()
    names = [f"access-logs/2026-03-01-{h:02d}-{m:02d}-00-{h:02d}{m:02d}{'A' * 12}" for h in range(4) for m in range(0, 60, 2)]
    parts = [[x for p in base for x in p] + [_line("download", f"10.0.{i // 250}.{i % 250}")] for i in range(len(names))]
    write_logs(tmp_path / "logs", parts, names)
    env = cli_environ(settings, BACKOFFICE_DOWNLOADS_HASH_KEY=HASH_KEY, BACKOFFICE_DOWNLOADS_COMMIT_SECONDS="0")
    cmd = [sys.executable, "-m", "backoffice", "count-downloads", str(tmp_path / "logs")]
    proc = subprocess.Popen(cmd, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    state_file = Path(state_place(settings)[1])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if len(json.loads(state_file.read_text())["ledger"]) >= 5:
                break
        except (OSError, ValueError):
            pass
        time.sleep(0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    done = len(json.loads(state_file.read_text())["ledger"])
    assert 0 < done < len(names), "the kill must land mid-run"
    rerun = subprocess.run(cmd, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    state = json.loads(state_file.read_text())
    assert len(state["ledger"]) == len(names)
    assert state["stats"]["lines"] == sum(len(p) for p in parts)  # every line read once
    first = expected(base)
    doc = ConceptStore(local_ctx.storage).get("affable-shark").downloads
    assert doc is not None and doc.counted == first["concepts"]["affable-shark"] + len(names)  # type: ignore[index]
    assert state["stats"]["download"] == sum(first["concepts"].values()) + len(names)  # type: ignore[union-attr]


def test_logs_from_a_log_prefix_on_moto(moto_server: str, s3_storage: Storage, tmp_path: Path, settings_factory: Any, run_cli: Any) -> None:
    import boto3

    prefix = "collection-test/"  # the conftest bucket's collection prefix: log keys carry it
    seed(s3_storage)
    client: Any = cast(Any, boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",  # pyright: ignore[reportUnknownMemberType]
                          aws_access_key_id="testing", aws_secret_access_key="testing"))
    log_bucket = s3_storage.bucket + "-logs"  # type: ignore[attr-defined]
    client.create_bucket(Bucket=log_bucket)
    # the collection's bucket is the one the log lines name
    lines = [[type(x)(x.line.replace("bioimageio-collection", s3_storage.bucket), x.outcome, x.download)  # type: ignore[attr-defined]
              for x in p] for p in scenario(prefix)]
    for name, part in zip(object_names("access/"), lines, strict=True):
        client.put_object(Bucket=log_bucket, Key=name, Body="".join(x.line + "\n" for x in part).encode())
    client.put_object(Bucket=log_bucket, Key="elsewhere/2026-03-01-00-00-00-X", Body=b"not read")
    s3 = {"BACKOFFICE_STORAGE": "s3", "BACKOFFICE_S3_ENDPOINT_URL": moto_server, "BACKOFFICE_S3_BUCKET": s3_storage.bucket,  # type: ignore[attr-defined]
          "BACKOFFICE_S3_PREFIX": prefix, "BACKOFFICE_S3_ACCESS_KEY_ID": "testing", "BACKOFFICE_S3_SECRET_ACCESS_KEY": "testing",
          "BACKOFFICE_DOWNLOADS_HASH_KEY": HASH_KEY, "BACKOFFICE_DOWNLOADS_LOG_SOURCE": f"s3://{log_bucket}/access/"}
    unset = run_cli(["count-downloads"], settings=settings_factory(), **s3)  # S3 has no private place of its own
    assert unset.returncode == 2 and unset.stderr.startswith("error: BACKOFFICE_DOWNLOADS_STATE must name a private place"), unset.stderr
    public = run_cli(["count-downloads"], settings=settings_factory(), **s3, BACKOFFICE_DOWNLOADS_STATE=f"s3://{s3_storage.bucket}/private/")  # type: ignore[attr-defined]
    assert public.returncode == 2 and "public storage" in public.stderr, public.stderr
    s3["BACKOFFICE_DOWNLOADS_STATE"] = f"s3://{log_bucket}/counting/"
    first = run_cli(["count-downloads", "--index"], settings=settings_factory(), **s3)
    assert first.returncode == 0, first.stderr
    assert "3 log objects read" in first.stdout and HASH_KEY not in first.stdout + first.stderr
    state_key = "counting/" + keys.DOWNLOADS_STATE_NAME
    assert_counts(s3_storage, json.loads(client.get_object(Bucket=log_bucket, Key=state_key)["Body"].read()), lines)
    assert not [k for k in s3_storage.list_keys("") if "state" in k]  # nothing of it in the public bucket
    again = run_cli(["count-downloads"], settings=settings_factory(), **s3)
    assert "0 log objects read (3 already counted)" in again.stdout
    collection = json.loads(s3_storage.get_bytes(keys.COLLECTION_JSON))
    want = expected(lines)
    shark = next(e for e in collection["collection"] if e["id"] == "affable-shark")
    assert shark["download_count"] == want["concepts"]["affable-shark"]  # type: ignore[index]
    assert {v["version"]: v["download_count"] for v in shark["versions"]} == {"1": want["versions"][("affable-shark", "1")],  # type: ignore[index]
                                                                              "2": want["versions"][("affable-shark", "2")]}  # type: ignore[index]
    tools: dict[str, int] = {}
    for (_, tool), n in want["tools"].items():  # type: ignore[union-attr]
        tools[tool] = tools.get(tool, 0) + n
    assert collection["downloads_by_tool"] == tools
    before = client.get_object(Bucket=log_bucket, Key=state_key)["ETag"]
    for source, code in ((f"s3://{log_bucket}-missing/access/", 3), (f"s3://{log_bucket}/nothing-here/", 4)):
        bad = run_cli(["count-downloads", source], settings=settings_factory(), **s3)
        assert bad.returncode == code and len(bad.stderr.strip().splitlines()) == 1 and bad.stderr.startswith("error: "), bad.stderr
    assert client.get_object(Bucket=log_bucket, Key=state_key)["ETag"] == before  # the state stands


def test_nightly_workflow_runs_no_uploaded_code_and_restores_nothing() -> None:
    from ruamel.yaml import YAML

    wf = YAML(typ="safe").load((Path(__file__).resolve().parents[1] / ".github/workflows/count_downloads.yaml").read_text())
    assert "schedule" in wf["on"] and "workflow_dispatch" in wf["on"]
    (job,) = wf["jobs"].values()
    steps = job["steps"]
    uses = [str(s.get("uses", "")) for s in steps]
    assert not any(u.startswith(("actions/cache", "actions/download-artifact")) for u in uses)
    assert all("cache" not in s.get("with", {}) for s in steps if str(s.get("uses", "")).startswith("actions/setup-python"))
    runs = " ".join(str(s.get("run", "")) for s in steps)
    assert "backoffice count-downloads" in runs and "backoffice generate-collection-json" in runs
    for uploaded in ("backoffice test", "run-test", "stage", "pip install -r", "run-partner-check"):
        assert uploaded not in runs
    assert job["env"]["BACKOFFICE_DOWNLOADS_HASH_KEY"] == "${{ secrets.DOWNLOADS_HASH_KEY }}"
    assert job["env"]["BACKOFFICE_DOWNLOADS_STATE"] == "${{ vars.DOWNLOADS_STATE }}"  # the state's private place


def test_ledger_forgets_old_dated_objects_but_never_recounts_them(local_ctx: Context, tmp_path: Path, settings_factory: Any) -> None:
    from datetime import timedelta

    from access_logs import Labelled

    ctx = Context(settings_factory(downloads_hash_key=HASH_KEY), storage=local_ctx.storage)
    seed(ctx.storage)
    days = [D1 + timedelta(days=i) for i in range(0, 120, 4)]  # 30 objects over 4 months
    names = [f"access-logs/{d:%Y-%m-%d}-12-00-00-{i:016X}" for i, d in enumerate(days)]
    parts = [[Labelled(log_line(when=d, ip="192.0.2.1", key="affable-shark/1/files/weights.pt"), "download")] for d in days]
    write_logs(tmp_path / "logs", parts, names)
    assert count_downloads(ctx, [str(tmp_path / "logs")]).lines["download"] == 30
    state = state_of(ctx)
    newest = days[-1].date()
    assert state["watermark"] == (newest - timedelta(days=30)).isoformat()
    assert sorted(state["ledger"]) == sorted(str((tmp_path / "logs" / n).resolve()) for n, d in zip(names, days, strict=True)
                                             if d.date() >= newest - timedelta(days=30))
    window = [d.date().isoformat() for d in days if d.date() >= newest - timedelta(days=89)]
    assert sorted(state["open"]) == [newest.isoformat()]  # clients kept for the open days only (one here: every 4th day)
    again = count_downloads(ctx, [str(tmp_path / "logs")])
    assert (again.objects, again.skipped_objects) == (0, 30)
    # a line for a closed day (here: before the 90-day window too) arrives late: skipped, not counted
    late = [[Labelled(log_line(when=D1, ip="192.0.2.50", key="affable-shark/1/files/weights.pt"), "late")]]
    write_logs(tmp_path / "logs", late, [f"access-logs/{days[-1]:%Y-%m-%d}-23-00-00-{'E' * 16}"])
    third = count_downloads(ctx, [str(tmp_path / "logs")])
    assert (third.objects, third.lines["late"], third.lines["download"]) == (1, 1, 0)
    doc = ConceptStore(ctx.storage).get("affable-shark").downloads
    assert doc is not None and doc.counted == 30 and sorted(doc.daily) == window


def test_a_second_run_cannot_commit_over_the_first(local_ctx: Context, tmp_path: Path, settings_factory: Any) -> None:
    from backoffice.downloads.state import StateStore
    from backoffice.errors import ConflictError

    ctx = Context(settings_factory(downloads_hash_key=HASH_KEY), storage=local_ctx.storage)
    seed(ctx.storage)
    write_logs(tmp_path / "logs", scenario())
    count_downloads(ctx, [str(tmp_path / "logs")])
    slow = StateStore(ctx)
    tally = slow.load()
    write_logs(tmp_path / "logs", [[_line("download", "192.0.2.77")]], [f"access-logs/2026-03-02-00-00-00-{'C' * 16}"])
    count_downloads(ctx, [str(tmp_path / "logs")])  # another run commits meanwhile
    tally.mark_processed("x")
    with pytest.raises(ConflictError):
        slow.commit(tally)
    assert "x" not in state_of(ctx)["ledger"]


def test_requester_hashes_do_not_link_days_or_versions(local_ctx: Context, tmp_path: Path, settings_factory: Any) -> None:
    from access_logs import Labelled

    ctx = Context(settings_factory(downloads_hash_key=HASH_KEY), storage=local_ctx.storage)
    seed(ctx.storage)
    reads = [(D1, "1"), (D1, "2"), (D1.replace(day=2), "1")]
    write_logs(tmp_path / "logs", [[Labelled(log_line(when=d, ip="192.0.2.1", key=f"affable-shark/{v}/files/weights.pt"), "download")
                                    for d, v in reads]], ["access-logs/2026-03-02-12-00-00-ABCDEF0123456789"])
    assert count_downloads(ctx, [str(tmp_path / "logs")]).lines["download"] == 3
    hashes = [h for day in state_of(ctx)["open"].values() for h in day["counted"]]
    assert len(hashes) == 3 == len(set(hashes))  # one requester, three unrelated pseudonyms

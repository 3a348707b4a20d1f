"""import-collection as the attack (issue 26, issue 25 "Progress and limits"): a source on an
allowed host redirecting to 127.0.0.2, files redirecting there, a host that never answers, a
response that never ends, a folder with links and `..`, deep JSON, YAML bombs (UTF-16 and a
402-byte one), and user data that rich would have read as markup or emoji codes."""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Iterator
from datetime import datetime
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.errors import ImportSourceError, ValidationFailedError
from backoffice.importer import sources
from backoffice.importer.progress import DISPLAYS, ImportProgress, display_for
from backoffice.importer.run import import_collection
from import_helpers import AT, copy_running

pytest_plugins = ["backoffice_fixtures"]


class _Handler(SimpleHTTPRequestHandler):
    """Serves a folder; a path in `redirects` answers 302 to its target; `endless` paths stream forever."""

    redirects: dict[str, str] = {}
    endless: set[str] = set()
    hits: list[str]

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return

    def do_GET(self) -> None:  # noqa: N802
        self.hits.append(self.path)
        if self.path in self.redirects:
            self.send_response(302)
            self.send_header("Location", self.redirects[self.path])
            self.end_headers()
            return
        if self.path in self.endless:
            self.send_response(200)
            self.end_headers()
            try:
                for _ in range(10_000):  # 10 MB at most, should the reader not stop
                    self.wfile.write(b"[0," * 341 + b"0")
            except OSError:
                pass
            return
        super().do_GET()


def _serve(folder: Path, host: str = "127.0.0.1", **kw: Any) -> tuple[ThreadingHTTPServer, type[_Handler]]:
    handler = type("H", (_Handler,), {"redirects": dict(kw.get("redirects", {})), "endless": set(kw.get("endless", ())),
                                      "hits": []})
    server = ThreadingHTTPServer((host, 0), partial(handler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, handler


@pytest.fixture
def metadata(tmp_path: Path) -> Iterator[tuple[str, type[_Handler]]]:
    """A "metadata service" on 127.0.0.2 serving a valid running collection: what must never be fetched."""
    folder = copy_running(tmp_path / "metadata")
    server, handler = _serve(folder, "127.0.0.2")
    yield f"http://127.0.0.2:{server.server_address[1]}", handler
    server.shutdown()
    server.server_close()


def _import(ctx: Context, *src: str, **kw: Any):  # noqa: ANN202
    return import_collection(ctx, list(src), at=datetime.fromisoformat(AT), workers=1, **kw)


def test_a_source_redirecting_to_127_0_0_2_is_refused_and_nothing_stored(local_ctx: Context, tmp_path: Path,
                                                                          metadata: tuple[str, type[_Handler]]) -> None:
    target, seen = metadata
    public = tmp_path / "public"
    public.mkdir()
    server, _ = _serve(public, redirects={"/collection/index.json": f"{target}/index.json"})
    try:
        with pytest.raises(ImportSourceError) as e:
            _import(local_ctx, f"http://127.0.0.1:{server.server_address[1]}/collection", files=False)
    finally:
        server.shutdown()
        server.server_close()
    assert "127.0.0.2, a loopback, link-local or private address" in str(e.value) and "\n" not in str(e.value)
    assert seen.hits == [] and list(local_ctx.storage.list_keys("")) == []


def test_an_rdf_and_a_file_redirecting_to_127_0_0_2_stay_remote(local_ctx: Context, tmp_path: Path,
                                                                 metadata: tuple[str, type[_Handler]]) -> None:
    from backoffice.demo.packages import build_model_package
    from test_import_files import CID, _publish_running  # pyright: ignore[reportPrivateUsage]

    target, seen = metadata
    package = build_model_package(tmp_path / "m.zip", formats=("onnx",), concept_id=CID, version="1.0")
    served = tmp_path / "served"
    server, handler = _serve(served)
    base = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        running, contents = _publish_running(package, served, base)
        victim = next(n for n in sorted(contents) if n.endswith(".npy"))
        handler.redirects[f"/bioimage-io/artifacts/{CID}/files/{victim}?version=v0"] = f"{target}/index.json"
        _import(local_ctx, str(running), files=True)
        v0 = local_ctx.concepts.get(CID).versions["v0"]
        assert v0.legacy is not None and v0.legacy.rdf_exact
        assert "127.0.0.2, a loopback" in v0.legacy.remote_files[victim].reason
        assert not local_ctx.storage.exists(f"{CID}/v0/files/{victim}")
        rdf_path = f"/bioimage-io/artifacts/{CID}/files/rdf.yaml?version=v0"  # now the rdf itself
        handler.redirects[rdf_path] = f"{target}/index.json"
        other = Context(local_ctx.settings, storage=type(local_ctx.storage)(tmp_path / "store2", "http://127.0.0.1:8765"))  # type: ignore[call-arg]
        _import(other, str(running), files=True)
        v0 = other.concepts.get(CID).versions["v0"]
        assert v0.legacy is not None and not v0.legacy.rdf_exact
        assert all("127.0.0.2, a loopback" in f.reason for f in v0.legacy.remote_files.values())
        assert other.storage.list_keys(f"{CID}/v0/files/") == [f"{CID}/v0/files/rdf.yaml"]
    finally:
        server.shutdown()
        server.server_close()
    assert seen.hits == []


def test_a_host_that_never_answers_costs_the_time_limit_once(local_ctx: Context, tmp_path: Path) -> None:
    """Every version's rdf is on a host that accepts connections and never answers: after the
    time limit, the host's remaining files stay remote with the reason, without a request."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    accepted: list[socket.socket] = []

    def accept() -> None:
        while True:
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                return

    threading.Thread(target=accept, daemon=True).start()
    src = copy_running(tmp_path / "running")
    index = json.loads((src / "index.json").read_text())
    port = listener.getsockname()[1]
    for item in index["items"]:
        for v in item["versions"]:
            v["source"] = f"http://127.0.0.1:{port}/{item['id']}/{v['version']}/rdf.yaml"
    (src / "index.json").write_text(json.dumps(index))
    try:
        [report] = _import(local_ctx, str(src), files=True, host_time_limit=1.0)
    finally:
        listener.close()
        for s in accepted:
            s.close()
    reasons: list[str] = [f.reason for cid in local_ctx.concepts.list_ids() for v in local_ctx.concepts.get(cid).versions.values()
                          if v.legacy is not None for f in v.legacy.remote_files.values()]
    versions = sum(len(i["versions"]) for i in index["items"])
    # every resource is created (but the one whose rdf upstream could not read), its files left remote
    assert report.count("create") == len(index["items"]) - sum(report.refusals().values()) and len(accepted) <= 2 < versions
    assert sum("used up the import's time limit of 1 s per file host" in r for r in reasons) > len(reasons) // 2


def test_a_response_that_never_ends_is_cut_at_the_cap(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sources, "MAX_JSON_BYTES", 100_000)
    server, handler = _serve(tmp_path, endless={"/index.json"})
    try:
        reader = sources.open_reader(f"http://127.0.0.1:{server.server_address[1]}", 10.0, ("127.0.0.1",))
        with pytest.raises(ImportSourceError, match="larger than the limit of 100000 bytes"):
            sources.load_index(reader)
    finally:
        server.shutdown()
        server.server_close()
    assert handler.hits == ["/index.json"]


def test_a_folder_source_stays_inside_and_follows_no_link(tmp_path: Path) -> None:
    src = copy_running(tmp_path / "running")
    secret = tmp_path / "secret.json"
    secret.write_text('{"rdf_content": {}, "rdf_yaml_sha256": "x"}')
    summary = src / "reports" / "bioimage-io" / "affable-shark" / "v0" / "summary.json"
    summary.unlink()
    summary.symlink_to(secret)
    reader = sources.open_reader(str(src))
    with pytest.raises(ImportSourceError, match="symbolic link; links are not followed"):
        reader.read("reports/bioimage-io/affable-shark/v0/summary.json")
    with pytest.raises(ImportSourceError, match="leaves the collection's folder"):
        reader.read("reports/../../secret.json")
    linked = src / "reports" / "bioimage-io" / "elsewhere"
    linked.symlink_to(tmp_path, target_is_directory=True)
    with pytest.raises(ImportSourceError, match="symbolic link"):
        reader.list("reports/bioimage-io/elsewhere")
    (src / "reports" / "bioimage-io" / "chatty-frog" / "v0" / "reports" / "link.json").symlink_to(secret)
    assert "link.json" not in (reader.list("reports/bioimage-io/chatty-frog/v0/reports") or [])


def test_deeply_nested_json_is_refused_with_one_line(tmp_path: Path) -> None:
    src = tmp_path / "deep"
    src.mkdir()
    (src / "index.json").write_text('{"items": ' + "[" * 50_000 + "]" * 50_000 + "}")
    with pytest.raises(ImportSourceError, match="nests lists or objects more than 100 levels deep"):
        sources.load_index(sources.open_reader(str(src)))
    (src / "index.json").write_text('{"items": [], "s": "' + "[" * 500 + '"}')  # brackets in a string are no nesting
    assert sources.load_index(sources.open_reader(str(src))).items == []


def _bomb(levels: int = 9) -> str:
    """9 levels of 9 aliases (9**9 strings once expanded) in fewer than 402 bytes."""
    names = "abcdefghi"[:levels]
    lines = ["a: &a [x,x,x,x,x,x,x,x,x]"]
    lines += [f"{n}: &{n} [{','.join([f'*{names[i - 1]}'] * 9)}]" for i, n in enumerate(names) if i]
    return "\n".join(lines) + "\n"


def test_a_402_byte_bomb_in_an_imported_gitops_rdf_is_refused(tmp_path: Path) -> None:
    bomb = _bomb()
    assert len(bomb.encode()) <= 402
    (tmp_path / "rdfs" / "10.5281" / "zenodo.1" / "2").mkdir(parents=True)
    (tmp_path / "rdfs" / "10.5281" / "zenodo.1" / "2" / "rdf.yaml").write_text(bomb)
    (tmp_path / "collection.json").write_text(json.dumps({"collection": [
        {"id": "10.5281/zenodo.1", "nickname": "affable-shark", "versions": ["2"], "type": "model"}]}))
    [entry] = sources.load_gitops(str(tmp_path / "collection.json"))
    assert entry.record_files == {}  # refused by the guard, never expanded


def test_a_utf16_bomb_is_refused_by_the_backups_rdf_reader(local_ctx: Context, tmp_path: Path) -> None:
    from backoffice.backup.executor import load_rdf
    from backoffice.util.yaml_guard import yaml_bytes_problem, yaml_problem

    src = copy_running(tmp_path / "running")
    index = json.loads((src / "index.json").read_text())
    index["items"] = [i for i in index["items"] if i["id"] == "bioimage-io/chatty-frog"]
    (src / "index.json").write_text(json.dumps(index))
    _import(local_ctx, str(src), files=False)
    v0 = local_ctx.concepts.get("chatty-frog").versions["v0"]
    utf16 = ("type: model\n" + _bomb()).encode("utf-16")  # with its byte order mark
    local_ctx.storage.put_bytes(f"chatty-frog/v0/files/{v0.rdf_name}", utf16)
    with pytest.raises(ValidationFailedError, match="is not UTF-8 text"):
        load_rdf(local_ctx, "chatty-frog", "v0")
    assert yaml_bytes_problem(utf16, "rdf.yaml") == "rdf.yaml is not UTF-8 text"
    problem = yaml_problem(utf16.decode("utf-8", errors="replace"), "rdf.yaml")  # what the guard used to see
    assert problem is not None and problem.startswith("rdf.yaml is not valid YAML")  # a parser error refuses


def test_progress_lines_and_refusals_as_they_happen(local_ctx: Context, tmp_path: Path) -> None:
    assert display_for(True, github_actions=False) == "terminal" and DISPLAYS["terminal"].bar
    assert display_for(False, github_actions=False) == "log" and display_for(True, github_actions=True) == "github-actions"
    assert DISPLAYS["github-actions"].every > DISPLAYS["log"].every
    now = [0.0]
    said: list[str] = []
    progress = ImportProgress(said.append, every=30.0, clock=lambda: now[0])
    progress.expect(resources=2, versions=3)
    progress.advance(resources=1, bytes=1500)
    assert said == []  # not yet 30 s
    now[0] = 31.0
    progress.advance(versions=2)
    assert said == ["resources 1/2, versions 2/3, files 0/0, 1.5 kB"]

    src = copy_running(tmp_path / "running")
    summary_path = src / "reports" / "bioimage-io" / "romantic-shark" / "v1" / "summary.json"
    summary = json.loads(summary_path.read_text())
    summary["rdf_yaml_sha256"] = "cd" * 32
    summary_path.write_text(json.dumps(summary))
    lines: list[str] = []
    seen = ImportProgress(lines.append)
    _import(local_ctx, str(src), files=False, progress=seen)
    assert [ln for ln in lines if ln.startswith("romantic-shark: v1: refused: summary.json's rdf has sha256 cdcdcdcdcdcd")]
    assert seen.counts.done["resources"] == seen.counts.total["resources"] == len(json.loads((src / "index.json").read_text())["items"])


def test_user_data_is_printed_as_plain_text(capsys: pytest.CaptureFixture[str]) -> None:
    from backoffice.cli.common import console

    text = "fiji:Fiji: [red]imjoy:vizarr[/red] :smile: [link=http://x]y[/link]"
    console.print(text)
    assert capsys.readouterr().out == text + "\n"


def test_no_cli_text_is_written_as_markup() -> None:
    """Styles are `Text` spans: no `[style]...[/style]` markup in a string the CLI prints."""
    import ast

    cli = Path(__file__).resolve().parents[1] / "backoffice" / "cli"
    found = [f"{p.name}:{n.lineno}" for p in sorted(cli.glob("*.py")) for n in ast.walk(ast.parse(p.read_text()))
             if isinstance(n, ast.Constant) and isinstance(n.value, str) and "[/" in n.value]
    assert found == []


def test_the_host_clock_counts_only_waiting_for_nothing() -> None:
    from backoffice.importer.files import HostClock

    clock = HostClock(10.0, clock=lambda: 0.0)
    a, b = "http://a.example/x", "http://b.example:8080/y"
    clock.waited(a, 6.0)
    assert clock.left(a) == 4.0 and clock.left(b) == 10.0  # another host's waits never count
    clock.answered(a)  # a slow but working host starts again
    assert clock.left(a) == 10.0
    clock.waited(a, 6.0)
    clock.waited(a + "/z", 6.0)
    assert clock.left(a) == 0.0
    clock.answered(a)  # once used up, it stays used up for this import
    assert clock.left(a) == 0.0 and "time limit of 10 s per file host" in clock.spent_reason()

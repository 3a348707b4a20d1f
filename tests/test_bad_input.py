"""Bad input through the command line, one row per input (issue 17's corpus): each answers with
one `error:` line naming the problem, exits non-zero, and leaves the store exactly as it was
(every file's key and bytes, index markers included)."""

from __future__ import annotations

import json
import struct
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from stage_helpers import OTHER, REVIEWER, UPLOADER, do_stage

from backoffice.context import Context
from backoffice.records import keys
from package_edits import reduce_pickle
from test_weight_scan_evasion import CODE_RUNNING
from backoffice.storage.local import INTERNAL
from cli_runner import cli_environ, run_backoffice

LONG_ID = "a" * 300
RDF = b'type: model\nname: minimal\nversion: "1.0"\n'


def store_snapshot(root: Path) -> dict[str, bytes]:
    """Every stored key with its bytes (the backend's internal lock and temp files aside)."""
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.relative_to(root).parts[0] != INTERNAL}


def _zip(path: Path, entries: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> Path:
    with zipfile.ZipFile(path, "w", method) as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def lying_zip(path: Path) -> Path:
    """A package whose headers (local and central) say `data.bin` holds 500 bytes; it holds 1000."""
    _zip(path, {"rdf.yaml": RDF, "data.bin": b"A" * 1000}, zipfile.ZIP_STORED)
    raw = bytearray(path.read_bytes())
    local = raw.index(b"PK\x03\x04" + raw[4:8], raw.index(b"data.bin") - 40)  # the header before the name
    struct.pack_into("<II", raw, local + 18, 500, 500)
    central = raw.index(b"PK\x01\x02", raw.index(b"PK\x01\x02") + 4)  # the second central entry
    struct.pack_into("<II", raw, central + 20, 500, 500)
    path.write_bytes(bytes(raw))
    return path


def nested_report(tmp: Path) -> str:
    path = tmp / "reports" / "affable-shark" / "1.0" / "ilastik_1.4.1.json"
    path.parent.mkdir(parents=True)
    path.write_text("[" * 100_000 + "]" * 100_000)
    return str(path)


def _running(tmp: Path, item_id: str = "bioimage-io/x", index: str | None = None) -> str:
    """A running collection's folder with one item whose summary.json is a symbolic link (or the given index)."""
    src = tmp / "running"
    folder = src / "reports" / item_id / "v0"
    folder.mkdir(parents=True)
    (tmp / "secret.json").write_text("{}")
    (folder / "summary.json").symlink_to(tmp / "secret.json")
    (src / "index.json").write_text(index or json.dumps({"items": [{"id": item_id, "type": "model", "versions": [
        {"version": "v0", "sha256": "a" * 64, "created_at": "2025-07-01T00:00:00Z", "source": "http://127.0.0.2/rdf.yaml"}]}]}))
    return str(src)


def _utf16_bomb() -> bytes:
    names = "abcdefghi"
    lines = ["type: model", "a: &a [x,x,x,x,x,x,x,x,x]"]
    lines += [f"{n}: &{n} [{','.join([f'*{names[i - 1]}'] * 9)}]" for i, n in enumerate(names) if i]
    return ("\n".join(lines) + "\n").encode("utf-16")


def _imported(tmp: Path, item_id: str, label: str | None = None, beside: str | None = None) -> str:
    """A running collection's folder holding one real resource of the sample under `item_id` (and
    version `label`), or beside it under its own id (`beside`): ids and labels an import must refuse."""
    from import_helpers import RUNNING

    index = json.loads((RUNNING / "index.json").read_text())
    [real] = [i for i in index["items"] if i["id"] == "bioimage-io/affable-shark"]
    src = tmp / "running"
    items: list[dict[str, Any]] = []
    for iid in [x for x in (beside, item_id) if x]:
        item = json.loads(json.dumps(real))
        version = item["versions"][-1]
        folder = RUNNING / "reports" / "bioimage-io" / "affable-shark" / version["version"]
        item["id"], version["version"] = iid, (label if iid == item_id and label else version["version"])
        item["versions"] = [version]
        target = src / "reports" / iid.encode("utf-8", "surrogateescape").decode("utf-8", "replace") / version["version"]
        target.mkdir(parents=True, exist_ok=True)
        (target / "summary.json").write_bytes((folder / "summary.json").read_bytes())
        items.append(item)
    (src / "index.json").write_text(json.dumps({"items": items}))
    return str(src)


def handover_tar(tmp: Path, kind: str) -> str:
    """A sandboxed run's output as `sandbox.sh run --out` packs it (issue 26), with one bad entry."""
    import io
    import tarfile

    secret = tmp / "runner-secret.txt"
    secret.write_text("token")
    entry = tarfile.TarInfo({"link": "handover/summary.json", "outside": "../summary.json", "device": "handover/tty"}[kind])
    entry.type, entry.linkname = {"link": (tarfile.SYMTYPE, str(secret)), "outside": (tarfile.REGTYPE, ""),
                                  "device": (tarfile.CHRTYPE, "")}[kind]
    path = tmp / f"{kind}.tar"
    with tarfile.open(path, "w") as archive:
        archive.addfile(entry, io.BytesIO(b"") if entry.isreg() else None)
    (tmp / "into").mkdir(exist_ok=True)
    return str(path)


@dataclass(frozen=True)
class Row:
    args: Callable[[Path], list[str]]
    """(tmp folder) -> the command's arguments."""
    error: str
    """Fragment of the one `error:` line."""
    env: dict[str, str] = field(default_factory=dict[str, str])
    env_of: Callable[[Path], dict[str, str]] | None = None


def _pkg(tmp: Path, rdf: bytes = RDF) -> str:
    return str(_zip(tmp / "pkg.zip", {"rdf.yaml": rdf}, zipfile.ZIP_STORED))


def _file(tmp: Path) -> dict[str, str]:
    (tmp / "a-file").write_text("not a folder")
    return {"BACKOFFICE_LOCAL_ROOT": str(tmp / "a-file")}


def _bad_logs(tmp: Path) -> str:
    """An access log object whose lines have impossible dates (`32/Feb/2026`), garbage, a cut-off line."""
    from access_logs import D1, log_line

    line = log_line(when=D1, ip="192.0.2.1", key="affable-shark/1/files/weights.pt")
    path = tmp / "logs" / "2026-03-01-10-00-00-AAAA"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join((line.replace("01/Mar/2026", "32/Feb/2026"), line.replace("01/Mar/2026", "00/Mar/2026"),
                               "garbage", line[:90], line.replace(" 200 - 1000 ", " 200 - 99999999999999999999 "))) + "\n")
    return str(path.parent)


DOWNLOADS_KEY = {"BACKOFFICE_DOWNLOADS_HASH_KEY": "bad-input-hash-key-0123456789"}


def _collection_file(tmp: Path) -> dict[str, str]:
    (tmp / "collection.yaml").write_text("affable-shark: {}\n")
    return {"BACKOFFICE_COLLECTION_DIR": str(tmp / "collection.yaml")}


ROWS: dict[str, Row] = {
    "status-300-char-id": Row(lambda t: ["status", LONG_ID], "invalid concept id"),
    "make-env-300-char-id": Row(lambda t: ["make-env", LONG_ID, "draft", "onnx"], "invalid concept id"),
    "stage-300-char-id": Row(lambda t: ["stage", _pkg(t), "--concept-id", LONG_ID, "--uploader", UPLOADER], "invalid concept id"),
    "stage-empty-id": Row(lambda t: ["stage", _pkg(t), "--concept-id", "", "--uploader", UPLOADER], "invalid concept id ''"),
    "status-a/b": Row(lambda t: ["status", "a/b"], "invalid concept id 'a/b'"),
    "timeout-nan": Row(lambda t: ["test", "{cid}", "draft", "onnx", "--timeout", "nan"], "--timeout must be a number of seconds above 0"),
    "timeout-0": Row(lambda t: ["test", "{cid}", "draft", "onnx", "--timeout", "0"], "--timeout must be a number of seconds above 0"),
    "timeout-negative": Row(lambda t: ["test", "{cid}", "draft", "onnx", "--timeout", "-1"], "--timeout must be a number of seconds above 0"),
    "timeout-abc": Row(lambda t: ["test", "{cid}", "draft", "onnx", "--timeout", "abc"], "--timeout must be a number of seconds"),
    "port-negative": Row(lambda t: ["serve", "--port=-1"], "--port must be a port number from 1 to 65535"),
    "port-70000": Row(lambda t: ["serve", "--port", "70000"], "--port must be a port number from 1 to 65535"),
    "port-abc": Row(lambda t: ["serve", "--port", "abc"], "--port must be a port number"),
    "wrong-option-type": Row(lambda t: ["status", "{cid}", "--log", "abc"], "Invalid value for '--log'"),
    "serve-port-setting": Row(lambda t: ["serve"], "field 'serve_port'", {"BACKOFFICE_SERVE_PORT": "-5"}),
    "download-timeout-setting": Row(lambda t: ["stage", "http://127.0.0.1:9/x.zip"], "field 'download_timeout'",
                                    {"BACKOFFICE_DOWNLOAD_TIMEOUT": "-5"}),
    "compression-ratio-nan": Row(lambda t: ["stage", _pkg(t)], "field 'max_compression_ratio'", {"BACKOFFICE_MAX_COMPRESSION_RATIO": "nan"}),
    "local-root-under-proc": Row(lambda t: ["status", "{cid}"], "BACKOFFICE_LOCAL_ROOT",
                                 {"BACKOFFICE_LOCAL_ROOT": "/proc/no-such-process/store"}),
    "local-root-a-file": Row(lambda t: ["status", "{cid}"], "is not a folder", env_of=_file),
    "nested-json-report": Row(lambda t: ["ingest-reports", "ilastik", nested_report(t)], "nested too deeply"),
    "rdf-6-MB": Row(lambda t: ["stage", _pkg(t, RDF + b"description: '" + b"x" * 6_000_000 + b"'\n"), "--uploader", UPLOADER],
                    "rdf.yaml is larger than"),
    "version-with-newline": Row(lambda t: ["stage", _pkg(t, b'type: model\nname: m\nversion: "1.0\\n"\n'), "--uploader", UPLOADER],
                                "version '1.0"),
    "zip-with-lying-headers": Row(lambda t: ["stage", str(lying_zip(t / "liar.zip")), "--uploader", UPLOADER], "data.bin"),
    "count-downloads-state-in-public-store": Row(lambda t: ["count-downloads", _bad_logs(t)], "public storage", DOWNLOADS_KEY,
                                                 env_of=lambda t: {"BACKOFFICE_DOWNLOADS_STATE": str(t.parent / "store" / "downloads")}),
    "count-downloads-state-in-public-bucket": Row(lambda t: ["count-downloads", _bad_logs(t)], "public storage",
                                                  {**DOWNLOADS_KEY, "BACKOFFICE_DOWNLOADS_STATE": "s3://bioimageio-collection/private/"}),
    "count-downloads-s3-without-state": Row(lambda t: ["count-downloads", _bad_logs(t)], "BACKOFFICE_DOWNLOADS_STATE must name",
                                            {**DOWNLOADS_KEY, "BACKOFFICE_STORAGE": "s3", "BACKOFFICE_S3_ENDPOINT_URL": "http://127.0.0.1:9"}),
    "check-config-collection-a-file": Row(lambda t: ["check-config"], "the collection folder (BACKOFFICE_COLLECTION_DIR) is not a folder",
                                          env_of=_collection_file),
    # refused steps (issue 26): a refusal writes nothing, not even a log entry or an index marker
    "publish-by-a-non-reviewer": Row(lambda t: ["publish", "{pub}", "--reviewer", OTHER], "is not a reviewer"),
    "publish-a-draft-not-awaiting-review": Row(lambda t: ["publish", "{cid}", "--reviewer", REVIEWER], "cannot become 'accepted'"),
    "publish-another-draft-than-reviewed": Row(lambda t: ["publish", "{pub}", "--reviewer", REVIEWER, "--draft-sha256", "0" * 64],
                                               "is not the one reviewed"),
    "publish-acting-as-someone-else": Row(lambda t: ["publish", "{pub}", "--reviewer", REVIEWER, "--acting-github-id", "4242"],
                                          "may not act as"),
    "request-changes-by-a-non-reviewer": Row(lambda t: ["request-changes", "{pub}", "--reviewer", OTHER, "--reason", "x"],
                                             "is not a reviewer"),
    "request-changes-acting-as-someone-else": Row(
        lambda t: ["request-changes", "{pub}", "--reviewer", REVIEWER, "--reason", "x", "--acting-github-id", "4242"], "may not act as"),
    "request-changes-not-awaiting-review": Row(lambda t: ["request-changes", "{cid}", "--reviewer", REVIEWER, "--reason", "x"],
                                               "changes requested"),
    "chat-by-a-foreign-author": Row(lambda t: ["chat", "{pub}", "--author", OTHER, "--message", "hi"], "may not write in the chat"),
    "chat-acting-as-someone-else": Row(lambda t: ["chat", "{pub}", "--author", UPLOADER, "--message", "hi", "--acting-github-id", "4242"],
                                       "may not act as"),
    "chat-by-a-malformed-author": Row(lambda t: ["chat", "{pub}", "--author", "nobody", "--message", "hi"], "nobody"),
    "publish-with-the-rdf-sha256": Row(lambda t: ["publish", "{pub}", "--reviewer", REVIEWER, "--draft-sha256", "{pub-rdf}"],
                                       "that is its rdf's sha256"),
    "publish-a-weight-swapped-after-review": Row(
        lambda t: ["publish", "{swapped}", "--reviewer", REVIEWER, "--draft-sha256", "{reviewed}"], "is not the one reviewed"),
    "validate-code-running-pickles": Row(lambda t: ["validate-format", "{evil}", "draft", "--handover-out", "v.json"],
                                         "weight safety scan: 0-logging.config.pkl imports logging.config.dictConfig (dangerous) (and 5 more)"),
    "publish-an-unknown-concept": Row(lambda t: ["publish", "no-such-concept", "--reviewer", REVIEWER], "no-such-concept"),
    "chat-in-an-unknown-concept": Row(lambda t: ["chat", "no-such-concept", "--author", UPLOADER, "--message", "hi"],
                                      "no-such-concept"),
    "store-test-result-missing-file": Row(lambda t: ["store-test-result", "{pub}", "draft", "missing.json"], "missing.json"),
    "ingest-reports-unknown-partner": Row(lambda t: ["ingest-reports", "no-such-partner", "x.json"], "no-such-partner"),
    "chat-an-empty-message": Row(lambda t: ["chat", "{pub}", "--author", UPLOADER, "--message", ""], "empty"),
    "stage-onto-a-published-version": Row(lambda t: ["stage", _pkg(t), "--concept-id", "{pub}", "--uploader", UPLOADER],
                                          "is published already"),
    "stage-onto-a-foreign-concept": Row(lambda t: ["stage", _pkg(t), "--concept-id", "{pub}", "--uploader", OTHER], "{pub}"),
    "stage-acting-as-someone-else": Row(lambda t: ["stage", _pkg(t), "--concept-id", "{pub}", "--uploader", UPLOADER,
                                                   "--acting-github-id", "4242"], "may not act as"),
    "import-url-to-127.0.0.2": Row(lambda t: ["import-collection", "http://127.0.0.2:9/collection", "--no-files"],
                                   "127.0.0.2, a loopback, link-local or private address"),
    "import-summary-a-symlink": Row(lambda t: ["import-collection", _running(t), "--no-files"], "symbolic link; links are not followed"),
    "import-id-with-dotdot": Row(lambda t: ["import-collection", _running(t, "bioimage-io/../../x"), "--no-files"],
                                 "its workspace is not a plain folder name"),
    # imported ids and labels take the one id rule and label rule (issue 26): store prefixes, folder names, case variants
    "import-id-partners": Row(lambda t: ["import-collection", _imported(t, "bioimage-io/partners", "core-previous"), "--no-files"],
                              "invalid concept id 'partners': a name the store keeps for itself"),
    "import-id-pending": Row(lambda t: ["import-collection", _imported(t, "bioimage-io/pending", "conflation"), "--no-files"],
                             "invalid concept id 'pending': a name the store keeps for itself"),
    "import-id-concepts": Row(lambda t: ["import-collection", _imported(t, "bioimage-io/concepts"), "--no-files"],
                              "invalid concept id 'concepts'"),
    "import-label-log": Row(lambda t: ["import-collection", _imported(t, "bioimage-io/some-model", "log"), "--no-files"],
                            "invalid version label 'log'"),
    "import-id-a-lone-surrogate": Row(lambda t: ["import-collection", _imported(t, "bioimage-io/a\udcffb"), "--no-files"],
                                      "invalid concept id 'a\\udcffb'"),
    "import-deep-json": Row(lambda t: ["import-collection", _running(t, index='{"items": ' + "[" * 100_000 + "]" * 100_000 + "}"),
                                       "--no-files"], "more than 100 levels deep"),
    "import-host-time-limit-0": Row(lambda t: ["import-collection", _running(t), "--host-time-limit", "0"],
                                    "Invalid value for '--host-time-limit'"),
    "stage-utf16-yaml-bomb": Row(lambda t: ["stage", _pkg(t, _utf16_bomb()), "--uploader", UPLOADER], "rdf.yaml is not UTF-8 text"),
    "take-over-symlink": Row(lambda t: ["take-over", "--from", handover_tar(t, "link"), "--into", str(t / "into")],
                             "handover/summary.json: a symbolic link"),
    "take-over-outside": Row(lambda t: ["take-over", "--from", handover_tar(t, "outside"), "--into", str(t / "into")],
                             "../summary.json: a name outside the folder"),
    "take-over-device": Row(lambda t: ["take-over", "--from", handover_tar(t, "device"), "--into", str(t / "into")],
                            "handover/tty: not a regular file"),
    "take-over-not-a-tar": Row(lambda t: ["take-over", "--from", _pkg(t), "--into", str(t)], "not a readable tar stream"),
    "take-over-into-a-file": Row(lambda t: ["take-over", "--from", _pkg(t), "--into", _pkg(t)], "not a folder"),
    "take-over-no-source": Row(lambda t: ["take-over", "--from", str(t / "none.tar"), "--into", str(t)], "no such file"),
    "plan-out-unwritable": Row(lambda t: ["plan-partner-check", "core-previous", "--out", "/proc/no-such-dir/plan.json"], "cannot write --out"),
}


def _awaiting_review(ctx: Context, cid: str) -> None:
    from backoffice.records.concept import ConceptRecord
    from backoffice.records.status import DraftStatus

    def to_review(record: ConceptRecord) -> None:
        record.set_draft_status(DraftStatus.TESTING)
        record.set_draft_status(DraftStatus.AWAITING_REVIEW)

    ctx.concepts.update(cid, to_review)


@pytest.fixture
def staged(local_ctx: Context, tmp_path: Path) -> dict[str, str]:
    """A store with a staged draft (`{cid}`) and a concept with version 1.0 published and
    version 2.0 awaiting review (`{pub}`)."""
    from backoffice.review.publish import publish

    cid = do_stage(local_ctx, _zip(tmp_path / "first.zip", {"rdf.yaml": RDF}), uploader=UPLOADER).concept_id
    pub = do_stage(local_ctx, _zip(tmp_path / "pub.zip", {"rdf.yaml": RDF}), uploader=UPLOADER).concept_id
    _awaiting_review(local_ctx, pub)
    publish(local_ctx, pub, REVIEWER)
    do_stage(local_ctx, _zip(tmp_path / "v2.zip", {"rdf.yaml": RDF.replace(b'"1.0"', b'"2.0"')}), concept_id=pub, uploader=UPLOADER)
    _awaiting_review(local_ctx, pub)
    pickles = {f"{i}-{module}.pkl": reduce_pickle(module, name) for i, (module, name) in enumerate(CODE_RUNNING)}
    evil = do_stage(local_ctx, _zip(tmp_path / "evil.zip", {"rdf.yaml": RDF, **pickles}), uploader=UPLOADER).concept_id
    swapped = do_stage(local_ctx, _zip(tmp_path / "w.zip", {"rdf.yaml": RDF, "weights.pt": b"reviewed"}), uploader=UPLOADER)
    _awaiting_review(local_ctx, swapped.concept_id)
    reviewed = local_ctx.concepts.get(swapped.concept_id).require_draft()
    local_ctx.storage.put_bytes(keys.draft_files(swapped.concept_id, swapped.token) + "weights.pt", b"swapped after review")
    return {"{cid}": cid, "{pub}": pub, "{pub-rdf}": local_ctx.concepts.get(pub).require_draft().rdf_sha256, "{evil}": evil,
            "{swapped}": swapped.concept_id, "{reviewed}": reviewed.files_sha256}


@pytest.mark.parametrize("name", list(ROWS), ids=list(ROWS))
def test_bad_input_is_one_line_non_zero_and_changes_nothing(
    name: str, staged: dict[str, str], settings_factory: Any, tmp_path: Path,
) -> None:
    row = ROWS[name]
    settings = settings_factory()
    root = Path(settings.local_root)
    work = tmp_path / "work"
    work.mkdir()
    args = [staged.get(a, a) for a in row.args(work)]
    env = {**row.env, **(row.env_of(work) if row.env_of else {})}
    before = store_snapshot(root)
    r = run_backoffice(args, cwd=work, env=cli_environ(settings, **env), timeout=300)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode != 0, r.stdout + r.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr[-3000:]
    assert staged.get(row.error, row.error) in lines[0], lines[0]
    assert "Traceback" not in r.stdout + r.stderr
    assert store_snapshot(root) == before, sorted(set(store_snapshot(root)) ^ set(before))


def test_bad_access_log_lines_are_skipped_counted_and_change_no_public_key(staged: str, settings_factory: Any, tmp_path: Path) -> None:
    """Bad lines are not a refusal of the run: each is skipped and counted by reason, the object is
    marked read (the state is private: no public key changes), a second run reads nothing again."""
    settings = settings_factory()
    root = Path(settings.local_root)
    logs = _bad_logs(tmp_path)
    before = store_snapshot(root)
    for expected in ("1 log objects read (0 already counted): 5 lines, 0 downloads",
                     "0 log objects read (1 already counted): 0 lines"):
        r = run_backoffice(["count-downloads", logs], cwd=tmp_path, env=cli_environ(settings, **DOWNLOADS_KEY), timeout=300)
        assert r.returncode == 0 and expected in r.stdout, r.stdout + r.stderr
        assert "Traceback" not in r.stdout + r.stderr
    assert "5 lines skipped (not in the access log format 2, no valid date 2, bytes sent or object size not a number 1)" in (
        run_backoffice(["count-downloads", logs], cwd=tmp_path, env=cli_environ(settings, **DOWNLOADS_KEY,
                       BACKOFFICE_DOWNLOADS_STATE=str(tmp_path / "fresh-state")), timeout=300).stdout)
    assert store_snapshot(root) == before


def test_a_refused_new_upload_leaves_no_index_marker(local_ctx: Context, tmp_path: Path) -> None:
    """In-process too: the lying zip reserves a new id, fails while unpacking, and takes everything back."""
    from backoffice.errors import BackofficeError

    root = Path(local_ctx.settings.local_root)
    before = store_snapshot(root)
    with pytest.raises(BackofficeError):
        do_stage(local_ctx, lying_zip(tmp_path / "liar.zip"), uploader=UPLOADER)
    assert store_snapshot(root) == before
    assert not [k for k in local_ctx.storage.list_keys("") if k.startswith("index/dirty/")]


def test_concurrent_publish_loser_says_no_draft(local_ctx: Context) -> None:
    """B accepts the draft; A publishes it whole meanwhile (its files moved, the draft gone); B's
    copy finds nothing: B says the concept has no draft to publish, and the version stands."""
    from faulty_storage import FaultyStorage

    from backoffice.errors import IllegalTransitionError
    from backoffice.records.concept import ConceptRecord, DraftRecord, ResourceSummary
    from backoffice.records import keys
    from backoffice.records.status import DraftStatus
    from backoffice.review.publish import publish

    reviewer, other = "github|10000001", "github|10000002"
    draft = DraftRecord(token="tok1", status=DraftStatus.AWAITING_REVIEW, uploader=UPLOADER, rdf_sha256="abc",
                        summary=ResourceSummary(name="Shark", version="1.0"))
    local_ctx.concepts.create(ConceptRecord(id="affable-shark", type="model", owners=[UPLOADER], draft=draft))
    for name in ("rdf.yaml", "weights.pt"):
        local_ctx.storage.put_bytes(keys.draft_files("affable-shark", "tok1") + name, b"x")
    local_ctx.storage.put_bytes(keys.draft_reports("affable-shark", "tok1") + "r.json", b"{}")

    class OtherPublishesFirst(FaultyStorage):
        ran = False

        def copy(self, src: str, dst: str) -> None:
            if not self.ran:
                self.ran = True
                publish(local_ctx, "affable-shark", other)  # the winner, on the plain storage
            super().copy(src, dst)

    loser = Context(local_ctx.settings, storage=OtherPublishesFirst(local_ctx.storage))
    with pytest.raises(IllegalTransitionError, match="has no draft to publish"):
        publish(loser, "affable-shark", reviewer)
    record = local_ctx.concepts.get("affable-shark")
    assert record.draft is None and record.versions["1.0"].published_by == other
    assert json.loads(local_ctx.storage.get_bytes(keys.version_reports("affable-shark", "1.0") + "r.json")) == {}

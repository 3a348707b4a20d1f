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
from stage_helpers import UPLOADER, do_stage

from backoffice.context import Context
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


@pytest.fixture
def staged(local_ctx: Context, tmp_path: Path) -> str:
    """A store with one staged draft; its concept id."""
    return do_stage(local_ctx, _zip(tmp_path / "first.zip", {"rdf.yaml": RDF}), uploader=UPLOADER).concept_id


@pytest.mark.parametrize("name", list(ROWS), ids=list(ROWS))
def test_bad_input_is_one_line_non_zero_and_changes_nothing(
    name: str, staged: str, settings_factory: Any, tmp_path: Path,
) -> None:
    row = ROWS[name]
    settings = settings_factory()
    root = Path(settings.local_root)
    work = tmp_path / "work"
    work.mkdir()
    args = [a.replace("{cid}", staged) for a in row.args(work)]
    env = {**row.env, **(row.env_of(work) if row.env_of else {})}
    before = store_snapshot(root)
    r = run_backoffice(args, cwd=work, env=cli_environ(settings, **env), timeout=300)
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.returncode != 0, r.stdout + r.stderr
    assert len(lines) == 1 and lines[0].startswith("error: "), r.stderr[-3000:]
    assert row.error in lines[0], lines[0]
    assert "Traceback" not in r.stdout + r.stderr
    assert store_snapshot(root) == before, sorted(set(store_snapshot(root)) ^ set(before))


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

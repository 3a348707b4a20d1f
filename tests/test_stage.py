"""`backoffice stage`: package -> draft, on both storage backends.

Happy paths (HTTP and local sources, given and new ids, re-staging, owner rules,
an id race) and bad input: every refusal is the right `BackofficeError`, a
single line, and leaves storage exactly as it was.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from ruamel.yaml import YAML

from backoffice.context import Context
from backoffice.errors import (
    BackofficeError,
    ConflictError,
    DownloadError,
    InvalidIdError,
    PackageError,
    PermissionDeniedError,
    StorageError,
)
from backoffice.ids import split_id
from backoffice.records import keys
from backoffice.records.status import DraftStatus
from backoffice.stage.stage import StageResult, stage
from backoffice.storage.base import ObjectInfo, Storage
from backoffice.storage.local import LocalStorage

REPO = Path(__file__).resolve().parents[1]

UPLOADER = "github|7"
OTHER = "github|8"
EXTRA_OWNER = "github|10000003"  # collection/affable-shark.yaml
REVIEWER = "github|10000001"
SHARK = "affable-shark"
NEW_MODEL_ID = "adaptable-badger"
DATASET_ID = "ambrosial-apple"

MINIMAL_RDF = b'type: model\nname: minimal\nversion: "1.0"\n'


# --------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------


def snapshot(storage: Storage, prefix: str = "") -> list[tuple[str, int, str]]:
    """Every stored key with its size and etag (but the index's change markers)."""
    return [(o.key, o.size, o.etag) for o in storage.list(prefix) if not o.key.startswith(keys.DIRTY_PREFIX)]


def all_keys(storage: Storage, prefix: str = "") -> list[str]:
    """Every stored key (but the index's change markers, which only say 'look again')."""
    return [o.key for o in storage.list(prefix) if not o.key.startswith(keys.DIRTY_PREFIX)]


def write_zip(path: Path, entries: dict[str, bytes]) -> Path:
    """A zip with entry names written raw (no normalisation by zipfile)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in entries.items():
            zf.writestr(zipfile.ZipInfo(name), data)
    return path


def zip_names(path: Path) -> set[str]:
    with zipfile.ZipFile(path) as zf:
        return {i.filename for i in zf.infolist() if not i.is_dir()}


def load_yaml(data: bytes) -> Any:
    return YAML(typ="safe").load(data.decode())


def do_stage(ctx: Context, source: str | Path, **kwargs: Any) -> StageResult:
    return stage(ctx, str(source), progress=False, **kwargs)


def assert_one_line(error: BackofficeError, fragment: str) -> None:
    assert "\n" not in error.message and "\r" not in error.message, error.message
    assert "\n" not in str(error)
    assert fragment in str(error), str(error)


def log_messages(ctx: Context, cid: str) -> list[str]:
    return [e.message for e in ctx.log(cid).read()]


class FailingStorage(Storage):
    """Delegates to `inner`, but the `fail_at`-th `put_stream` call raises StorageError."""

    def __init__(self, inner: Storage, fail_at: int) -> None:
        self.inner = inner
        self.fail_at = fail_at
        self.put_stream_calls = 0
        self.written: list[str] = []

    def put_bytes(self, key: str, data: bytes, **kwargs: Any) -> str:
        etag = self.inner.put_bytes(key, data, **kwargs)
        self.written.append(key)
        return etag

    def put_stream(self, key: str, stream: BinaryIO, *, content_type: str | None = None) -> str:
        self.put_stream_calls += 1
        if self.put_stream_calls == self.fail_at:
            stream.read(1024)  # fail in the middle of the entry
            raise StorageError(f"injected failure writing {key}")
        etag = self.inner.put_stream(key, stream, content_type=content_type)
        self.written.append(key)
        return etag

    def copy(self, src: str, dst: str) -> None:
        self.inner.copy(src, dst)

    def delete(self, key: str) -> None:
        self.inner.delete(key)

    def delete_prefix(self, prefix: str) -> int:
        return self.inner.delete_prefix(prefix)

    def get(self, key: str) -> tuple[bytes, str]:
        return self.inner.get(key)

    def open(self, key: str) -> BinaryIO:
        return self.inner.open(key)

    def head(self, key: str) -> ObjectInfo | None:
        return self.inner.head(key)

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        return self.inner.list(prefix)

    def list_folders(self, prefix: str = "") -> list[str]:
        return self.inner.list_folders(prefix)

    def public_url(self, key: str) -> str:
        return self.inner.public_url(key)

    def describe(self) -> str:
        return "failing " + self.inner.describe()


@pytest.fixture(scope="module")
def zip_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A valid description plus one entry of 300 MB zeros (~300 KB compressed), written in chunks."""
    path = tmp_path_factory.mktemp("bomb") / "bomb.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("rdf.yaml", MINIMAL_RDF)
        chunk = bytes(1024 * 1024)
        with zf.open("zeros.bin", "w") as f:
            for _ in range(300):
                f.write(chunk)
    assert path.stat().st_size < 2 * 1024 * 1024
    return path


# --------------------------------------------------------------------------
# happy paths
# --------------------------------------------------------------------------


def test_stage_model_from_http_url(ctx: Context, packages: dict[str, Path], file_server: tuple[Path, str]) -> None:
    folder, base_url = file_server
    shutil.copy(packages["model"], folder / "model.zip")
    url = f"{base_url}/model.zip"

    result = do_stage(ctx, url, uploader=UPLOADER)

    cid = result.concept_id
    found = split_id(ctx.config, cid)
    assert found is not None and found[0] == "model", cid
    assert result.version == "1.0"

    record = ctx.concepts.get(cid)
    assert record.type == "model"
    assert record.owners == [UPLOADER]
    assert record.staging is None
    assert record.versions == {}
    draft = record.draft
    assert draft is not None
    assert draft.token == result.token
    assert draft.status == DraftStatus.UNPACKED
    assert draft.uploader == UPLOADER
    assert draft.source == url
    assert draft.rdf_name == "rdf.yaml"
    assert draft.summary.version == "1.0"
    assert draft.summary.name == "Tiny Demo Model"

    # files: every zip entry under the draft's files prefix, nothing else besides records
    prefix = keys.draft_files(cid, result.token)
    stored = {k[len(prefix):] for k in all_keys(ctx.storage, prefix)}
    assert stored == zip_names(packages["model"])
    assert result.files == len(stored)
    for key in all_keys(ctx.storage):
        assert key == keys.concept_doc(cid) or key.startswith(prefix) or key.startswith(keys.log_prefix(cid)), key

    with zipfile.ZipFile(packages["model"]) as zf:
        assert ctx.storage.get_bytes(prefix + "weights.onnx") == zf.read("weights.onnx")
        assert ctx.storage.get_bytes(prefix + "cover.png") == zf.read("cover.png")
        assert result.bytes == sum(i.file_size for i in zf.infolist())

    rdf = ctx.storage.get_bytes(prefix + "rdf.yaml")
    assert f"id: {cid}".encode() in rdf
    content = load_yaml(rdf)
    assert content["id"] == cid and content["type"] == "model" and str(content["version"]) == "1.0"
    assert draft.rdf_sha256 == hashlib.sha256(rdf).hexdigest()
    assert result.rdf_url == ctx.storage.public_url(prefix + "rdf.yaml")

    entries = ctx.log(cid).read()
    assert [e.step for e in entries] == ["stage", "stage", "stage"]
    assert {e.actor for e in entries} == {UPLOADER}
    messages = [e.message for e in entries]
    assert messages[0] == f"staging {url}"
    assert messages[1].startswith(f"unpacking {len(stored)} files (")
    assert messages[2] == f"unpacked version 1.0 as draft {result.token}"


def test_stage_given_id_and_restage_replaces_draft(ctx: Context, packages: dict[str, Path]) -> None:
    first = do_stage(ctx, packages["model"], concept_id=SHARK, uploader=UPLOADER)
    assert first.concept_id == SHARK
    assert ctx.concepts.get(SHARK).owners == [UPLOADER]
    old_prefix = keys.draft_root(SHARK, first.token)
    assert all_keys(ctx.storage, old_prefix)

    second = do_stage(ctx, packages["model_v2"], concept_id=SHARK, uploader=UPLOADER)
    assert second.concept_id == SHARK
    assert second.token != first.token
    assert second.version == "2.0"

    # the old draft's files are gone, the new ones are there, the record points at them
    assert all_keys(ctx.storage, old_prefix) == []
    assert ctx.storage.list_folders(f"{SHARK}/drafts/") == [second.token]
    new_prefix = keys.draft_files(SHARK, second.token)
    assert {k[len(new_prefix):] for k in all_keys(ctx.storage, new_prefix)} == zip_names(packages["model_v2"])
    content = load_yaml(ctx.storage.get_bytes(new_prefix + "rdf.yaml"))
    assert content["id"] == SHARK and str(content["version"]) == "2.0"

    record = ctx.concepts.get(SHARK)
    assert record.owners == [UPLOADER]
    assert record.staging is None
    assert record.draft is not None
    assert record.draft.token == second.token
    assert record.draft.status == DraftStatus.UNPACKED
    assert record.draft.summary.version == "2.0"
    assert log_messages(ctx, SHARK)[-1] == f"unpacked version 2.0 as draft {second.token}"


def test_owner_rules(ctx: Context, packages: dict[str, Path]) -> None:
    do_stage(ctx, packages["model"], concept_id=SHARK, uploader=UPLOADER)

    before = snapshot(ctx.storage)
    with pytest.raises(PermissionDeniedError) as info:
        do_stage(ctx, packages["model_v2"], concept_id=SHARK, uploader=OTHER)
    assert_one_line(info.value, f"id '{SHARK}' belongs to another uploader")
    assert OTHER in str(info.value)
    assert snapshot(ctx.storage) == before

    # an extra owner declared in collection/affable-shark.yaml may stage
    extra = do_stage(ctx, packages["model_v2"], concept_id=SHARK, uploader=EXTRA_OWNER)
    record = ctx.concepts.get(SHARK)
    assert record.draft is not None and record.draft.token == extra.token
    assert record.draft.uploader == EXTRA_OWNER
    assert record.owners == [UPLOADER]  # the first uploader stays the owner

    # so may a reviewer
    rev = do_stage(ctx, packages["model"], concept_id=SHARK, uploader=REVIEWER)
    record = ctx.concepts.get(SHARK)
    assert record.draft is not None and record.draft.token == rev.token
    assert record.draft.uploader == REVIEWER
    assert record.owners == [UPLOADER]
    assert ctx.storage.list_folders(f"{SHARK}/drafts/") == [rev.token]

    # the extra owner of affable-shark is no owner of other concepts
    other = do_stage(ctx, packages["model"], concept_id=NEW_MODEL_ID, uploader=UPLOADER)
    assert other.concept_id == NEW_MODEL_ID
    with pytest.raises(PermissionDeniedError):
        do_stage(ctx, packages["model"], concept_id=NEW_MODEL_ID, uploader=EXTRA_OWNER)


@pytest.mark.parametrize("rtype", ["dataset", "notebook"])
def test_dataset_and_notebook_get_ids_of_their_type(ctx: Context, packages: dict[str, Path], rtype: str) -> None:
    result = do_stage(ctx, packages[rtype], uploader=UPLOADER)
    found = split_id(ctx.config, result.concept_id)
    assert found is not None and found[0] == rtype, result.concept_id
    record = ctx.concepts.get(result.concept_id)
    assert record.type == rtype
    assert record.draft is not None and record.draft.status == DraftStatus.UNPACKED
    rdf = ctx.storage.get_bytes(keys.draft_files(result.concept_id, result.token) + "rdf.yaml")
    assert load_yaml(rdf)["id"] == result.concept_id


def test_package_in_one_top_folder(local_ctx: Context, tmp_path: Path) -> None:
    """Everything in one top folder: the folder is stripped; a nested rdf.yaml is just a file."""
    src = write_zip(
        tmp_path / "pkg.zip",
        {
            "pkg/": b"",
            "pkg/rdf.yaml": MINIMAL_RDF,
            "pkg/README.md": b"hi",
            "pkg/sub/": b"",
            "pkg/sub/rdf.yaml": b"not a description",
        },
    )
    result = do_stage(local_ctx, src, uploader=UPLOADER)
    prefix = keys.draft_files(result.concept_id, result.token)
    assert set(all_keys(local_ctx.storage, prefix)) == {prefix + "rdf.yaml", prefix + "README.md", prefix + "sub/rdf.yaml"}
    assert local_ctx.storage.get_bytes(prefix + "sub/rdf.yaml") == b"not a description"


def test_id_race(ctx: Context, packages: dict[str, Path]) -> None:
    uploaders = ["github|21", "github|22"]
    barrier = threading.Barrier(len(uploaders))
    outcomes: dict[str, StageResult | BaseException] = {}

    def run(uploader: str) -> None:
        barrier.wait()
        try:
            outcomes[uploader] = do_stage(ctx, packages["model"], concept_id=NEW_MODEL_ID, uploader=uploader)
        except BaseException as e:  # noqa: BLE001 - recorded and checked below
            outcomes[uploader] = e

    threads = [threading.Thread(target=run, args=(u,)) for u in uploaders]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert set(outcomes) == set(uploaders)

    winners = [u for u, o in outcomes.items() if isinstance(o, StageResult)]
    losers = [u for u in uploaders if u not in winners]
    assert len(winners) == 1, outcomes
    loss = outcomes[losers[0]]
    assert isinstance(loss, (ConflictError, PermissionDeniedError)), repr(loss)
    assert "\n" not in str(loss)

    winner = winners[0]
    result = outcomes[winner]
    assert isinstance(result, StageResult)
    record = ctx.concepts.get(NEW_MODEL_ID)
    assert record.owners == [winner]
    assert record.staging is None
    assert record.draft is not None
    assert record.draft.uploader == winner
    assert record.draft.token == result.token
    assert ctx.storage.list_folders(f"{NEW_MODEL_ID}/drafts/") == [result.token]
    assert {e.actor for e in ctx.log(NEW_MODEL_ID).read()} == {winner}


# --------------------------------------------------------------------------
# bad input
# --------------------------------------------------------------------------


@dataclass(frozen=True)
class Bad:
    make: Callable[[Path, Callable[[], str]], str]
    """(tmp folder, base URL of a file server) -> source to stage."""
    error: type[BackofficeError]
    fragment: str
    concept_id: str | None = None
    """Id to stage to when an earlier draft exists (default: affable-shark)."""


def _zip(entries: dict[str, bytes]) -> Callable[[Path, Callable[[], str]], str]:
    def make(tmp: Path, base_url: Callable[[], str]) -> str:
        return str(write_zip(tmp / "package.zip", entries))

    return make


def _not_a_zip(tmp: Path, base_url: Callable[[], str]) -> str:
    path = tmp / "package.zip"
    path.write_bytes(b"this is plain text, not a zip\n" * 100)
    return str(path)


BAD: dict[str, Bad] = {
    "not-a-zip": Bad(_not_a_zip, PackageError, "package.zip is not a zip file"),
    "dotdot-entry": Bad(
        _zip({"rdf.yaml": MINIMAL_RDF, "../x": b"x"}), PackageError, "package entry '../x' points outside the package"
    ),
    "absolute-entry": Bad(
        _zip({"rdf.yaml": MINIMAL_RDF, "/etc/x": b"x"}), PackageError, "package entry '/etc/x' is an absolute path"
    ),
    "drive-entry": Bad(
        _zip({"rdf.yaml": MINIMAL_RDF, "C:\\x": b"x"}), PackageError, "package entry 'C:\\x' has a Windows drive"
    ),
    "empty-segment": Bad(
        _zip({"rdf.yaml": MINIMAL_RDF, "docs//x": b"x"}), PackageError, "package entry 'docs//x' has an empty or '.' path segment"
    ),
    "dot-segment": Bad(
        _zip({"rdf.yaml": MINIMAL_RDF, "docs/./x": b"x"}), PackageError, "package entry 'docs/./x' has an empty or '.' path segment"
    ),
    "file-and-folder": Bad(
        _zip({"rdf.yaml": MINIMAL_RDF, "a": b"x", "a/b": b"y"}), PackageError, "package entry 'a' is both a file and a folder"
    ),
    "no-description": Bad(
        _zip({"README.md": b"hi", "docs/rdf.yaml": MINIMAL_RDF}), PackageError, "package has no rdf.yaml or bioimageio.yaml"
    ),
    "two-descriptions": Bad(
        _zip({"rdf.yaml": MINIMAL_RDF, "bioimageio.yaml": MINIMAL_RDF}),
        PackageError,
        "package has more than one description (",
    ),
    "bad-yaml": Bad(_zip({"rdf.yaml": b"type: model\nname: [unclosed\nversion: 1\n"}), PackageError, "rdf.yaml is not valid YAML"),
    "unknown-type": Bad(
        _zip({"rdf.yaml": b'type: application\nname: app\nversion: "1.0"\n'}),
        PackageError,
        "type 'application' is not one the collection accepts",
    ),
    "model-with-dataset-id": Bad(
        _zip({"rdf.yaml": b'type: model\nname: m\nversion: "1.0"\nid: ' + DATASET_ID.encode() + b"\n"}),
        InvalidIdError,
        f"'{DATASET_ID}' is a dataset id, but the resource is a model",
        concept_id=DATASET_ID,
    ),
    "ftp-url": Bad(lambda tmp, base: "ftp://127.0.0.1/package.zip", DownloadError, "only http(s) URLs can be staged, not 'ftp://'"),
    "file-url": Bad(lambda tmp, base: f"file://{tmp}/package.zip", DownloadError, "only http(s) URLs can be staged, not 'file://'"),
    "http-404": Bad(lambda tmp, base: f"{base()}/missing.zip", DownloadError, "answered HTTP 404"),
}


@pytest.fixture
def base_url(request: pytest.FixtureRequest) -> Callable[[], str]:
    """The file server's base URL, started only when a case asks for it."""
    return lambda: request.getfixturevalue("file_server")[1]


@pytest.mark.parametrize("earlier_draft", [False, True], ids=["empty", "over-draft"])
@pytest.mark.parametrize("case", list(BAD), ids=list(BAD))
def test_bad_input_writes_nothing(
    ctx: Context,
    packages: dict[str, Path],
    tmp_path: Path,
    base_url: Callable[[], str],
    case: str,
    earlier_draft: bool,
) -> None:
    bad = BAD[case]
    earlier = None
    concept_id = None
    if earlier_draft:
        earlier = do_stage(ctx, packages["model"], concept_id=SHARK, uploader=UPLOADER)
        concept_id = bad.concept_id or SHARK
        record_before = ctx.concepts.get(SHARK)
    source = bad.make(tmp_path, base_url)
    before = snapshot(ctx.storage)

    with pytest.raises(BackofficeError) as info:
        do_stage(ctx, source, concept_id=concept_id, uploader=UPLOADER)

    assert type(info.value) is bad.error, repr(info.value)
    assert_one_line(info.value, bad.fragment)
    assert snapshot(ctx.storage) == before
    if earlier is None:
        assert before == []
    else:
        assert ctx.concepts.get(SHARK) == record_before
        assert ctx.storage.list_folders(f"{SHARK}/drafts/") == [earlier.token]


@pytest.mark.parametrize("earlier_draft", [False, True], ids=["empty", "over-draft"])
def test_zip_bomb_is_refused(ctx: Context, packages: dict[str, Path], zip_bomb: Path, earlier_draft: bool) -> None:
    assert ctx.settings.max_compression_ratio == 200
    concept_id = None
    if earlier_draft:
        do_stage(ctx, packages["model"], concept_id=SHARK, uploader=UPLOADER)
        concept_id = SHARK
    before = snapshot(ctx.storage)
    with pytest.raises(PackageError) as info:
        do_stage(ctx, zip_bomb, concept_id=concept_id, uploader=UPLOADER)
    assert_one_line(info.value, "package entry 'zeros.bin' expands ")
    assert "more than the limit of 200 (zip bomb?)" in str(info.value)
    assert snapshot(ctx.storage) == before


def test_id_owned_by_someone_else_leaves_draft(ctx: Context, packages: dict[str, Path]) -> None:
    earlier = do_stage(ctx, packages["model"], concept_id=SHARK, uploader=UPLOADER)
    record_before = ctx.concepts.get(SHARK)
    before = snapshot(ctx.storage)
    # given on the command line, or declared in the description
    with pytest.raises(PermissionDeniedError) as info:
        do_stage(ctx, packages["model_v2"], concept_id=SHARK, uploader=OTHER)
    assert_one_line(info.value, f"id '{SHARK}' belongs to another uploader; {OTHER} may not stage it")
    assert snapshot(ctx.storage) == before
    assert ctx.concepts.get(SHARK) == record_before
    assert ctx.storage.list_folders(f"{SHARK}/drafts/") == [earlier.token]


def test_invalid_uploader(local_ctx: Context, packages: dict[str, Path]) -> None:
    with pytest.raises(InvalidIdError) as info:
        do_stage(local_ctx, packages["model"], uploader="someone")
    assert_one_line(info.value, "uploader 'someone' is neither")
    assert all_keys(local_ctx.storage) == []


def test_storage_failure_mid_unpack_keeps_earlier_draft(ctx: Context, packages: dict[str, Path]) -> None:
    earlier = do_stage(ctx, packages["model"], concept_id=SHARK, uploader=UPLOADER)
    record_before = ctx.concepts.get(SHARK)
    log_prefix = keys.log_prefix(SHARK)
    files_before = [k for k in snapshot(ctx.storage) if not k[0].startswith(log_prefix)]

    failing = FailingStorage(ctx.storage, fail_at=3)
    fctx = Context(ctx.settings, storage=failing)
    with pytest.raises(StorageError) as info:
        do_stage(fctx, packages["model_v2"], concept_id=SHARK, uploader=UPLOADER)
    assert_one_line(info.value, "injected failure")
    assert failing.put_stream_calls == 3
    # two files of the failed upload had been written before the failure ...
    draft_writes = [k for k in failing.written if "/drafts/" in k]
    assert len(draft_writes) >= 2
    assert all(not k.startswith(keys.draft_root(SHARK, earlier.token)) for k in draft_writes)
    # ... and are gone again; the earlier draft and its files stand
    for key in draft_writes:
        assert not ctx.storage.exists(key), key
    assert [k for k in snapshot(ctx.storage) if not k[0].startswith(log_prefix)] == files_before
    assert ctx.storage.list_folders(f"{SHARK}/drafts/") == [earlier.token]
    record = ctx.concepts.get(SHARK)
    assert record.staging is None
    assert record == record_before

    # the next upload works
    again = do_stage(ctx, packages["model_v2"], concept_id=SHARK, uploader=UPLOADER)
    assert ctx.storage.list_folders(f"{SHARK}/drafts/") == [again.token]


def test_storage_failure_on_new_id_releases_it(ctx: Context, packages: dict[str, Path]) -> None:
    failing = FailingStorage(ctx.storage, fail_at=2)
    fctx = Context(ctx.settings, storage=failing)
    with pytest.raises(StorageError):
        do_stage(fctx, packages["model"], concept_id=NEW_MODEL_ID, uploader=UPLOADER)
    assert any(k.startswith(f"{NEW_MODEL_ID}/drafts/") for k in failing.written)
    assert all_keys(ctx.storage) == []  # the reserved id, its log and files are gone
    # so anyone may take the id now
    result = do_stage(ctx, packages["model"], concept_id=NEW_MODEL_ID, uploader=OTHER)
    assert ctx.concepts.get(NEW_MODEL_ID).owners == [OTHER]
    assert result.concept_id == NEW_MODEL_ID


# --------------------------------------------------------------------------
# CLI
# --------------------------------------------------------------------------


def _cli_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKOFFICE_", "GITHUB_"))}
    collection_dir = tmp_path / "collection"
    if not collection_dir.exists():
        shutil.copytree(REPO / "collection", collection_dir)
    env.update(
        {
            "PYTHONPATH": str(REPO) + os.pathsep + env.get("PYTHONPATH", ""),
            "BACKOFFICE_STORAGE": "local",
            "BACKOFFICE_LOCAL_ROOT": str(tmp_path / "store"),
            "BACKOFFICE_CONFIG_PATH": str(REPO / "bioimageio_collection_config.json"),
            "BACKOFFICE_COLLECTION_DIR": str(collection_dir),
        }
    )
    return env


def test_cli_stage(tmp_path: Path, packages: dict[str, Path]) -> None:
    env = _cli_env(tmp_path)
    ok = subprocess.run(
        [sys.executable, "-m", "backoffice", "stage", str(packages["model"]), "--uploader", "github|5"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert "staged" in ok.stdout

    storage = LocalStorage(tmp_path / "store", "http://127.0.0.1:8765")
    docs = all_keys(storage, keys.CONCEPTS_PREFIX)
    assert len(docs) == 1
    cid = keys.concept_id_from_doc(docs[0])
    assert cid is not None and cid in ok.stdout
    record = Context(_settings_for(tmp_path), storage=storage).concepts.get(cid)
    assert record.owners == ["github|5"]
    assert record.draft is not None and record.draft.status == DraftStatus.UNPACKED

    before = all_keys(storage)
    not_zip = tmp_path / "not-a-zip.zip"
    not_zip.write_text("plain text\n")
    bad = subprocess.run(
        [sys.executable, "-m", "backoffice", "stage", str(not_zip), "--uploader", "github|5"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120,
    )
    assert bad.returncode == PackageError.exit_code
    lines = bad.stderr.splitlines()
    assert len(lines) == 1, bad.stderr
    assert lines[0].startswith("error:") and "not-a-zip.zip is not a zip file" in lines[0]
    assert all_keys(storage) == before


def _settings_for(tmp_path: Path) -> Any:
    from backoffice.settings import Settings

    return Settings(
        local_root=tmp_path / "store",
        config_path=REPO / "bioimageio_collection_config.json",
        collection_dir=tmp_path / "collection",
    )


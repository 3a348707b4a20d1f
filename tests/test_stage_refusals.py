"""`backoffice stage` refusing bad input on both storage backends: every refusal is the
right `BackofficeError`, a single line, and leaves storage exactly as it was."""


from __future__ import annotations

import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from faulty_storage import FaultyStorage
from stage_helpers import (
    DATASET_ID,
    MINIMAL_RDF,
    NEW_MODEL_ID,
    OTHER,
    SHARK,
    UPLOADER,
    all_keys,
    assert_one_line,
    do_stage,
    snapshot,
    write_zip,
)

from backoffice.context import Context
from backoffice.errors import (
    BackofficeError,
    DownloadError,
    InvalidIdError,
    PackageError,
    PermissionDeniedError,
    StorageError,
)
from backoffice.records import keys


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
        _zip({"rdf.yaml": b'type: workflow\nname: wf\nversion: "1.0"\n'}),
        PackageError,
        "type 'workflow' is not one the collection accepts",
    ),
    "model-with-dataset-id": Bad(
        _zip({"rdf.yaml": b'type: model\nname: m\nversion: "1.0"\nid: ' + DATASET_ID.encode() + b"\n"}),
        InvalidIdError,
        f"'{DATASET_ID}' is a dataset id, but the resource is a model",
        concept_id=DATASET_ID,
    ),
    "ftp-url": Bad(lambda tmp, base: "ftp://127.0.0.1/package.zip", DownloadError, "only http(s) URLs are fetched, not 'ftp://'"),
    "file-url": Bad(lambda tmp, base: f"file://{tmp}/package.zip", DownloadError, "only http(s) URLs are fetched, not 'file://'"),
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

    failing = FaultyStorage(ctx.storage, fail_at=2, only=("put_stream",))
    fctx = Context(ctx.settings, storage=failing)
    with pytest.raises(StorageError) as info:
        do_stage(fctx, packages["model_v2"], concept_id=SHARK, uploader=UPLOADER)
    assert_one_line(info.value, "injected storage failure")
    assert len(failing.calls) == 3
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
    failing = FaultyStorage(ctx.storage, fail_at=1, only=("put_stream",))
    fctx = Context(ctx.settings, storage=failing)
    with pytest.raises(StorageError):
        do_stage(fctx, packages["model"], concept_id=NEW_MODEL_ID, uploader=UPLOADER)
    assert any(k.startswith(f"{NEW_MODEL_ID}/drafts/") for k in failing.written)
    assert all_keys(ctx.storage) == []  # the reserved id, its log and files are gone
    # so anyone may take the id now
    result = do_stage(ctx, packages["model"], concept_id=NEW_MODEL_ID, uploader=OTHER)
    assert ctx.concepts.get(NEW_MODEL_ID).owners == [OTHER]
    assert result.concept_id == NEW_MODEL_ID



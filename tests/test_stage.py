"""`backoffice stage`: package -> draft, on both storage backends.

Happy paths (HTTP and local sources, given and new ids, re-staging, owner rules,
an id race) and bad input: every refusal is the right `BackofficeError`, a
single line, and leaves storage exactly as it was.
"""

from __future__ import annotations

import hashlib
import shutil
import threading
import zipfile
from pathlib import Path
from typing import Any

import pytest
from cli_runner import RunCli
from stage_helpers import (
    EXTRA_OWNER,
    MINIMAL_RDF,
    NEW_MODEL_ID,
    OTHER,
    REPO,
    REVIEWER,
    SHARK,
    UPLOADER,
    all_keys,
    assert_one_line,
    do_stage,
    load_yaml,
    log_messages,
    snapshot,
    write_zip,
    zip_names,
)

from backoffice.context import Context
from backoffice.errors import (
    ConflictError,
    PackageError,
    PermissionDeniedError,
)
from backoffice.ids import split_id
from backoffice.records import keys
from backoffice.records.manifest import read_manifest
from backoffice.records.status import DraftStatus
from backoffice.stage.stage import StageResult
from backoffice.storage.local import LocalStorage
from config_paths import EXAMPLE_COLLECTION, TEST_CONFIG

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
        assert key in (keys.concept_doc(cid), keys.files_manifest(prefix)) or key.startswith(prefix) \
            or key.startswith(keys.log_prefix(cid)), key

    manifest = read_manifest(ctx.storage, prefix)  # every file with size and sha256, hashed while unpacking
    assert manifest is not None and {f.name for f in manifest.files} == stored
    with zipfile.ZipFile(packages["model"]) as zf:
        onnx = manifest.by_name()["weights.onnx"]
        assert (onnx.size, onnx.sha256) == (len(zf.read("weights.onnx")), hashlib.sha256(zf.read("weights.onnx")).hexdigest())
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
# CLI
# --------------------------------------------------------------------------


def test_cli_stage(tmp_path: Path, packages: dict[str, Path], run_cli: RunCli) -> None:
    settings = _settings_for(tmp_path)
    shutil.copytree(EXAMPLE_COLLECTION, settings.collection_dir)
    ok = run_cli(["stage", str(packages["model"]), "--uploader", "github|5"], settings=settings)
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
    bad = run_cli(["stage", str(not_zip), "--uploader", "github|5"], settings=settings)
    assert bad.returncode == PackageError.exit_code
    lines = bad.stderr.splitlines()
    assert len(lines) == 1, bad.stderr
    assert lines[0].startswith("error:") and "not-a-zip.zip is not a zip file" in lines[0]
    assert all_keys(storage) == before


def _settings_for(tmp_path: Path) -> Any:
    from backoffice.settings import Settings

    return Settings(
        local_root=tmp_path / "store",
        config_path=TEST_CONFIG,
        collection_dir=tmp_path / "collection",
    )


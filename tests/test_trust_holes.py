"""Smaller holes: make-env to an unwritable path gives one line; lock files go away after
use (and 16 racing writers still lose nothing); rendering an environment reads the
description and its environment file only, not the whole package."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from backoffice.context import Context
from backoffice.records import keys
from backoffice.storage.base import Storage
from backoffice.storage.local import INTERNAL, LocalStorage
from backoffice.dynamic.env_builders import environment_for_test
from backoffice.records.target import resolve_target
from backoffice_fixtures import REPO
from faulty_storage import FaultyStorage
from test_storage_contention import PER_THREAD, THREADS, cas_increment


def test_make_env_to_an_unwritable_path_is_one_line(local_ctx: Context, packages: dict[str, Path], tmp_path: Path) -> None:
    from backoffice.stage.stage import stage

    cid = stage(local_ctx, str(packages["model"]), uploader="github|4242", progress=False).concept_id
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    s = local_ctx.settings
    env = {**os.environ, "PYTHONPATH": str(REPO), "BACKOFFICE_LOCAL_ROOT": str(local_ctx.storage.root),  # type: ignore[attr-defined]
           "BACKOFFICE_CONFIG_PATH": str(s.config_path), "BACKOFFICE_COLLECTION_DIR": str(s.collection_dir),
           "BACKOFFICE_ENV_TEMPLATES_DIR": str(s.env_templates_dir)}
    r = subprocess.run([sys.executable, "-m", "backoffice", "make-env", cid, "draft", "onnx", "--out", str(blocker / "env.yaml")],
                       env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert r.returncode == 14, r.stderr
    assert r.stderr.strip().splitlines() == [f"error: cannot write the environment file {blocker / 'env.yaml'}: File exists"]
    assert "Traceback" not in r.stderr


def _locks(storage: LocalStorage) -> list[str]:
    return os.listdir(storage.root / INTERNAL / "locks")


def test_lock_files_are_removed_after_use(local_storage: Storage) -> None:
    assert isinstance(local_storage, LocalStorage)
    for i in range(20):
        etag = local_storage.put_bytes(f"k/{i}.json", b"{}", if_none_match=True)
        local_storage.put_bytes(f"k/{i}.json", b"{\"a\": 1}", if_match=etag)
    assert _locks(local_storage) == []


def test_racing_writers_lose_nothing_and_leave_no_lock_files(local_storage: Storage) -> None:
    assert isinstance(local_storage, LocalStorage)
    key = "race/counter.json"
    local_storage.put_bytes(key, json.dumps({"counter": 0, "log": []}).encode(), if_none_match=True)
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def worker(w: int) -> None:
        try:
            barrier.wait()
            cas_increment(local_storage, key, f"t{w}", PER_THREAD)
        except BaseException as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and not any(t.is_alive() for t in threads)
    assert json.loads(local_storage.get_bytes(key))["counter"] == THREADS * PER_THREAD
    assert _locks(local_storage) == []


def test_rendering_reads_only_the_description_and_its_environment_file(s3_storage: Storage, settings_factory: object,
                                                                       packages: dict[str, Path]) -> None:
    from backoffice.stage.stage import stage

    ctx = Context(settings_factory(), storage=s3_storage)  # type: ignore[operator]
    cid = stage(ctx, str(packages["model"]), uploader="github|4242", progress=False).concept_id
    target = resolve_target(ctx.concepts, cid, "draft")
    counting = FaultyStorage(s3_storage)
    # the test job's rendering: an environment made beforehand at a prefix (here: none) is taken as it is
    env = environment_for_test(Context(ctx.settings, storage=counting), cid, "draft", "onnx", "micromamba", Path("/nonexistent-env"))
    assert env.error is not None and "no environment at /nonexistent-env" in env.error  # rendered, then looked for
    read = [c.split(" ", 1)[1] for c in counting.calls if c.split(" ", 1)[0] in ("get", "open", "list", "head")]
    read = [k for k in read if k != keys.concept_doc(cid)]
    assert read[0] == target.rdf_key
    assert all(k == target.rdf_key or k.endswith((".yaml", ".yml", ".txt")) for k in read), read
    assert not any(c.startswith("list") for c in counting.calls), counting.calls

"""Records: the status machine, concept documents with conditional writes, and the
append-only log under concurrent writers (processes, on both backends)."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from backoffice.errors import ConflictError, IllegalTransitionError, NotFoundError
from backoffice.records.concept import ConceptRecord, ConceptStore, DraftRecord
from backoffice.records.journal import ConceptLog, LogEntry
from backoffice.records.status import ALLOWED_STEPS, DraftStatus, check_step
from backoffice.storage.base import Storage
from backoffice.storage.local import LocalStorage
from backoffice.storage.s3 import S3Storage

S = DraftStatus


@pytest.mark.parametrize(
    ("old", "new"),
    [(S.STAGING, S.UNPACKING), (S.UNPACKING, S.UNPACKED), (S.UNPACKED, S.TESTING), (S.TESTING, S.AWAITING_REVIEW),
     (S.AWAITING_REVIEW, S.CHANGES_REQUESTED), (S.AWAITING_REVIEW, S.ACCEPTED), (S.CHANGES_REQUESTED, S.TESTING),
     (S.TESTING, S.CHANGES_REQUESTED)],
)
def test_lifecycle_steps_allowed(old: DraftStatus, new: DraftStatus) -> None:
    check_step(old, new)


@pytest.mark.parametrize(
    ("old", "new"),
    [(S.TESTING, S.ACCEPTED), (S.CHANGES_REQUESTED, S.ACCEPTED), (S.STAGING, S.AWAITING_REVIEW),
     (S.ACCEPTED, S.TESTING), (S.UNPACKED, S.ACCEPTED), (S.ACCEPTED, S.CHANGES_REQUESTED)],
)
def test_illegal_steps_refused(old: DraftStatus, new: DraftStatus) -> None:
    with pytest.raises(IllegalTransitionError, match=f"'{old.value}' and cannot become '{new.value}'"):
        check_step(old, new)


def test_every_status_has_its_rule() -> None:
    assert set(ALLOWED_STEPS) == set(DraftStatus)


def test_concept_create_reserves_id_once(storage: Storage) -> None:
    store = ConceptStore(storage)
    store.create(ConceptRecord(id="affable-shark", type="model", owners=["github|1"]))
    with pytest.raises(ConflictError, match="taken"):
        store.create(ConceptRecord(id="affable-shark", type="model", owners=["github|2"]))
    assert store.get("affable-shark").owners == ["github|1"]
    with pytest.raises(NotFoundError):
        store.get("bold-bat")


def test_update_aborts_without_writing(storage: Storage) -> None:
    store = ConceptStore(storage)
    store.create(ConceptRecord(id="affable-shark", type="model"))
    before = storage.get("concepts/affable-shark.json")

    def bad(record: ConceptRecord) -> None:
        record.owners.append("github|9")
        record.draft = DraftRecord(token="t", status=S.TESTING)
        record.set_draft_status(S.ACCEPTED)

    with pytest.raises(IllegalTransitionError):
        store.update("affable-shark", bad)
    assert storage.get("concepts/affable-shark.json") == before


WRITER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    spec = json.loads(sys.argv[1])
    if spec["kind"] == "local":
        from backoffice.storage.local import LocalStorage
        storage = LocalStorage(Path(spec["root"]), "http://127.0.0.1:8765")
    else:
        from backoffice.storage.s3 import S3Storage
        storage = S3Storage(bucket=spec["bucket"], prefix=spec["prefix"], endpoint_url=spec["endpoint"],
                            access_key_id="testing", secret_access_key="testing")
    from backoffice.records.concept import ConceptStore
    from backoffice.records.journal import ConceptLog, LogEntry
    writer = int(sys.argv[2])
    log, store = ConceptLog(storage, "affable-shark"), ConceptStore(storage)
    while time.time() < spec["start"]:
        time.sleep(0.005)
    for i in range(spec["entries"]):
        log.append(LogEntry(step="test", actor=f"writer-{writer}", message=f"{writer}:{i}"))
        if i < spec["updates"]:
            store.update("affable-shark", lambda r: r.owners.append(f"{writer}:{i}"))
    """
)


def _spec(storage: Storage) -> dict[str, object]:
    if isinstance(storage, LocalStorage):
        return {"kind": "local", "root": str(storage.root)}
    assert isinstance(storage, S3Storage)
    return {"kind": "s3", "bucket": storage.bucket, "prefix": storage.prefix, "endpoint": storage.endpoint_url}


def test_sixteen_concurrent_writers_lose_nothing(storage: Storage, tmp_path: Path) -> None:
    """16 processes append to one log and update one concept document at the same time."""
    import time

    ConceptStore(storage).create(ConceptRecord(id="affable-shark", type="model"))
    writers, entries, updates = 16, 12, 3
    spec = {**_spec(storage), "start": time.time() + 4.0, "entries": entries, "updates": updates}
    script = tmp_path / "writer.py"
    script.write_text(WRITER)
    repo = str(Path(__file__).resolve().parents[1])
    procs = [
        subprocess.Popen([sys.executable, str(script), json.dumps(spec), str(w)], cwd=repo,
                         env={**__import__("os").environ, "PYTHONPATH": repo},
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        for w in range(writers)
    ]
    outputs = [p.communicate(timeout=240)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs), "\n".join(outputs)

    log = ConceptLog(storage, "affable-shark").read()
    got = sorted(e.message for e in log)
    assert got == sorted(f"{w}:{i}" for w in range(writers) for i in range(entries))
    owners = ConceptStore(storage).get("affable-shark").owners
    assert sorted(owners) == sorted(f"{w}:{i}" for w in range(writers) for i in range(updates))


def test_log_reads_in_time_order(storage: Storage) -> None:
    log = ConceptLog(storage, "affable-shark")
    for i in range(5):
        log.append(LogEntry(step="s", message=str(i)))
    assert [e.message for e in log.read()] == ["0", "1", "2", "3", "4"]
    assert [e.message for e in log.read(limit=2)] == ["3", "4"]

"""Both storage backends under contention: compare-and-swap by many writers, and the\nnetwork guard the suite relies on."""


from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from backoffice.storage.base import PreconditionFailed, Storage
from backoffice.storage.local import LocalStorage

REPO = Path(__file__).resolve().parents[1]


def keys(storage: Storage, prefix: str = "") -> list[str]:
    return [o.key for o in storage.list(prefix)]


# --------------------------------------------------------------------------
# compare-and-swap under contention
# --------------------------------------------------------------------------


def cas_increment(storage: Storage, key: str, writer: str, n: int) -> int:
    """Increment the counter in `key` n times with a read-modify-write retry loop; return #conflicts."""
    conflicts = 0
    for i in range(n):
        while True:
            data, etag = storage.get(key)
            obj = json.loads(data)
            obj["counter"] += 1
            obj["log"].append(f"{writer}:{i}")
            try:
                storage.put_bytes(key, json.dumps(obj).encode(), if_match=etag)
                break
            except PreconditionFailed:
                conflicts += 1
    return conflicts


THREADS = 16
PER_THREAD = 6


def test_compare_and_swap_race_threads(storage: Storage) -> None:
    key = "race/counter.json"
    storage.put_bytes(key, json.dumps({"counter": 0, "log": []}).encode(), if_none_match=True)

    barrier = threading.Barrier(THREADS)
    conflicts: list[int] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(w: int) -> None:
        try:
            barrier.wait()
            c = cas_increment(storage, key, f"t{w}", PER_THREAD)
            with lock:
                conflicts.append(c)
        except BaseException as e:  # noqa: BLE001 - reported below
            with lock:
                errors.append(e)

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "workers hung"
    assert errors == []

    obj = json.loads(storage.get_bytes(key))
    assert obj["counter"] == THREADS * PER_THREAD
    assert sorted(obj["log"]) == sorted(f"t{w}:{i}" for w in range(THREADS) for i in range(PER_THREAD))
    # the race really happened: some writers had to retry
    assert sum(conflicts) > 0


_PROCESS_WORKER = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    from backoffice.storage.base import PreconditionFailed
    from backoffice.storage.local import LocalStorage

    root, go, writer, n = Path(sys.argv[1]), Path(sys.argv[2]), sys.argv[3], int(sys.argv[4])
    storage = LocalStorage(root, "http://127.0.0.1:8765")
    deadline = time.monotonic() + 60
    while not go.exists():
        if time.monotonic() > deadline:
            sys.exit("no go signal")
        time.sleep(0.001)
    conflicts = 0
    for i in range(n):
        while True:
            data, etag = storage.get("race/counter.json")
            obj = json.loads(data)
            obj["counter"] += 1
            obj["log"].append(f"{writer}:{i}")
            try:
                storage.put_bytes("race/counter.json", json.dumps(obj).encode(), if_match=etag)
                break
            except PreconditionFailed:
                conflicts += 1
    print(conflicts)
    """
)


def test_compare_and_swap_race_processes_local(tmp_path: Path) -> None:
    procs_n, per_proc = 8, 5
    root = tmp_path / "store"
    storage = LocalStorage(root, "http://127.0.0.1:8765")
    storage.put_bytes("race/counter.json", json.dumps({"counter": 0, "log": []}).encode(), if_none_match=True)
    go = tmp_path / "go"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _PROCESS_WORKER, str(root), str(go), f"p{w}", str(per_proc)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )
        for w in range(procs_n)
    ]
    time.sleep(0.5)  # let the interpreters start and wait at the barrier
    go.touch()
    conflicts = 0
    for p in procs:
        out, err = p.communicate(timeout=120)
        assert p.returncode == 0, err
        conflicts += int(out.strip())

    obj = json.loads(storage.get_bytes("race/counter.json"))
    assert obj["counter"] == procs_n * per_proc
    assert sorted(obj["log"]) == sorted(f"p{w}:{i}" for w in range(procs_n) for i in range(per_proc))
    print(f"{conflicts} conflicts among {procs_n} processes")


# --------------------------------------------------------------------------
# the network guard itself
# --------------------------------------------------------------------------


def test_network_guard_blocks_outside_connections() -> None:
    import socket

    with pytest.raises(RuntimeError, match="unplanned network access"):
        socket.create_connection(("example.org", 443), timeout=1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        with pytest.raises(RuntimeError, match="unplanned network access"):
            s.connect(("93.184.216.34", 80))
        with pytest.raises(RuntimeError, match="unplanned network access"):
            s.connect_ex(("10.0.0.1", 80))
    finally:
        s.close()

    # also in other threads
    caught: list[BaseException] = []

    def other() -> None:
        t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        try:
            t.connect(("8.8.8.8", 53))
        except BaseException as e:  # noqa: BLE001
            caught.append(e)
        finally:
            t.close()

    th = threading.Thread(target=other)
    th.start()
    th.join()
    assert len(caught) == 1 and isinstance(caught[0], RuntimeError)


def test_network_guard_allows_loopback(moto_server: str) -> None:
    import urllib.request

    # the moto server on 127.0.0.1 is reachable
    with urllib.request.urlopen(moto_server + "/", timeout=10) as r:  # noqa: S310
        assert r.status == 200

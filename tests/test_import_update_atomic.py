"""`import-collection --update` is atomic per version (issue 26): the new content is written
beside the old (new keys), the concept document's update is the one commit point, and the old
content is removed after it. Failing the k-th write of one update, for every k, leaves the
version whole and matching its record (the rdf's sha256, compatibility.json, the reports), and
a run without the fault then completes."""

from __future__ import annotations

import hashlib
import json
import shutil
from datetime import datetime
from collections.abc import Callable
from pathlib import Path

from backoffice.context import Context
from backoffice.importer.run import import_collection
from backoffice.records import keys
from backoffice.settings import Settings
from backoffice.storage.local import LocalStorage
from faulty_storage import FaultyStorage, InjectedFault
from import_helpers import AT, change_upstream, copy_running

pytest_plugins = ["backoffice_fixtures"]

CID = "chatty-frog"
WRITES = ("put_bytes", "put_stream", "copy", "delete", "delete_prefix")


def _source(tmp_path: Path) -> Path:
    """The sample trimmed to one resource."""
    src = copy_running(tmp_path / "running")
    index = json.loads((src / "index.json").read_text())
    index["items"] = [i for i in index["items"] if i["id"] == f"bioimage-io/{CID}"]
    (src / "index.json").write_text(json.dumps(index))
    return src


def _change_upstream(src: Path) -> None:
    change_upstream(src, f"bioimage-io/{CID}")


def _update(ctx: Context, src: Path) -> None:
    import_collection(ctx, [str(src)], files=False, update=True, at=datetime.fromisoformat(AT), workers=1)


def _check_whole(ctx: Context) -> str:
    """The version's files and reports are those its record names; returns its description."""
    v = ctx.concepts.get(CID).versions["v0"]
    rdf = ctx.storage.get_bytes(keys.version_files(CID, "v0", v.content) + v.rdf_name)
    assert hashlib.sha256(rdf).hexdigest() == v.rdf_sha256
    reports = keys.version_reports(CID, "v0", v.content)
    assert ctx.storage.exists(keys.conflated_summary(reports))
    assert v.compatibility is not None
    for tool in v.compatibility.reports.values():
        for brief in tool.values():
            assert ctx.storage.exists(reports + brief.file), brief.file
    return v.summary.description


def test_a_failure_at_every_write_of_an_update_leaves_the_version_whole(settings_factory: Callable[..., Settings],
                                                                         tmp_path: Path) -> None:
    src = _source(tmp_path)
    base = tmp_path / "base"
    ctx = Context(settings_factory(), storage=LocalStorage(base, "http://127.0.0.1:8765"))
    import_collection(ctx, [str(src)], files=False, at=datetime.fromisoformat(AT), workers=1)
    old = _check_whole(ctx)
    _change_upstream(src)

    probe_folder = tmp_path / "probe"
    shutil.copytree(base, probe_folder)
    probe = FaultyStorage(LocalStorage(probe_folder, "http://127.0.0.1:8765"), only=WRITES)
    _update(Context(settings_factory(), storage=probe), src)
    n = len(probe.calls)
    assert n >= 8 and any(c.startswith("delete_prefix") for c in probe.calls)  # the old content is removed at the end
    assert _check_whole(Context(settings_factory(), storage=probe.inner)) == "edited in place upstream"

    for k in range(n):
        folder = tmp_path / f"k{k}"
        shutil.copytree(base, folder)
        faulty = FaultyStorage(LocalStorage(folder, "http://127.0.0.1:8765"), k, only=WRITES)
        try:
            _update(Context(settings_factory(), storage=faulty), src)
        except InjectedFault:
            pass  # (a failed change marker is only warned about: the run goes on)
        assert len(faulty.calls) > k
        healthy = Context(settings_factory(), storage=faulty.inner)
        assert _check_whole(healthy) in (old, "edited in place upstream"), probe.calls[k]
        _update(healthy, src)  # the re-run completes
        assert _check_whole(healthy) == "edited in place upstream", probe.calls[k]
        shutil.rmtree(folder)

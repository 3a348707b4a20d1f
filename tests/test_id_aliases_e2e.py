"""`bioimageio test <alias>` against our id_map served on 127.0.0.1: the version DOI,
the concept DOI, the description's own id and a legacy id declared in collection/
each resolve to the right published version (DOIs set on the records directly, as
the Zenodo backup does)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from backoffice.context import Context
from backoffice.index.generate import generate_index
from backoffice.records.concept import ConceptRecord
from backoffice.review.publish import publish
from backoffice.serve.server import serve_in_thread
from backoffice.stage.stage import stage
from backoffice.dynamic.run import run_weight_format_test
from backoffice.dynamic.environments import current_env
from backoffice.validate.static import validate_format

REVIEWER = "github|10000001"
CID = "affable-shark"
OWN_ID = "impartial-shrimp"  # the id the description gives (an old-style id)
LEGACY = "10.5281/zenodo.5764892"
CONCEPT_DOI = "10.5281/zenodo.7000"
VERSION_DOIS = {"1": "10.5281/zenodo.7001", "2": "10.5281/zenodo.7002"}


def _publish(ctx: Context, pkg: Path) -> str:
    staged = stage(ctx, str(pkg), concept_id=CID, uploader="github|4242", progress=False)
    for wf in validate_format(ctx, CID).dynamic_formats:
        assert run_weight_format_test(ctx, CID, "draft", wf, current_env()).status == "passed"
    assert staged.version_assigned
    return publish(ctx, CID, REVIEWER).version


@pytest.mark.slow
def test_bioimageio_test_resolves_each_alias(local_ctx: Context, tmp_path: Path) -> None:
    from backoffice.demo.packages import build_model_package

    ctx = local_ctx
    pkg = build_model_package(tmp_path / "m.zip", formats=("torchscript",), concept_id=OWN_ID, version=None)
    assert [_publish(ctx, pkg), _publish(ctx, pkg)] == ["1", "2"]

    def set_dois(r: ConceptRecord) -> None:  # what the Zenodo backup writes back
        r.concept_doi = CONCEPT_DOI
        for v, doi in VERSION_DOIS.items():
            r.versions[v].doi = doi

    ctx.concepts.update(CID, set_dois)
    (ctx.settings.collection_dir / f"{CID}.yaml").write_text(f'legacy:\n  ids: ["{LEGACY}"]\n')
    ctx.__dict__.pop("curation", None)
    server, url = serve_in_thread(ctx.storage)
    ctx.storage.public_base_url = url  # type: ignore[attr-defined]
    try:
        generate_index(ctx)
        id_map = json.loads(ctx.storage.get_bytes("id_map.json"))
        source = {v: id_map[f"{CID}/{v}"]["source"] for v in ("1", "2")}
        expected = {VERSION_DOIS["1"]: "1", VERSION_DOIS["2"]: "2", CONCEPT_DOI: "2", OWN_ID: "2", LEGACY: "2"}
        for alias, version in expected.items():
            assert id_map[alias]["source"] == source[version], alias

        env = {**os.environ, "BIOIMAGEIO_ID_MAP": ctx.storage.public_url("id_map.json"),
               "BIOIMAGEIO_COLLECTION_HTTP_PATTERN": "", "BIOIMAGEIO_CACHE_PATH": str(tmp_path / "cache")}
        script = Path(sys.executable).with_name("bioimageio")  # the console script, or its module
        bioimageio = [str(script)] if script.exists() else [sys.executable, "-m", "bioimageio.core"]
        for i, (alias, version) in enumerate(expected.items()):
            summary_path = tmp_path / f"summary{i}.json"
            r = subprocess.run([*bioimageio, "test", alias, "--summary", str(summary_path)], env=env,
                               capture_output=True, text=True, timeout=600, cwd=tmp_path)
            assert r.returncode == 0, alias + "\n" + r.stdout[-3000:] + r.stderr[-3000:]
            summary = json.loads(summary_path.read_text())
            assert summary["status"] == "passed" and summary["id"] == CID, alias
            assert summary["version"] == version, (alias, summary["version"])
    finally:
        server.shutdown()
        server.server_close()

"""The test hand-over: a job without secrets reads the package through its public URLs
and writes its result to a file; `store-test-result` (with secrets, no uploaded code)
checks the file's size and shape and that it is the draft asked for, then stores it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.errors import ConfigError
from backoffice.records import keys
from backoffice.records.handover import MAX_HANDOVER_BYTES
from backoffice.records.status import DraftStatus
from backoffice.stage.stage import stage
from backoffice_fixtures import REPO, SECRETS



def _env(ctx: Context, **extra: str) -> dict[str, str]:
    s = ctx.settings
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update({"PYTHONPATH": str(REPO), "BACKOFFICE_LOCAL_ROOT": str(ctx.storage.root),  # type: ignore[attr-defined]
                "BACKOFFICE_CONFIG_PATH": str(s.config_path), "BACKOFFICE_COLLECTION_DIR": str(s.collection_dir),
                "BACKOFFICE_ENV_TEMPLATES_DIR": str(s.env_templates_dir), **extra})
    return env


def _bo(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "backoffice", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600)


def _snapshot(ctx: Context) -> dict[str, str]:
    return {i.key: i.etag for i in ctx.storage.list("")}


def _one_line_error(r: subprocess.CompletedProcess[str], code: int, text: str) -> None:
    assert r.returncode == code, r.stdout + r.stderr
    lines = r.stderr.strip().splitlines()
    assert lines[-1].startswith("error: ") and text in lines[-1], r.stderr
    assert "Traceback" not in r.stderr


def test_dataset_round_trip_through_public_urls(local_ctx: Context, packages: dict[str, Path], served: str, tmp_path: Path) -> None:
    cid = stage(local_ctx, str(packages["dataset"]), uploader="jane@example.org", progress=False).concept_id
    public = _env(local_ctx, BACKOFFICE_STORAGE="public", BACKOFFICE_PUBLIC_BASE_URL=served)
    before = _snapshot(local_ctx)
    r = _bo(["validate-format", cid, "draft", "--handover-out", "v.json"], public, tmp_path)
    assert r.returncode == 0, r.stderr
    r = _bo(["run-test", cid, "draft", "--out", "t.json"], public, tmp_path)
    assert r.returncode == 0, r.stderr
    assert _snapshot(local_ctx) == before  # the jobs without secrets wrote nothing
    t = json.loads((tmp_path / "t.json").read_text())
    assert t["tool"] == "bioimageio.spec" and t["summary"]["source_name"].startswith(served)

    secret = _env(local_ctx)
    r = _bo(["store-test-result", cid, "draft", str(tmp_path / "v.json")], secret, tmp_path)
    assert r.returncode == 0, r.stderr
    assert local_ctx.concepts.get(cid).require_draft().status == DraftStatus.TESTING
    r = _bo(["store-test-result", cid, "draft", str(tmp_path / "t.json")], secret, tmp_path)
    assert r.returncode == 0, r.stderr
    draft = local_ctx.concepts.get(cid).require_draft()
    assert draft.status == DraftStatus.AWAITING_REVIEW
    assert any(t.tool == "bioimageio.spec" and t.status in ("passed", "valid-format") for t in draft.tests.values())


def test_run_test_refuses_to_hold_a_secret(local_ctx: Context, packages: dict[str, Path], served: str, tmp_path: Path) -> None:
    cid = stage(local_ctx, str(packages["dataset"]), uploader="jane@example.org", progress=False).concept_id
    env = _env(local_ctx, BACKOFFICE_STORAGE="public", BACKOFFICE_PUBLIC_BASE_URL=served,
               BACKOFFICE_MAIL_PASSWORD=SECRETS["BACKOFFICE_MAIL_PASSWORD"])
    r = _bo(["run-test", cid, "draft", "--out", "t.json"], env, tmp_path)
    _one_line_error(r, ConfigError.exit_code, "must hold no secret, but mail_password is set")
    assert not (tmp_path / "t.json").exists()


def _good(cid: str, token: str | None) -> dict[str, Any]:
    return {"format": "backoffice-handover-1", "step": "test", "concept_id": cid, "subject": "draft", "draft_token": token,
            "tool": "bioimageio.spec", "weight_format": "", "status": "valid-format",
            "summary": {"name": "x", "status": "valid-format", "details": [{"name": "d", "status": "passed", "errors": []}]}}


@pytest.mark.parametrize(("mutate", "code", "text"), [
    (lambda h: "not json {", 14, "is not a JSON hand-over"),
    (lambda h: {k: v for k, v in h.items() if k != "summary"}, 14, "is not a valid hand-over (1 problems): summary: Field required"),
    (lambda h: {**h, "run_this": "rm -rf /"}, 14, "run_this: Extra inputs are not permitted"),
    (lambda h: {**h, "summary": {**h["summary"], "status": "great"}}, 14, "summary.status"),
    (lambda h: {**h, "status": "failed"}, 14, "contradicts the summary"),
    (lambda h: {**h, "concept_id": "bold-bat"}, 14, "the hand-over is for bold-bat draft"),
    (lambda h: {**h, "weight_format": "onnx", "tool": "bioimageio.core"}, 14, "has no 'onnx' weights"),
    (lambda h: {**h, "draft_token": "stale"}, 5, "replaced by a new upload"),
    (lambda h: {**h, "markdown": "x" * (MAX_HANDOVER_BYTES + 10)}, 14, f"more than the hand-over limit of {MAX_HANDOVER_BYTES}"),
])
def test_store_refuses_bad_hand_overs_in_one_line(local_ctx: Context, packages: dict[str, Path], tmp_path: Path,
                                                  mutate: Any, code: int, text: str) -> None:
    cid = stage(local_ctx, str(packages["dataset"]), uploader="jane@example.org", progress=False).concept_id
    token = local_ctx.concepts.get(cid).require_draft().token
    data = mutate(_good(cid, token))
    path = tmp_path / "h.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data))
    before = _snapshot(local_ctx)
    r = _bo(["store-test-result", cid, "draft", str(path)], _env(local_ctx), tmp_path)
    _one_line_error(r, code, text)
    assert _snapshot(local_ctx) == before
    assert not any(k.startswith(keys.draft_reports(cid, token)) for k in _snapshot(local_ctx))


@pytest.mark.slow
def test_model_weight_format_tested_from_its_public_url(local_ctx: Context, packages: dict[str, Path], served: str,
                                                         tmp_path: Path) -> None:
    """A dynamic test in the job without secrets: bioimageio.core reads the package from its URL."""
    from backoffice.validate.static import validate_format

    cid = stage(local_ctx, str(packages["model"]), uploader="jane@example.org", progress=False).concept_id
    validate_format(local_ctx, cid)
    public = _env(local_ctx, BACKOFFICE_STORAGE="public", BACKOFFICE_PUBLIC_BASE_URL=served)
    before = _snapshot(local_ctx)
    r = _bo(["run-test", cid, "draft", "onnx", "--out", "onnx.json"], public, tmp_path)
    assert r.returncode == 0, r.stderr
    assert _snapshot(local_ctx) == before
    handed = json.loads((tmp_path / "onnx.json").read_text())
    assert handed["weight_format"] == "onnx" and handed["status"] == "passed", handed["summary"]
    r = _bo(["store-test-result", cid, "draft", str(tmp_path / "onnx.json")], _env(local_ctx), tmp_path)
    assert r.returncode == 0, r.stderr
    draft = local_ctx.concepts.get(cid).require_draft()
    assert [t.status for t in draft.tests.values() if t.weight_format == "onnx"] == ["passed"]


def test_store_refuses_a_hand_over_of_another_job(local_ctx: Context, packages: dict[str, Path], tmp_path: Path) -> None:
    """The store job says what each matrix entry ran: a hand-over of another step or weight
    format (artifacts mixed up, or made up by uploaded code) is not stored."""
    cid = stage(local_ctx, str(packages["dataset"]), uploader="jane@example.org", progress=False).concept_id
    token = local_ctx.concepts.get(cid).require_draft().token
    path = tmp_path / "h.json"
    path.write_text(json.dumps(_good(cid, token)))
    before = _snapshot(local_ctx)
    r = _bo(["store-test-result", cid, "draft", str(path), "--expect-step", "test", "--expect-weight-format", "onnx"],
            _env(local_ctx), tmp_path)
    _one_line_error(r, 14, "the hand-over tested 'static checks', this job expects 'onnx'")
    r = _bo(["store-test-result", cid, "draft", str(path), "--expect-step", "validate-format"], _env(local_ctx), tmp_path)
    _one_line_error(r, 14, "the hand-over is of step 'test', this job expects 'validate-format'")
    assert _snapshot(local_ctx) == before
    r = _bo(["store-test-result", cid, "draft", str(path), "--expect-step", "test", "--expect-weight-format", ""],
            _env(local_ctx), tmp_path)
    assert r.returncode == 0, r.stderr

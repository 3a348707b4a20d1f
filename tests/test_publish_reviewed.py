"""Publish what was reviewed (issues 17 and 26): the review page shows the draft sha256, the
digest of every file of the draft; `publish --draft-sha256` (always passed by the publish
workflow) refuses any other draft — one the uploader re-staged after the review, or one with a
file swapped in the store since — in one line, and nothing changes."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

import pytest

from backoffice.context import Context
from backoffice.errors import ConflictError
from backoffice.records import keys
from backoffice.records.concept import ConceptRecord
from backoffice.records.status import DraftStatus
from backoffice.review.publish import publish
from backoffice.stage.stage import stage
from stage_helpers import snapshot
from test_trust_handover import _bo, _env, _one_line_error  # pyright: ignore[reportPrivateUsage]
from test_workflows import workflow

REVIEWER = "github|10000001"


def _awaiting_review(ctx: Context, cid: str) -> str:
    def mutate(record: ConceptRecord) -> None:
        for s in (DraftStatus.TESTING, DraftStatus.AWAITING_REVIEW):
            record.set_draft_status(s)

    ctx.concepts.update(cid, mutate)
    return ctx.concepts.get(cid).require_draft().files_sha256


def _shown_on_the_review_page(ctx: Context, cid: str) -> str:
    from backoffice.index.dashboard import write_detail

    write_detail(ctx, ctx.concepts.get(cid))
    return json.loads(ctx.storage.get_bytes(keys.dashboard_detail(cid)))["draft"]["draft_sha256"]


def _state(ctx: Context) -> dict[str, bytes]:
    """Everything stored: every key and its bytes, the log and the index markers included."""
    return {k: ctx.storage.get_bytes(k) for k in ctx.storage.list_keys("")}


def _restaged(src: Path, out: Path) -> Path:
    """The same package with a changed description, as an uploader would re-stage it."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zout:
        for info in zin.infolist():
            data = zin.read(info)
            if info.filename == "rdf.yaml":
                data = data.replace(b"description: ", b"description: unreviewed! ", 1)
            zout.writestr(info, data)
    return out


def test_a_draft_restaged_after_the_review_is_not_published(local_ctx: Context, packages: dict[str, Path], tmp_path: Path) -> None:
    cid = stage(local_ctx, str(packages["dataset"]), uploader="jane@example.org", progress=False).concept_id
    reviewed = _awaiting_review(local_ctx, cid)
    assert len(reviewed) == 64 and _shown_on_the_review_page(local_ctx, cid) == reviewed
    # after the approval was given on the page, the uploader re-stages
    stage(local_ctx, str(_restaged(packages["dataset"], tmp_path / "again.zip")), concept_id=cid, uploader="jane@example.org",
          progress=False)
    now = _awaiting_review(local_ctx, cid)
    assert now != reviewed and _shown_on_the_review_page(local_ctx, cid) == now
    before = _state(local_ctx)
    r = _bo(["publish", cid, "--reviewer", REVIEWER, "--draft-sha256", reviewed], _env(local_ctx), tmp_path)
    _one_line_error(r, ConflictError.exit_code, f"the draft of '{cid}' is not the one reviewed")
    assert _state(local_ctx) == before
    record = local_ctx.concepts.get(cid)
    assert record.versions == {} and record.require_draft().status == DraftStatus.AWAITING_REVIEW
    # what the reviewer saw now is what gets published
    r = _bo(["publish", cid, "--reviewer", REVIEWER, "--draft-sha256", now], _env(local_ctx), tmp_path)
    assert r.returncode == 0, r.stderr
    assert local_ctx.concepts.get(cid).versions["1.0"].rdf_sha256 == hashlib.sha256(
        local_ctx.storage.get_bytes(keys.version_files(cid, "1.0") + "rdf.yaml")).hexdigest()


def test_a_weight_swapped_after_the_review_is_not_published(local_ctx: Context, packages: dict[str, Path],
                                                            tmp_path: Path) -> None:
    """The attack: the draft is staged and tested, the reviewer approves what the page shows,
    then a weight file is replaced in the store (the rdf untouched). Publishing with the
    reviewed digest is refused, nothing changes; the digest is that of every file."""
    cid = stage(local_ctx, str(packages["model"]), uploader="jane@example.org", progress=False).concept_id
    reviewed = _awaiting_review(local_ctx, cid)
    assert _shown_on_the_review_page(local_ctx, cid) == reviewed
    draft = local_ctx.concepts.get(cid).require_draft()
    files = keys.draft_files(cid, draft.token)
    listed = sorted(k[len(files):] for k in local_ctx.storage.list_keys(files))
    assert {"weights.pt", "rdf.yaml"} <= set(listed)
    lines = "".join(f"{n}\t{hashlib.sha256(local_ctx.storage.get_bytes(files + n)).hexdigest()}\n" for n in listed)
    assert reviewed == hashlib.sha256(lines.encode()).hexdigest() != draft.rdf_sha256  # every file, as documented
    r = _bo(["status", cid], _env(local_ctx), tmp_path)
    assert f"draft sha256 (every file; publish --draft-sha256): {reviewed}" in r.stdout, r.stdout + r.stderr

    local_ctx.storage.put_bytes(files + "weights.pt", b"\x80\x02cos\nsystem\nX\x0a\x00\x00\x00echo pwned\x85R.")  # swapped
    before = _state(local_ctx)
    r = _bo(["publish", cid, "--reviewer", REVIEWER, "--draft-sha256", reviewed], _env(local_ctx), tmp_path)
    _one_line_error(r, ConflictError.exit_code, f"the draft of '{cid}' is not the one reviewed: its draft sha256 is ")
    assert _state(local_ctx) == before
    assert local_ctx.concepts.get(cid).versions == {}
    # the rdf's own sha256 no longer pins a draft: it is refused, with a hint
    r = _bo(["publish", cid, "--reviewer", REVIEWER, "--draft-sha256", draft.rdf_sha256], _env(local_ctx), tmp_path)
    _one_line_error(r, ConflictError.exit_code, "that is its rdf's sha256")
    assert _state(local_ctx) == before


def test_the_check_is_inside_the_conditional_write(ctx: Context) -> None:
    """A re-stage between publish's read and its accept step is caught by the accept itself."""
    from backoffice.records.manifest import files_digest, hash_files
    from backoffice.review.publish import _accept  # pyright: ignore[reportPrivateUsage]
    from test_review import CID, _setup  # pyright: ignore[reportPrivateUsage]

    _setup(ctx)
    digest = files_digest(hash_files(ctx.storage, keys.draft_files(CID, "tok1")).files)
    ctx.concepts.update(CID, lambda r: setattr(r.require_draft(), "files_sha256", digest))
    with pytest.raises(ConflictError):
        _accept(ctx, CID, REVIEWER, "f" * 64)
    assert ctx.concepts.get(CID).require_draft().status == DraftStatus.AWAITING_REVIEW
    with pytest.raises(ConflictError):
        publish(ctx, CID, REVIEWER, "f" * 64)
    assert publish(ctx, CID, REVIEWER, digest).version == "1.0"


def test_a_draft_staged_before_the_digest_existed_is_checked_by_its_files(ctx: Context) -> None:
    """No draft sha256 recorded: the files are hashed at publish all the same."""
    from backoffice.records.manifest import files_digest, hash_files
    from test_review import CID, _setup  # pyright: ignore[reportPrivateUsage]

    _setup(ctx)
    digest = files_digest(hash_files(ctx.storage, keys.draft_files(CID, "tok1")).files)
    with pytest.raises(ConflictError, match="is not the one reviewed"):
        publish(ctx, CID, REVIEWER, "e" * 64)
    assert ctx.concepts.get(CID).require_draft().status == DraftStatus.AWAITING_REVIEW
    assert publish(ctx, CID, REVIEWER, digest).version == "1.0"


@pytest.mark.parametrize("bad", ["abc", "G" * 64, "a" * 63, "a" * 64 + "\n"])
def test_a_malformed_digest_is_refused_in_one_line(local_ctx: Context, tmp_path: Path, bad: str) -> None:
    before = snapshot(local_ctx.storage)
    r = _bo(["publish", "affable-shark", "--reviewer", REVIEWER, "--draft-sha256", bad], _env(local_ctx), tmp_path)
    _one_line_error(r, 14, "--draft-sha256 must be 64 lowercase hex digits")
    assert snapshot(local_ctx.storage) == before


def test_the_publish_workflow_always_passes_the_reviewed_digest() -> None:
    wf = workflow("publish.yaml")
    spec = wf["on"]["workflow_dispatch"]["inputs"]["draft_sha256"]
    assert spec["required"] is True and spec["type"] == "string"
    job = wf["jobs"]["publish"]
    assert job["env"]["DRAFT_SHA256"] == "${{ inputs.draft_sha256 }}"
    check = job["steps"][0]["run"]
    assert '[[ "$DRAFT_SHA256" =~ ^[0-9a-f]{64}$ ]]' in check
    call = next(s["run"] for s in job["steps"] if "backoffice publish" in s.get("run", ""))
    assert '--draft-sha256 "$DRAFT_SHA256"' in call


def test_the_review_page_shows_the_digest() -> None:
    from backoffice.index.dashboard import static_files

    app = static_files()["app.js"].decode()
    assert 'el("code", { className: "draft-sha256" }, draft.draft_sha256' in app

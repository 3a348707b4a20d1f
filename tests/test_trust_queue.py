"""Draft concurrency groups are chosen for the verified uploader (issue 17): naming another's
concept in an rdf (or in the `concept_id` input) neither queues a run in that draft's group
(where it would cancel the run waiting there) nor lets it stage outside the group.

The concept job (`backoffice draft-concept`, no secrets, concept documents read through the
public storage URLs) answers the concept id only for a new concept or one the uploader may
stage; otherwise the run's group is its own run id and staging takes `--new-concept-only`."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from stage_helpers import EXTRA_OWNER, NEW_MODEL_ID, OTHER, UPLOADER, do_stage, snapshot, write_zip

from backoffice.context import Context
from backoffice.errors import ConflictError, PermissionDeniedError
from backoffice.github.issue_upload import stage_from_issue
from backoffice.records.concept import ConceptRecord
from backoffice.stage.ownership import queue_concept

RUN_ID = "98765"
OWNED = "chatty-frog"


def _rdf(concept: str | None) -> bytes:
    line = f"id: {concept}\n" if concept else ""
    return f'type: model\n{line}name: m\nversion: "1.0"\n'.encode()


def _package(tmp_path: Path, concept: str | None, name: str = "p.zip") -> Path:
    return write_zip(tmp_path / name, {"rdf.yaml": _rdf(concept)})


def _owned(ctx: Context) -> None:
    ctx.concepts.create(ConceptRecord(id=OWNED, type="model", owners=[UPLOADER]))


def group_of(file: str, concept_output: str, environment: str = "sandbox") -> str:
    """The staging job's concurrency group as GitHub evaluates it, for the concept job's output."""
    from test_workflows import workflow

    group = str(workflow(file)["jobs"]["stage"]["concurrency"]["group"])
    group = group.replace("${{ needs.concept.outputs.concept_id || github.run_id }}", concept_output or RUN_ID)
    group = re.sub(r"\$\{\{ (inputs\.environment|vars\.ISSUE_UPLOAD_ENVIRONMENT \|\| 'production') \}\}", environment, group)
    assert "${{" not in group, group
    return group


def _draft_concept(run_cli: Any, settings: Any, tmp_path: Path, args: list[str], **env: str) -> tuple[int, str, str]:
    out = tmp_path / "github_output"
    out.write_text("")
    r = run_cli(["draft-concept", *args], settings=settings, GITHUB_OUTPUT=str(out), **env)
    answer = re.findall(r"^concept_id=(.*)$", out.read_text(), re.MULTILINE)
    return r.returncode, answer[-1] if answer else "", r.stdout + r.stderr


# --------------------------------------------------------------------------
# the concept job's answer, and the group it puts the run in
# --------------------------------------------------------------------------


@pytest.mark.parametrize("file", ["stage.yaml", "upload_via_issue.yaml"])
def test_a_non_owner_naming_anothers_concept_queues_alone(
    file: str, run_cli: Any, settings_factory: Any, local_storage: Any, tmp_path: Path
) -> None:
    settings = settings_factory()
    _owned(Context(settings, storage=local_storage))
    pkg = _package(tmp_path, OWNED)
    answers: dict[str, str] = {}
    for who in (UPLOADER, OTHER):  # in the rdf, and as the concept_id input
        for args in ([str(pkg), "--uploader", who], [str(_package(tmp_path, None, "plain.zip")), "--concept-id", OWNED, "--uploader", who]):
            rc, answer, text = _draft_concept(run_cli, settings, tmp_path, args, GITHUB_ACTIONS="true",
                                              GITHUB_ACTOR_ID=who.removeprefix("github|"))
            assert rc == 0, text
            answers[f"{who} {args[1]}"] = answer
    assert set(answers.values()) <= {OWNED, ""}
    assert answers[f"{UPLOADER} --uploader"] == answers[f"{UPLOADER} --concept-id"] == OWNED
    assert answers[f"{OTHER} --uploader"] == answers[f"{OTHER} --concept-id"] == ""
    owner_group, other_group = group_of(file, OWNED), group_of(file, "")
    assert owner_group == f"draft-sandbox-{OWNED}"
    assert other_group == f"draft-sandbox-{RUN_ID}" != owner_group


def test_new_and_shared_concepts_keep_their_group(run_cli: Any, settings_factory: Any, local_storage: Any, tmp_path: Path) -> None:
    """A new id is anyone's to claim; an extra owner (collection/) and a reviewer are owners too."""
    settings = settings_factory()
    ctx = Context(settings, storage=local_storage)
    ctx.concepts.create(ConceptRecord(id="affable-shark", type="model", owners=[UPLOADER]))
    assert queue_concept(ctx, NEW_MODEL_ID, OTHER) == NEW_MODEL_ID
    assert queue_concept(ctx, "affable-shark", EXTRA_OWNER) == "affable-shark"
    assert queue_concept(ctx, "affable-shark", "github|10000001") == "affable-shark"  # a reviewer
    assert queue_concept(ctx, "affable-shark", None) is None
    assert queue_concept(ctx, None, UPLOADER) is None
    rc, answer, text = _draft_concept(run_cli, settings, tmp_path, [str(_package(tmp_path, NEW_MODEL_ID)), "--uploader", OTHER])
    assert (rc, answer) == (0, NEW_MODEL_ID), text


def test_the_uploader_is_verified_before_it_counts(run_cli: Any, settings_factory: Any, local_storage: Any, tmp_path: Path) -> None:
    """Claiming to be an owner does not help: on Actions the dispatching account must be that person."""
    settings = settings_factory()
    _owned(Context(settings, storage=local_storage))
    pkg = str(_package(tmp_path, OWNED))
    rc, answer, text = _draft_concept(run_cli, settings, tmp_path, [pkg, "--uploader", UPLOADER], GITHUB_ACTIONS="true",
                                      GITHUB_ACTOR_ID=OTHER.removeprefix("github|"))
    assert rc != 0 and answer == "" and "may not act as" in text, text
    rc, answer, text = _draft_concept(run_cli, settings, tmp_path, [pkg], GITHUB_ACTIONS="true")
    assert (rc, answer) == (0, ""), text  # nobody named: nobody's group


# --------------------------------------------------------------------------
# a run that queued alone stages only into a concept it creates
# --------------------------------------------------------------------------


def test_staging_outside_the_group_refuses_an_existing_concept(local_ctx: Context, tmp_path: Path) -> None:
    _owned(local_ctx)
    pkg = _package(tmp_path, OWNED)
    before = snapshot(local_ctx.storage)
    with pytest.raises(PermissionDeniedError, match="belongs to another uploader"):
        do_stage(local_ctx, pkg, uploader=OTHER, new_concept_only=True)
    # an owner whose run was not queued in the group (e.g. made an owner meanwhile): stage again
    with pytest.raises(ConflictError, match="not queued in its draft group"):
        do_stage(local_ctx, pkg, uploader=UPLOADER, new_concept_only=True)
    assert snapshot(local_ctx.storage) == before
    fresh = do_stage(local_ctx, _package(tmp_path, NEW_MODEL_ID, "new.zip"), uploader=OTHER, new_concept_only=True)
    assert fresh.concept_id == NEW_MODEL_ID
    assert do_stage(local_ctx, pkg, concept_id=OWNED, uploader=UPLOADER).concept_id == OWNED  # queued in its group


def test_an_issue_upload_outside_the_group_refuses_an_existing_concept(
    local_ctx: Context, file_server: tuple[Path, str]
) -> None:
    _owned(local_ctx)
    folder, base = file_server
    _package(folder, None)
    body = f"### Package URL\n\n{base}/p.zip\n\n### Concept id\n\n{OWNED}\n"
    comments: list[str] = []
    before = snapshot(local_ctx.storage)
    with pytest.raises(PermissionDeniedError):
        stage_from_issue(local_ctx, body, uploader=OTHER, comment=comments.append, new_concept_only=True)
    with pytest.raises(ConflictError):  # its owner, but the run is not in the draft's group
        stage_from_issue(local_ctx, body, uploader=UPLOADER, comment=comments.append, new_concept_only=True)
    assert snapshot(local_ctx.storage) == before
    assert len(comments) == 2 and "belongs to another uploader" in comments[0] and "stage again" in comments[1]


def test_the_stage_command_with_new_concept_only(run_cli: Any, settings_factory: Any, local_storage: Any, tmp_path: Path) -> None:
    """As the workflows call it: without --concept-id an existing concept is refused (one line,
    non-zero exit), with the concept job's --concept-id the owner stages."""
    settings = settings_factory()
    _owned(Context(settings, storage=local_storage))
    pkg = str(_package(tmp_path, OWNED))
    refused = run_cli(["stage", pkg, "--new-concept-only", "--uploader", UPLOADER, "--no-progress"], settings=settings)
    assert refused.returncode != 0 and "error: " in refused.stderr and "stage again" in refused.stderr, refused.stderr
    staged = run_cli(["stage", pkg, "--concept-id", OWNED, "--new-concept-only", "--uploader", UPLOADER, "--no-progress"],
                     settings=settings)
    assert staged.returncode == 0, staged.stderr

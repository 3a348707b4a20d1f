"""The review flow through the CLI commands, as the workflows run it: the uploader
gets the three e-mails; a test job that never reported leaves a failed report, not a
gap; a test environment that was not created is reported as such."""

from __future__ import annotations

from pathlib import Path

import pytest
from backoffice_fixtures import REPO, SECRETS
from test_mail import Inbox, mail_cli_env, run_main as _cli, smtp_server  # noqa: F401 - fixtures

from backoffice.cli import main
from backoffice.context import Context
from backoffice.records.status import DraftStatus
from backoffice.records.target import resolve_target
from backoffice.stage.stage import stage
from backoffice.dynamic.run import maybe_finish_testing, run_weight_format_test
from backoffice.dynamic.env_builders import existing_env
from backoffice.validate.static import validate_format

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
UPLOADER = "jane@example.org"


def test_uploader_gets_three_mails_through_the_cli(mail_cli_env: tuple[Inbox, Path], packages: dict[str, Path],  # noqa: F811
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    inbox, _ = mail_cli_env
    assert _cli(["stage", str(packages["dataset"]), "--uploader", UPLOADER, "--no-progress"]) == 0
    cid = capsys.readouterr().out.split("draft of ")[1].split()[0]
    assert _cli(["validate-format", cid]) == 0
    assert _cli(["test", cid]) == 0  # a dataset: static checks only, then awaiting review
    assert len(inbox.messages) == 1 and "awaits review" in inbox.messages[0].message["Subject"].lower()
    assert _cli(["request-changes", cid, "--reviewer", "github|10000001", "--reason", "please add a cover"]) == 0
    assert _cli(["publish", cid, "--reviewer", "github|10000001"]) != 0  # changes requested: refused
    assert _cli(["test", cid]) == 0  # the reviewer retests after a fix
    assert _cli(["publish", cid, "--reviewer", "github|10000001"]) == 0
    subjects = [m.message["Subject"].lower() for m in inbox.messages]
    assert [m.rcpt_tos for m in inbox.messages] == [[UPLOADER]] * 4
    assert "changes requested" in subjects[1] and "please add a cover" in inbox.messages[1].message.get_content()
    assert "published" in subjects[3] and f"/{cid}/1.0/files/" in inbox.messages[3].message.get_content()
    out = capsys.readouterr()
    for raw in [m.raw.decode(errors="replace") for m in inbox.messages] + [out.out, out.err]:
        for secret in SECRETS.values():
            assert secret not in raw


@pytest.mark.slow
def test_finish_testing_reports_jobs_that_never_reported(local_ctx: Context, packages: dict[str, Path]) -> None:
    cid = stage(local_ctx, str(packages["model"]), uploader=UPLOADER, progress=False).concept_id
    static = validate_format(local_ctx, cid)
    assert static.dynamic_formats == ["onnx", "pytorch_state_dict", "torchscript"]
    target = resolve_target(local_ctx.concepts, cid, "draft")
    missing_env = existing_env(Path("/nonexistent/envs/backoffice-test"), "micromamba")
    outcome = run_weight_format_test(local_ctx, cid, "draft", "onnx", missing_env)
    assert outcome.status == "failed"
    assert outcome.first_error is not None and "environment failed: no environment at /nonexistent" in outcome.first_error
    assert local_ctx.concepts.get(cid).require_draft().status == DraftStatus.TESTING
    assert maybe_finish_testing(local_ctx, target) is False  # two formats still missing
    assert maybe_finish_testing(local_ctx, target, force=True) is True
    draft = local_ctx.concepts.get(cid).require_draft()
    assert draft.status == DraftStatus.AWAITING_REVIEW
    by_format = {t.weight_format: t.status for t in draft.tests.values() if t.tool == "bioimageio.core"}
    assert by_format == {"onnx": "failed", "pytorch_state_dict": "failed", "torchscript": "failed"}
    messages = [e.message for e in local_ctx.log(cid).read() if e.step == "test"]
    assert sum("no result was reported" in m for m in messages) == 2

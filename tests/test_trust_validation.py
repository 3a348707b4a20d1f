"""A broken package stays out of review: a description naming a missing file (or failing
static validation otherwise) makes `validate-format` exit non-zero, sends the draft back
to the uploader (`changes requested`, the validation errors in the e-mail), and
`finish-testing` never moves it to `awaiting review`."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from backoffice.cli import main
from backoffice.context import Context
from backoffice.records.concept import ReportBrief
from backoffice.records.status import DraftStatus
from backoffice.settings import Settings
from backoffice.dynamic.run import maybe_finish_testing
from backoffice.records.target import resolve_target
from test_mail import Inbox, mail_cli_env, run_main as _cli, smtp_server  # noqa: F401 - fixtures

pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")
UPLOADER = "jane@example.org"


def _without(package: Path, missing: str, dest: Path) -> Path:
    with zipfile.ZipFile(package) as src, zipfile.ZipFile(dest, "w") as out:
        for name in src.namelist():
            if name != missing:
                out.writestr(name, src.read(name))
    return dest


def test_missing_file_sends_the_draft_back_with_the_errors(
    tmp_path: Path, mail_cli_env: tuple[Inbox, Path],  # noqa: F811
    packages: dict[str, Path], capsys: pytest.CaptureFixture[str],
) -> None:
    inbox, _ = mail_cli_env
    broken = _without(packages["dataset"], "images.npy", tmp_path / "broken.zip")
    assert _cli(["stage", str(broken), "--uploader", UPLOADER, "--no-progress"]) == 0
    cid = capsys.readouterr().out.split("draft of ")[1].split()[0]

    assert _cli(["validate-format", cid]) == 11
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == f"error: {cid} draft: static validation failed; changes requested from the uploader"
    ctx = Context(Settings())
    assert ctx.concepts.get(cid).require_draft().status == DraftStatus.CHANGES_REQUESTED
    drafts = (tmp_path / "store" / "collection_draft.json").read_text()
    assert cid in drafts and "changes requested" in drafts  # the reviewers' list says so

    (mail,) = inbox.messages
    assert mail.rcpt_tos == [UPLOADER] and "failed validation" in mail.message["Subject"]
    assert "images.npy" in mail.message.get_content()

    assert _cli(["finish-testing", cid]) == 0
    assert ctx.concepts.get(cid).require_draft().status == DraftStatus.CHANGES_REQUESTED
    _cli(["test", cid, "draft"])  # a late test result does not pull the draft back into testing
    assert ctx.concepts.get(cid).require_draft().status == DraftStatus.CHANGES_REQUESTED
    assert _cli(["publish", cid, "--reviewer", "github|10000001"]) == 6
    assert len(inbox.messages) == 1


def test_finish_testing_never_passes_a_failed_static_validation(local_ctx: Context, packages: dict[str, Path]) -> None:
    from backoffice.stage.stage import stage

    cid = stage(local_ctx, str(packages["dataset"]), uploader=UPLOADER, progress=False).concept_id

    def testing_with_failed_spec(record: object) -> None:
        draft = record.require_draft()  # type: ignore[attr-defined]
        record.set_draft_status(DraftStatus.TESTING)  # type: ignore[attr-defined]
        draft.tests["bioimageio.spec_x"] = ReportBrief(status="failed", report="bioimageio.spec_x", tool="bioimageio.spec")
        draft.expected_tests = []

    local_ctx.concepts.update(cid, testing_with_failed_spec)
    target = resolve_target(local_ctx.concepts, cid, "draft")
    assert maybe_finish_testing(local_ctx, target, force=True) is False
    assert local_ctx.concepts.get(cid).require_draft().status == DraftStatus.TESTING

"""Who dispatches is who acts: publish, request-changes, chat and stage accept the step only
from the person they name (github.actor_id) or from the configured website bot, and the
log says which. Chat authors are the uploader, owners and reviewers; texts are bounded
and free of control characters."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from backoffice.cli import main
from backoffice.config.collection_config import load_collection_config
from backoffice.context import Context
from backoffice.errors import InvalidArgumentError, PermissionDeniedError
from backoffice.records.status import DraftStatus
from backoffice.review.identity import verify_actor
from backoffice.records.message_text import MAX_MESSAGE_CHARS, check_message
from backoffice_fixtures import REPO
from test_review import CID, REVIEWER, _setup
from config_paths import TEST_CONFIG

CONFIG = load_collection_config(TEST_CONFIG)
BOT = "10000099"  # bioimageio_collection_config.json: website_bot


def test_config_names_the_website_bot_typed() -> None:
    assert CONFIG.website_bot is not None and CONFIG.website_bot.id == f"github|{BOT}"
    with pytest.raises(Exception, match="website_bot.id"):
        type(CONFIG).model_validate({**CONFIG.model_dump(), "website_bot": {"id": "bioimageiobot", "name": "x"}})


def test_verify_actor_rules() -> None:
    ok = verify_actor(CONFIG, REVIEWER, "10000001", on_github_actions=True)
    assert ok.actor == REVIEWER and "dispatched by github|10000001 itself" in ok.how
    via_bot = verify_actor(CONFIG, REVIEWER, BOT, on_github_actions=True)
    assert via_bot.actor == REVIEWER and "website bot" in via_bot.how
    assert "website bot" in verify_actor(CONFIG, "jane@example.org", BOT, on_github_actions=True).how
    with pytest.raises(PermissionDeniedError, match="github|10000002 dispatched this step and may not act as 'github|10000001'"):
        verify_actor(CONFIG, REVIEWER, "10000002", on_github_actions=True)
    with pytest.raises(PermissionDeniedError, match="dispatching GitHub account is unknown"):
        verify_actor(CONFIG, REVIEWER, None, on_github_actions=True)
    with pytest.raises(InvalidArgumentError, match="must be a number"):
        verify_actor(CONFIG, REVIEWER, "10000001; rm", on_github_actions=True)
    assert "not verified" in verify_actor(CONFIG, REVIEWER, None, on_github_actions=False).how


@pytest.fixture()
def cli(local_ctx: Context, monkeypatch: pytest.MonkeyPatch) -> Any:
    root: Path = local_ctx.storage.root  # type: ignore[attr-defined]
    monkeypatch.setenv("BACKOFFICE_LOCAL_ROOT", str(root))
    monkeypatch.setenv("BACKOFFICE_CONFIG_PATH", str(local_ctx.settings.config_path))
    monkeypatch.setenv("BACKOFFICE_COLLECTION_DIR", str(local_ctx.settings.collection_dir))

    def run(*args: str, actor: str | None = None) -> int:
        if actor is None:
            monkeypatch.delenv("GITHUB_ACTOR_ID", raising=False)
        else:
            monkeypatch.setenv("GITHUB_ACTOR_ID", actor)
        try:
            main(list(args))
        except SystemExit as e:
            return int(e.code or 0)
        return 0

    return run


def _log(ctx: Context) -> list[str]:
    return [f"{e.step}: {e.message}" for e in ctx.log(CID).read()]


def test_publish_only_by_the_reviewer_who_dispatches(local_ctx: Context, cli: Any, monkeypatch: pytest.MonkeyPatch,
                                                     capsys: pytest.CaptureFixture[str]) -> None:
    _setup(local_ctx)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    # someone with dispatch rights names a reviewer: refused, nothing changes
    assert cli("publish", CID, "--reviewer", REVIEWER, actor="4242") == 7
    assert capsys.readouterr().err.strip().endswith("error: github|4242 dispatched this step and may not act as 'github|10000001'")
    assert local_ctx.concepts.get(CID).require_draft().status == DraftStatus.AWAITING_REVIEW
    assert not any("refused" in m for m in _log(local_ctx))  # a refusal writes nothing (issue 26)
    assert cli("publish", CID, "--reviewer", REVIEWER) == 7  # on Actions without the dispatching account
    assert cli("publish", CID, "--reviewer", REVIEWER, "--acting-github-id", "10000001") == 0
    assert "1.0" in local_ctx.concepts.get(CID).versions
    assert any("publish for github|10000001: verified: dispatched by github|10000001 itself" in m for m in _log(local_ctx))


def test_request_changes_via_the_website_bot_is_logged_as_such(local_ctx: Context, cli: Any,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    _setup(local_ctx)
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert cli("request-changes", CID, "--reviewer", REVIEWER, "--reason", "add a cover", actor="10000002") == 7
    assert local_ctx.concepts.get(CID).require_draft().status == DraftStatus.AWAITING_REVIEW
    assert cli("request-changes", CID, "--reviewer", REVIEWER, "--reason", "add a cover", actor=BOT) == 0
    assert local_ctx.concepts.get(CID).require_draft().status == DraftStatus.CHANGES_REQUESTED
    assert any("website bot github|10000099" in m and "for github|10000001" in m for m in _log(local_ctx))


def test_chat_authors_are_verified_and_limited(local_ctx: Context, cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    _setup(local_ctx)  # uploader and owner: up@example.org
    assert cli("chat", CID, "--message", "hello", "--author", "github|4242", actor="4242") == 7
    assert "may not write in the chat" in capsys.readouterr().err
    assert cli("chat", CID, "--message", "lgtm", "--author", REVIEWER, actor="10000002") == 7  # not who dispatched
    assert cli("chat", CID, "--message", "\x1b[2J\x1b[31mpwned", "--author", REVIEWER, actor="10000001") == 14
    assert "control character (U+001B" in capsys.readouterr().err
    assert cli("chat", CID, "--message", "x" * (MAX_MESSAGE_CHARS + 1), "--author", REVIEWER, actor="10000001") == 14
    assert local_ctx.chat(CID).read() == []
    assert cli("chat", CID, "--message", "please add a cover", "--author", REVIEWER, actor="10000001") == 0
    assert cli("chat", CID, "--message", "done", "--author", "up@example.org", actor=BOT) == 0
    assert [(m.author, m.text) for m in local_ctx.chat(CID).read()] == [(REVIEWER, "please add a cover"), ("up@example.org", "done")]


def test_reasons_are_checked_like_messages(local_ctx: Context, cli: Any) -> None:
    _setup(local_ctx)
    assert cli("request-changes", CID, "--reviewer", REVIEWER, "--reason", "bad\x07bell") == 14
    assert cli("request-changes", CID, "--reviewer", REVIEWER, "--reason", "\u202eevil") == 14
    assert local_ctx.concepts.get(CID).require_draft().status == DraftStatus.AWAITING_REVIEW
    assert check_message("  two\r\nlines\tok ") == "two\nlines\tok"


def test_stage_uploader_must_be_who_dispatches(local_ctx: Context, cli: Any, packages: dict[str, Path],
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    assert cli("stage", str(packages["dataset"]), "--uploader", "github|4242", "--no-progress", actor="777") == 7
    assert local_ctx.concepts.list_ids() == []
    assert cli("stage", str(packages["dataset"]), "--uploader", "jane@example.org", "--no-progress", actor=BOT) == 0

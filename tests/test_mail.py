"""E-mail to the uploader, sent to an aiosmtpd server on 127.0.0.1 and read back."""

from __future__ import annotations

import email
import email.policy
import json
import logging
import socket
from collections.abc import Iterator
from pathlib import Path
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from backoffice.context import Context
from backoffice.notify import notify_uploader
from backoffice_fixtures import REPO, SECRETS

from backoffice.cli import main
from config_paths import EXAMPLE_COLLECTION, TEST_CONFIG

MAIL_USER = "bot"
MAIL_PASSWORD = SECRETS["BACKOFFICE_MAIL_PASSWORD"]
CID = "affable-shark"

# the test server takes a login over plain SMTP on loopback, on purpose
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    raw: bytes
    message: EmailMessage


@dataclass
class Inbox:
    """What the SMTP server received."""

    messages: list[Received] = field(default_factory=list)
    logins: list[tuple[str, bool]] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        raw: bytes = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        self.messages.append(Received(envelope.mail_from, list(envelope.rcpt_tos), raw, msg))  # type: ignore[arg-type]
        return "250 OK"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        if not isinstance(auth_data, LoginPassword):
            return AuthResult(success=False, handled=False)
        ok = auth_data.login == MAIL_USER.encode() and auth_data.password == MAIL_PASSWORD.encode()
        self.logins.append((auth_data.login.decode(), ok))
        # handled=False: aiosmtpd itself answers (235 or 535)
        return AuthResult(success=ok, handled=False)


@pytest.fixture()
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """An SMTP server on 127.0.0.1 requiring login (over plain SMTP)."""
    inbox = Inbox()
    port = _free_port()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=port,
        authenticator=inbox.authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


@pytest.fixture()
def mail_cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, smtp_server: tuple[Inbox, int]) -> tuple[Inbox, Path]:
    """The environment of `backoffice` commands run in this process (`run_main`): a store in
    `tmp_path/store`, the repository's config and collection, mail to `smtp_server`.
    Returns the inbox and the store folder."""
    inbox, port = smtp_server
    for name, value in {
        "LOCAL_ROOT": str(tmp_path / "store"), "CONFIG_PATH": str(TEST_CONFIG),
        "COLLECTION_DIR": str(EXAMPLE_COLLECTION), "MAIL_HOST": "127.0.0.1", "MAIL_PORT": str(port),
        "MAIL_USER": MAIL_USER, "MAIL_PASSWORD": MAIL_PASSWORD, "MAIL_STARTTLS": "false",
    }.items():
        monkeypatch.setenv(f"BACKOFFICE_{name}", value)
    return inbox, tmp_path / "store"


def run_main(args: list[str]) -> int:
    """`backoffice <args>` in this process; its exit code."""
    try:
        main(args)
    except SystemExit as e:
        return int(e.code or 0)
    return 0


@pytest.fixture()
def backoffice_logs(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    """Capture the `backoffice` logger even if `setup_logging` stopped its propagation."""
    bo = logging.getLogger("backoffice")
    bo.addHandler(caplog.handler)
    caplog.set_level(logging.DEBUG, logger="backoffice")
    try:
        yield caplog
    finally:
        bo.removeHandler(caplog.handler)


def _mail_ctx(local_ctx: Context, settings_factory: Any, **overrides: Any) -> Context:
    values: dict[str, Any] = {"mail_user": MAIL_USER, "mail_password": MAIL_PASSWORD, "mail_from": "bot@bioimage.io",
                              "mail_starttls": False}  # the test server is on loopback
    values.update(overrides)
    return Context(settings_factory(**values), storage=local_ctx.storage)


def _assert_no_secret(*texts: str) -> None:
    for text in texts:
        for name, secret in SECRETS.items():
            assert secret not in text, f"{name} leaked"


def _body(received: Received) -> str:
    return received.message.get_content().replace("\r\n", "\n")


def _notify_entries(ctx: Context, cid: str = CID) -> list[Any]:
    return [e for e in ctx.log(cid).read() if e.step == "notify"]


def test_three_messages_arrive(
    local_ctx: Context, settings_factory: Any, smtp_server: tuple[Inbox, int], backoffice_logs: pytest.LogCaptureFixture
) -> None:
    inbox, port = smtp_server
    ctx = _mail_ctx(local_ctx, settings_factory, mail_host="127.0.0.1", mail_port=port)
    assert ctx.settings.mail_password is not None
    assert ctx.settings.mail_password.get_secret_value() == MAIL_PASSWORD

    published_url = ctx.storage.public_url(f"{CID}/1.0/files/rdf.yaml")
    reason = "Please add a cover image\nand describe the test data."
    assert notify_uploader(ctx, CID, "awaiting_review", version="1.0", uploader="jane@example.org", uploader_email=None)
    assert notify_uploader(
        ctx, CID, "changes_requested", version="1.0", reason=reason, uploader="jane@example.org", uploader_email="other@example.org"
    )
    assert notify_uploader(ctx, CID, "published", version="1.0", url=published_url, uploader="jane@example.org", uploader_email=None)

    assert inbox.logins == [(MAIL_USER, True)] * 3
    assert len(inbox.messages) == 3
    awaiting, changes, published = inbox.messages
    drafts_url = ctx.storage.public_url("collection_draft.json")
    for m in inbox.messages:
        assert m.rcpt_tos == ["jane@example.org"]
        assert m.mail_from == "bot@bioimage.io"
        assert m.message["To"] == "jane@example.org"
        assert m.message["From"] == "bot@bioimage.io"
        body = _body(m)
        assert CID in str(m.message["Subject"])
        assert CID in body and "1.0" in body
        assert drafts_url in body  # where to see the review
        assert body.endswith("\n")
        _assert_no_secret(m.raw.decode("utf-8", "replace"), body)

    assert "awaits review" in str(awaiting.message["Subject"])
    assert "awaits review" in _body(awaiting)

    assert "changes requested" in str(changes.message["Subject"])
    changes_body = _body(changes)
    assert reason in changes_body

    assert "published" in str(published.message["Subject"])
    assert published_url in _body(published)

    entries = _notify_entries(ctx)
    assert [e.details["event"] for e in entries] == ["awaiting_review", "changes_requested", "published"]
    assert all(e.details["sent"] and e.details["recipient"] == "jane@example.org" for e in entries)
    assert all("jane@example.org" in e.message for e in entries)
    assert entries[-1].subject == "1.0"
    _assert_no_secret(json.dumps([e.model_dump(mode="json") for e in entries]), backoffice_logs.text)


def test_recipient_from_description_email_only_without_an_uploader(
    local_ctx: Context, settings_factory: Any, smtp_server: tuple[Inbox, int]
) -> None:
    """The description's e-mail is the uploader's word: an uploader known as `github|123` is not
    mailed there (it could be anyone's address); a draft staged without an uploader is."""
    inbox, port = smtp_server
    ctx = _mail_ctx(local_ctx, settings_factory, mail_host="127.0.0.1", mail_port=port)
    assert not notify_uploader(ctx, CID, "awaiting_review", version="1.0", uploader="github|123", uploader_email="victim@example.org")
    assert inbox.messages == []
    assert notify_uploader(ctx, CID, "awaiting_review", version="1.0", uploader=None, uploader_email="maintainer@example.org")
    assert [m.rcpt_tos for m in inbox.messages] == [["maintainer@example.org"]]
    assert inbox.messages[0].message["To"] == "maintainer@example.org"
    first, second = _notify_entries(ctx)
    assert first.details["recipient"] is None and second.details["recipient"] == "maintainer@example.org"


@pytest.mark.parametrize("uploader", ["github|123", None, "not an address"])
def test_no_address_no_mail(
    local_ctx: Context,
    settings_factory: Any,
    smtp_server: tuple[Inbox, int],
    backoffice_logs: pytest.LogCaptureFixture,
    uploader: str | None,
) -> None:
    inbox, port = smtp_server
    ctx = _mail_ctx(local_ctx, settings_factory, mail_host="127.0.0.1", mail_port=port)
    assert not notify_uploader(ctx, CID, "published", version="1.0", url="http://127.0.0.1/x", uploader=uploader, uploader_email=None)
    assert inbox.messages == [] and inbox.logins == []
    assert any(r.levelno == logging.INFO and "no address" in r.getMessage() for r in backoffice_logs.records)
    (entry,) = _notify_entries(ctx)
    assert entry.details["recipient"] is None and not entry.details["sent"]


def test_no_mail_host_no_mail(local_ctx: Context, settings_factory: Any, backoffice_logs: pytest.LogCaptureFixture) -> None:
    ctx = _mail_ctx(local_ctx, settings_factory, mail_host=None)
    assert not notify_uploader(ctx, CID, "awaiting_review", version="1.0", uploader="jane@example.org", uploader_email=None)
    assert any("no mail host" in r.getMessage() for r in backoffice_logs.records)
    (entry,) = _notify_entries(ctx)
    assert not entry.details["sent"]


def test_server_down_is_logged_not_raised(
    local_ctx: Context, settings_factory: Any, backoffice_logs: pytest.LogCaptureFixture
) -> None:
    ctx = _mail_ctx(local_ctx, settings_factory, mail_host="127.0.0.1", mail_port=_free_port())
    assert not notify_uploader(
        ctx, CID, "changes_requested", version="1.0", reason="fix it", uploader="jane@example.org", uploader_email=None
    )
    warnings = [r for r in backoffice_logs.records if r.levelno == logging.WARNING]
    assert warnings and "jane@example.org" in warnings[0].getMessage()
    (entry,) = _notify_entries(ctx)
    assert not entry.details["sent"] and entry.details["error"]
    _assert_no_secret(backoffice_logs.text, json.dumps(entry.model_dump(mode="json")))


def test_rejected_login_is_logged_without_secret(
    local_ctx: Context, settings_factory: Any, smtp_server: tuple[Inbox, int], backoffice_logs: pytest.LogCaptureFixture
) -> None:
    inbox, port = smtp_server
    # the server accepts only MAIL_PASSWORD; send another secret value to get a rejection
    wrong = SECRETS["BACKOFFICE_ZENODO_TOKEN"]
    ctx = _mail_ctx(local_ctx, settings_factory, mail_host="127.0.0.1", mail_port=port, mail_password=wrong)
    assert not notify_uploader(ctx, CID, "awaiting_review", version="1.0", uploader="jane@example.org", uploader_email=None)
    # smtplib tries each mechanism the server offers (PLAIN, LOGIN): all rejected
    assert inbox.messages == [] and inbox.logins and all(login == (MAIL_USER, False) for login in inbox.logins)
    assert any(r.levelno == logging.WARNING for r in backoffice_logs.records)
    _assert_no_secret(backoffice_logs.text, json.dumps([e.model_dump(mode="json") for e in _notify_entries(ctx)]))


def test_starttls_unsupported_by_server_is_a_failed_send(
    local_ctx: Context, settings_factory: Any, smtp_server: tuple[Inbox, int], backoffice_logs: pytest.LogCaptureFixture
) -> None:
    inbox, port = smtp_server
    ctx = _mail_ctx(local_ctx, settings_factory, mail_host="127.0.0.1", mail_port=port, mail_starttls=True)
    assert not notify_uploader(ctx, CID, "awaiting_review", version="1.0", uploader="jane@example.org", uploader_email=None)
    assert inbox.messages == [] and inbox.logins == []  # never logs in without the TLS it was told to use
    assert any(r.levelno == logging.WARNING and "STARTTLS" in r.getMessage() for r in backoffice_logs.records)


def test_templates_ship_with_the_package() -> None:
    from importlib.resources import files

    mail = files("backoffice").joinpath("templates", "mail")
    for event in ("awaiting_review", "changes_requested", "published"):
        assert mail.joinpath(f"{event}.txt.j2").is_file()

"""The real IMAP server for the mail-reply tests: Debian's dovecot (installed by
scripts/install_system_packages.sh), started by the tests themselves.

A session fixture writes a private config in a temp dir — listening on 127.0.0.1 on a
free port, no SSL, plaintext auth allowed, a passwd-file user db, maildir storage,
base_dir/state_dir/log in the temp dir — and runs `dovecot -F -c <conf>` as a
subprocess, stopped at the end. It runs as the current user; when that is root (CI
containers) dovecot refuses root for its login and mail processes, so those run as
the package's `dovenull`/`dovecot` users.

Mail arrives over SMTP: `smtp_to_imap` is an aiosmtpd server on 127.0.0.1 that hands
every message it receives to the dovecot mailbox with IMAP APPEND (chosen over
dovecot-lda: no delivery config, and the same server path as the reader's).
"""

from __future__ import annotations

import imaplib
import os
import pwd
import grp
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

DOVECOT = "/usr/sbin/dovecot"
IMAP_USER = "bioimageiobot"
IMAP_PASSWORD = "imap-secret-password-5d21f0"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Dovecot:
    port: int
    folder: Path
    log: Path
    host: str = "127.0.0.1"
    user: str = IMAP_USER
    password: str = IMAP_PASSWORD

    def client(self) -> imaplib.IMAP4:
        c = imaplib.IMAP4(self.host, self.port, timeout=30)
        c.login(self.user, self.password)
        return c

    def new_mailbox(self) -> str:
        """A fresh, empty mailbox for one test."""
        name = "T" + uuid.uuid4().hex[:12]
        c = self.client()
        try:
            assert c.create(name)[0] == "OK"
        finally:
            c.logout()
        return name

    def append(self, mailbox: str, raw: bytes) -> None:
        c = self.client()
        try:
            typ, data = c.append(mailbox, None, None, raw)
            assert typ == "OK", data
        finally:
            c.logout()

    def flags(self, mailbox: str) -> list[str]:
        """FLAGS of every message in `mailbox`, in order."""
        c = self.client()
        try:
            c.select(mailbox, readonly=True)
            typ, data = c.fetch("1:*", "(FLAGS)")
            return [d.decode() for d in data if isinstance(d, bytes)] if typ == "OK" and data != [None] else []
        finally:
            c.logout()


def _config(folder: Path, port: int) -> str:
    if os.geteuid() == 0:
        login_user, internal_user = "dovenull", "dovecot"
        mail_uid, mail_gid = pwd.getpwnam("dovecot").pw_uid, grp.getgrnam("dovecot").gr_gid
    else:
        login_user = internal_user = pwd.getpwuid(os.geteuid()).pw_name
        mail_uid, mail_gid = os.geteuid(), os.getegid()
    internal_group = grp.getgrgid(pwd.getpwnam(internal_user).pw_gid).gr_name
    return f"""
protocols = imap
listen = 127.0.0.1
base_dir = {folder}/run
state_dir = {folder}/state
log_path = {folder}/dovecot.log
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
default_internal_group = {internal_group}
first_valid_uid = {mail_uid}
first_valid_gid = {mail_gid}
mail_location = maildir:{folder}/mail/%u
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {folder}/passwd
}}
userdb {{
  driver = static
  args = uid={mail_uid} gid={mail_gid} home={folder}/home/%u
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
"""


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    if not Path(DOVECOT).exists():
        pytest.fail(f"{DOVECOT} is missing: run scripts/install_system_packages.sh (Debian's dovecot-imapd)")
    # not under pytest's tmp dir: as root that is 0700 and dovecot's unprivileged processes must enter it
    folder = Path(tempfile.mkdtemp(prefix="backoffice-dovecot-"))
    folder.chmod(0o755)
    for sub in ("run", "state", "mail", "home"):
        (folder / sub).mkdir()
    if os.geteuid() == 0:
        for sub in ("mail", "home"):
            shutil.chown(folder / sub, "dovecot", "dovecot")
    (folder / "passwd").write_text(f"{IMAP_USER}:{{PLAIN}}{IMAP_PASSWORD}::::::\n")
    port = _free_port()
    conf = folder / "dovecot.conf"
    conf.write_text(_config(folder, port))
    server = Dovecot(port, folder, folder / "dovecot.log")
    proc = subprocess.Popen([DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                server.client().logout()
                break
            except (OSError, imaplib.IMAP4.error):
                if proc.poll() is not None or time.monotonic() > deadline:
                    log = server.log.read_text() if server.log.exists() else ""
                    pytest.fail(f"dovecot did not start: {log[-2000:]}")
                time.sleep(0.2)
        yield server
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=15)
        shutil.rmtree(folder, ignore_errors=True)


class _AppendToImap:
    """aiosmtpd handler: every message received is APPENDed to the dovecot mailbox."""

    def __init__(self, server: Dovecot, mailbox: str) -> None:
        self.server = server
        self.mailbox = mailbox
        self.received = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 - aiosmtpd hook
        raw: bytes = envelope.original_content or envelope.content
        self.server.append(self.mailbox, raw)
        self.received += 1
        return "250 OK"


@dataclass
class MailRoute:
    smtp_port: int
    mailbox: str
    handler: _AppendToImap


@pytest.fixture()
def smtp_to_imap(dovecot: Dovecot) -> Iterator[MailRoute]:
    """An SMTP server on 127.0.0.1 delivering into a fresh dovecot mailbox."""
    mailbox = dovecot.new_mailbox()
    handler = _AppendToImap(dovecot, mailbox)
    port = _free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield MailRoute(port, mailbox, handler)
    finally:
        controller.stop()

"""Issue 17, "Low": e-mail replies, workflow commands in logs, report hand-in, mail
recipients, version strings, thumbnails in a child without secrets, URL redirects, serve."""

from __future__ import annotations

import http.client
import io
import json
import logging
import threading
import zipfile
from collections.abc import Iterator
from datetime import datetime, timezone
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import unquote

import pytest
from stage_helpers import UPLOADER, do_stage

from backoffice.context import Context
from backoffice.errors import DownloadError, PackageError, PermissionDeniedError, ReportRejectedError
from backoffice.records.concept import ConceptRecord

AUTHSERV = "mx.bioimage.test"
BOT = "bioimageiobot@example.org"
JANE = "jane@example.org"
CID = "affable-shark"


def _reply(body: str, *, auth: str | None = None, date: str = "Thu, 01 Jan 2099 00:00:00 +0000") -> EmailMessage:
    msg = EmailMessage()
    msg["Authentication-Results"] = auth or f"{AUTHSERV}; dmarc=pass header.from=example.org"
    msg["From"] = f"Jane <{JANE}>"
    msg["To"] = f"bioimageiobot+{CID}@example.org"
    msg["Subject"] = f"Re: your draft [bioimage.io:{CID}]"
    msg["Date"] = date
    msg["Message-ID"] = "<reply-1@example.org>"
    msg.set_content(body)
    return msg


# --------------------------------------------------------------------------
# e-mail replies -> chat
# --------------------------------------------------------------------------


def test_reply_text_passes_the_chat_checks_with_its_attachment_note() -> None:
    from backoffice.notify.reply_text import reply_content
    from backoffice.records.message_text import MAX_MESSAGE_CHARS, check_message

    msg = _reply("look \x1b[31mred\x1b[0m\x07 and \u202edesrever\u202c " + "word " * 2000)
    for i in range(200):
        msg.add_attachment(b"x" * 10, maintype="application", subtype="octet-stream", filename=f"file-{i}-\x1b.bin")
    text = reply_content(msg).text
    assert not any(ch in text for ch in "\x1b\x07\u202e\u202c"), repr(text[:80])
    assert len(text) <= MAX_MESSAGE_CHARS and check_message(text) == text
    assert "[attachment dropped: file-0-.bin" in text and "more attachments dropped]" in text


def test_reply_time_is_the_servers_arrival_not_the_senders_date(local_ctx: Context, settings_factory: Any) -> None:
    from backoffice.notify.mail_replies import RepliesResult, handle_mail

    ctx = Context(settings_factory(imap_authserv_id=AUTHSERV, mail_from=BOT), storage=local_ctx.storage)
    ctx.concepts.create(ConceptRecord(id=CID, type="model", owners=[JANE]))
    arrived = datetime(2026, 1, 5, 10, 0, tzinfo=timezone.utc)
    assert handle_mail(ctx, _reply("hello").as_bytes(), arrived, RepliesResult())
    (message,) = ctx.chat(CID).read()
    assert message.timestamp == arrived and message.text == "hello"


@pytest.mark.parametrize(("auth", "trusted"), [
    (f"{AUTHSERV}; dmarc=pass header.from=example.org", True),
    (f"{AUTHSERV}; dmarc=pass header.from=attacker.example", False),  # a pass for another domain
    (f"{AUTHSERV}; dmarc=pass", False),  # a pass for no domain
    (f"{AUTHSERV}; dmarc=fail (dmarc=pass) header.from=example.org", False),  # in a comment
    (f"{AUTHSERV}; spf=pass (sender said: dmarc=pass header.from=example.org) smtp.mailfrom=x", False),
    (f"{AUTHSERV}; dkim=pass header.d=example.org", True),
])
def test_dmarc_pass_is_bound_to_the_from_domain(auth: str, trusted: bool) -> None:
    from backoffice.notify.reply_text import sender_authenticated

    assert sender_authenticated(_reply("x", auth=auth), AUTHSERV, JANE) is trusted


# --------------------------------------------------------------------------
# no workflow commands from outside
# --------------------------------------------------------------------------


def test_text_from_outside_never_starts_a_workflow_command_line(monkeypatch: pytest.MonkeyPatch) -> None:
    from backoffice.log import logger, setup_logging

    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    stream = io.StringIO()
    monkeypatch.setattr("sys.stderr", stream)
    setup_logging(logging.INFO)
    folded = "Re: hello\r\n ::add-mask::x\n::error::forged\r::stop-commands::tok\u2028::set-output name=a::b"
    logger.info("mail %s matches no concept", folded)
    logger.warning("mail %s", folded)
    from backoffice.cli.common import console

    out = io.StringIO()
    monkeypatch.setattr("sys.stdout", out)
    console.print(folded, markup=False)
    for text in (stream.getvalue(), out.getvalue()):
        lines = text.splitlines()
        assert lines and not [ln for ln in lines if ln.lstrip().startswith("::") and not ln.startswith("::warning::mail")], text


# --------------------------------------------------------------------------
# report hand-in
# --------------------------------------------------------------------------


def _run(**overrides: Any) -> dict[str, Any]:
    run = {"id": 7, "path": ".github/workflows/test_bioimageio_resources.yaml", "event": "workflow_dispatch",
           "head_branch": "main", "repository": {"full_name": "ilastik/bioimage-io-resources"},
           "head_repository": {"full_name": "ilastik/bioimage-io-resources"}}
    run.update(overrides)
    return run


@pytest.mark.parametrize(("run", "fragment"), [
    (_run(path=".github/workflows/other.yaml"), "not test_bioimageio_resources.yaml"),
    (_run(event="pull_request"), "pull_request event"),
    (_run(event="pull_request_target"), "pull_request_target event"),
    (_run(head_branch="evil"), "branch 'evil'"),
    (_run(head_repository={"full_name": "mallory/bioimage-io-resources"}), "own code"),
    (_run(repository={"full_name": "mallory/x"}), "own code"),
])
def test_a_report_run_must_be_the_partners_workflow_event_and_branch(local_ctx: Context, run: dict[str, Any], fragment: str) -> None:
    from backoffice.partners.identity import check_report_run

    ilastik = local_ctx.config.partner("ilastik")
    check_report_run(ilastik, "ilastik/bioimage-io-resources", _run())  # the real one passes
    with pytest.raises(PermissionDeniedError, match=fragment):
        check_report_run(ilastik, "ilastik/bioimage-io-resources", run)


def test_verify_reporter_reads_the_run_from_github(run_cli: Any, settings_factory: Any) -> None:
    from github_server import serve_github

    with serve_github() as gh:
        gh.runs[("ilastik/bioimage-io-resources", 7)] = _run()
        gh.runs[("ilastik/bioimage-io-resources", 8)] = _run(id=8, event="pull_request")
        env = {"BACKOFFICE_GITHUB_TOKEN": "t0ken", "BACKOFFICE_GITHUB_API_URL": gh.base}
        settings = settings_factory()
        ok = run_cli(["verify-reporter", "ilastik", "--actor-id", "5", "--mode", "artifact", "--run-id", "7"], settings=settings, **env)
        bad = run_cli(["verify-reporter", "ilastik", "--actor-id", "5", "--mode", "artifact", "--run-id", "8"], settings=settings, **env)
    assert ok.returncode == 0, ok.stderr
    assert bad.returncode == 7 and bad.stderr.strip().startswith("error: run 8 was started by a pull_request event"), bad.stderr


def _published(ctx: Context) -> None:
    from backoffice.records.concept import ResourceSummary, VersionRecord

    ctx.concepts.save(ConceptRecord(id="brave-otter", type="model", versions={
        "1.0": VersionRecord(version="1.0", rdf_sha256="0" * 64, summary=ResourceSummary(name="otter"))}))


def test_a_dispatch_partner_reports_only_on_versions_it_was_sent(local_ctx: Context, tmp_path: Path) -> None:
    from backoffice.partners.ingest import ingest
    from backoffice.partners.ledger import Ledger, VersionRef

    _published(local_ctx)
    report = tmp_path / "r" / "brave-otter" / "1.0" / "ilastik_1.4.json"
    report.parent.mkdir(parents=True)
    report.write_text('{"status": "passed"}')
    with pytest.raises(ReportRejectedError, match="never sent to partner 'ilastik'"):
        ingest(local_ctx, "ilastik", [str(tmp_path / "r")])
    assert not local_ctx.storage.exists("brave-otter/1.0/reports/ilastik_1.4.json")
    Ledger(local_ctx.storage, "ilastik").append("dispatched", [VersionRef("brave-otter", "1.0", "0" * 64)])
    assert len(ingest(local_ctx, "ilastik", [str(tmp_path / "r")]).accepted) == 1


def test_archive_members_are_bounded_before_they_are_held(local_ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from backoffice.partners import ingest as ingest_module

    path = tmp_path / "many.zip"
    with zipfile.ZipFile(path, "w") as zf:
        for i in range(ingest_module.MAX_REPORT_FILES + 1):
            zf.writestr(f"brave-otter/{i}/ilastik_1.4.json", "{}")
    with pytest.raises(ReportRejectedError, match="report files, more than"):
        ingest_module.collect([str(path)], tmp_path)
    monkeypatch.setattr(ingest_module, "MAX_TOTAL_REPORT_BYTES", 1000)
    with zipfile.ZipFile(big := tmp_path / "big.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("brave-otter/1.0/ilastik_1.4.json", " " * 5000)
    with pytest.raises(ReportRejectedError, match="bytes of report files"):
        ingest_module.collect([str(big)], tmp_path)


# --------------------------------------------------------------------------
# mail recipients, version strings
# --------------------------------------------------------------------------


def test_no_mail_to_the_descriptions_address_for_a_github_uploader() -> None:
    from backoffice.notify.mail import recipient_of

    assert recipient_of("github|123", "victim@example.org") is None
    assert recipient_of("jane@example.org", "victim@example.org") == "jane@example.org"


def test_version_strings_are_matched_whole(local_ctx: Context) -> None:
    from backoffice.cli.choices import draft_or_version
    from backoffice.errors import InvalidArgumentError
    from backoffice.records.tool_report import ReportProblem, split_report_name
    from backoffice.stage.stage import check_version

    with pytest.raises(PackageError):
        check_version("1.0\n")
    with pytest.raises(InvalidArgumentError):
        draft_or_version("1.0\n")
    with pytest.raises(ReportProblem):
        split_report_name("ilastik_1.4\n.json")


# --------------------------------------------------------------------------
# thumbnails in a child without secrets
# --------------------------------------------------------------------------


def test_pillow_runs_in_a_child_without_secrets(local_ctx: Context, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    from PIL import Image

    from backoffice.util import cmd

    buf = io.BytesIO()
    Image.new("RGB", (2000, 1000), "red").save(buf, format="PNG")
    pkg = tmp_path / "p.zip"
    with zipfile.ZipFile(pkg, "w") as zf:
        zf.writestr("rdf.yaml", 'type: model\nname: m\nversion: "1.0"\ncovers: [cover.png]\n')
        zf.writestr("cover.png", buf.getvalue())
    seen: list[dict[str, str]] = []
    real_run = cmd.run

    def recording_run(args: Any, **kwargs: Any) -> Any:
        seen.append(dict(kwargs.get("env") or {}))
        return real_run(args, **kwargs)

    monkeypatch.setattr(cmd, "run", recording_run)
    monkeypatch.setenv("BACKOFFICE_S3_SECRET_ACCESS_KEY", "s3-secret-value")
    monkeypatch.setenv("ZENODO_TOKEN", "zenodo-secret-value")
    opened: list[str] = []
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append("in-process") or (_ for _ in ()).throw(AssertionError))  # pyright: ignore
    result = do_stage(local_ctx, pkg, uploader=UPLOADER)
    assert not opened, "Pillow decoded the cover in the staging process"
    (env,) = seen
    assert env and not [k for k in env if k.startswith("BACKOFFICE_") or "TOKEN" in k or "SECRET" in k]
    assert "s3-secret-value" not in env.values() and sys.executable
    thumbs = [k for k in local_ctx.storage.list_keys(f"{result.concept_id}/drafts/") if "thumbnail" in k or k.endswith(".png")]
    assert len(thumbs) == 2  # the cover and its thumbnail


# --------------------------------------------------------------------------
# staging from a URL: no redirects to non-public addresses
# --------------------------------------------------------------------------


@pytest.fixture
def redirector() -> Iterator[str]:
    """A server on 127.0.0.1 answering `/to/<url>` with a redirect to <url>."""

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

        def do_GET(self) -> None:  # noqa: N802
            self.send_response(302)
            self.send_header("Location", unquote(self.path[len("/to/"):]))
            self.send_header("Content-Length", "0")
            self.end_headers()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("target", ["http://169.254.169.254/latest/meta-data/x.zip", "http://10.0.0.1/p.zip",
                                    "http://127.0.0.1:9/p.zip", "http://[::1]:9/p.zip"])
def test_a_redirect_to_a_non_public_address_is_refused(local_ctx: Context, redirector: str, target: str) -> None:
    assert local_ctx.settings.download_allowed_hosts == ("127.0.0.1",)  # the suite's servers, given directly
    before = sorted(local_ctx.storage.list_keys(""))
    with pytest.raises(DownloadError, match="loopback, link-local or private address"):
        do_stage(local_ctx, f"{redirector}/to/{target}", uploader=UPLOADER)
    assert sorted(local_ctx.storage.list_keys("")) == before


def test_a_non_public_url_needs_the_allow_list(local_ctx: Context, settings_factory: Any, file_server: tuple[Path, str]) -> None:
    folder, base = file_server
    with zipfile.ZipFile(folder / "p.zip", "w") as zf:
        zf.writestr("rdf.yaml", 'type: model\nname: m\nversion: "1.0"\n')
    strict = Context(settings_factory(download_allowed_hosts=()), storage=local_ctx.storage)
    with pytest.raises(DownloadError, match="127.0.0.1, a loopback"):
        do_stage(strict, f"{base}/p.zip", uploader=UPLOADER)
    with pytest.raises(DownloadError, match="10.1.2.3, a loopback"):
        do_stage(local_ctx, "http://10.1.2.3/p.zip", uploader=UPLOADER)
    assert do_stage(local_ctx, f"{base}/p.zip", uploader=UPLOADER).version == "1.0"


# --------------------------------------------------------------------------
# serve: a bad key is a 400
# --------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/a/../b", "/.backoffice-internal/locks/x", "/a%5Cb", "/a//b"])
def test_serve_answers_400_to_a_bad_key(local_ctx: Context, path: str) -> None:
    from backoffice.serve.server import serve_in_thread

    local_ctx.storage.put_bytes("a/b", b"x")
    server, base = serve_in_thread(local_ctx.storage)
    try:
        conn = http.client.HTTPConnection(base.split("//", 1)[1], timeout=10)
        conn.request("GET", path)
        response = conn.getresponse()
        assert response.status == 400, response.status
        conn.request("GET", "/a/b")  # the server goes on
        assert conn.getresponse().read() == b"x"
        conn.close()
    finally:
        server.shutdown()
        server.server_close()
    assert json.dumps(path)


# --------------------------------------------------------------------------
# draft concurrency groups
# --------------------------------------------------------------------------


@pytest.mark.parametrize(("file", "env"), [("stage.yaml", "${{ inputs.environment }}"),
                                           ("upload_via_issue.yaml", "${{ vars.ISSUE_UPLOAD_ENVIRONMENT || 'production' }}")])
def test_staging_queues_in_the_group_of_the_concept_its_description_names(file: str, env: str) -> None:
    """An update naming its concept only in its rdf (or an issue upload) stages in that draft's group:
    a job without secrets resolves the concept first (`draft-concept`), the staging job waits in its
    group and stages to that concept only."""
    from test_workflows import workflow

    jobs = workflow(file)["jobs"]
    concept, stage = jobs["concept"], jobs["stage"]
    # no secrets: the environment only gives the public URL its concept documents are read from
    assert "secrets." not in json.dumps(concept) and concept["env"]["BACKOFFICE_STORAGE"] == "public"
    assert any("backoffice draft-concept" in step.get("run", "") for step in concept["steps"])
    assert stage["needs"] == "concept"
    group = stage["concurrency"]["group"]
    assert group.startswith(f"draft-{env}-${{{{ needs.concept.outputs.concept_id ") and not stage["concurrency"]["cancel-in-progress"]
    staging = [step["run"] for step in stage["steps"] if "backoffice stage" in step.get("run", "")]
    assert staging and all('--concept-id "$DRAFT_CONCEPT_ID"' in run and "--new-concept-only" in run for run in staging)
    assert stage["env"]["DRAFT_CONCEPT_ID"] == "${{ needs.concept.outputs.concept_id }}"


def test_draft_concept_names_the_descriptions_concept(run_cli: Any, settings_factory: Any, tmp_path: Path) -> None:
    pkg = tmp_path / "p.zip"
    with zipfile.ZipFile(pkg, "w") as zf:
        zf.writestr("rdf.yaml", 'type: model\nid: affable-shark/1.0\nname: m\nversion: "2.0"\n')
    out = tmp_path / "out.txt"
    settings = settings_factory()
    r = run_cli(["draft-concept", str(pkg)], settings=settings, GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(out))
    assert r.returncode == 0, r.stderr
    assert out.read_text() == "concept_id=\n"  # no such concept yet: the run queues alone
    assert not Path(settings.local_root).exists() or not any(Path(settings.local_root).rglob("*.json"))  # wrote nothing
    ctx = Context(settings)
    for cid in ("affable-shark", "chatty-frog"):
        ctx.concepts.create(ConceptRecord(id=cid, type="model", owners=[UPLOADER]))
    before = sorted((p.as_posix(), p.stat().st_mtime_ns) for p in Path(settings.local_root).rglob("*"))
    r = run_cli(["draft-concept", str(pkg), "--uploader", UPLOADER], settings=settings, GITHUB_ACTIONS="true",
                GITHUB_OUTPUT=str(out), GITHUB_ACTOR_ID=UPLOADER.removeprefix("github|"))
    assert r.returncode == 0, r.stderr
    assert out.read_text().endswith("concept_id=affable-shark\n")  # the description's, the uploader's own
    given = run_cli(["draft-concept", str(pkg), "--concept-id", "chatty-frog", "--uploader", UPLOADER], settings=settings)
    assert given.stdout.strip() == "chatty-frog"
    assert sorted((p.as_posix(), p.stat().st_mtime_ns) for p in Path(settings.local_root).rglob("*")) == before  # wrote nothing

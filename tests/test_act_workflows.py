"""Every workflow run end to end under act, offline (see tests/act_harness.py), against the
suite's own services: the embedded local store (moto for one run) served by `backoffice
serve` for the public reads, the suite's GitHub API and Zenodo servers, a file server
for packages. Each run is checked by what it left in the store and on the servers.

The runs build on each other in file order (one store, one harness for the session): stage → test →
finish makes the draft that publish publishes, and so on. Workflows run one at a time.
"""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from datetime import datetime, timezone
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from act_harness import ActResult, Harness, copy_project, harness_session, missing_tools, act_project
from dovecot_server import Dovecot, dovecot  # noqa: F401 - the fixture
from github_server import FakeGitHub, serve_github

pytestmark = pytest.mark.slow

if (_why := missing_tools()) is not None:
    pytest.skip(_why, allow_module_level=True)

REPO = Path(__file__).resolve().parents[1]
UPLOADER = "github|10000001"
ZENODO_TOKEN = "act-zenodo-token"
REVIEWER_MAIL = "demo-reviewer@example.org"
"""The e-mail of UPLOADER, a reviewer in the repository's config."""
AUTHSERV = "mx.bioimage.test"


class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        return


def _serve(server: ThreadingHTTPServer) -> str:
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{server.server_address[1]}"


@dataclass
class _Served:
    """`backoffice serve` over a local store, in a process of its own."""

    url: str
    process: subprocess.Popen[bytes]

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=30)


def _backoffice_serve(store_root: Path, cwd: Path) -> _Served:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "PYTHONPATH": str(REPO), "BACKOFFICE_LOCAL_ROOT": str(store_root)}
    process = subprocess.Popen([sys.executable, "-m", "backoffice", "serve", "--port", str(port)], env=env, cwd=cwd,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            with urllib.request.urlopen(url + "/no-such-key"):
                break
        except urllib.error.HTTPError:
            break  # it answers
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("backoffice serve did not start") from None
            time.sleep(0.2)
    return _Served(url, process)


@dataclass
class World:
    """The harness and the services its runs use."""

    act: Harness
    ctx: Any
    """A Context over the store the jobs write (`BACKOFFICE_LOCAL_ROOT`)."""
    public: str
    """`backoffice serve`'s URL of that store."""
    files: Path
    """Folder the package file server serves."""
    files_url: str
    github: FakeGitHub
    zenodo: Any
    found: dict[str, str] = field(default_factory=lambda: dict[str, str]())
    """What earlier runs made: `model`, `issue`, `published_dataset` -> concept id."""

    @property
    def store(self) -> Any:
        return self.ctx.storage

    def read_json(self, key: str) -> Any:
        return json.loads(self.store.get_bytes(key))

    def reports(self, cid: str, which: str) -> dict[str, str]:
        """Test name -> status, as the concept records them for the draft or a published version."""
        record = self.ctx.concepts.get(cid)
        tests = record.require_draft().tests if which == "draft" else record.versions[which].tests
        return {name: str(brief.status) for name, brief in tests.items()}

    def cli(self, *args: str) -> str:
        from cli_runner import cli_environ, run_backoffice

        env = cli_environ(self.ctx.settings, BACKOFFICE_PUBLIC_BASE_URL=self.public,
                          BACKOFFICE_DOWNLOAD_ALLOWED_HOSTS=self.act.environ["BACKOFFICE_DOWNLOAD_ALLOWED_HOSTS"])
        done = run_backoffice(list(args), cwd=self.act.root, env=env)
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout

    def published_dataset(self) -> str:
        """The dataset package staged, validated and published by the command line (no workflow)."""
        if "published_dataset" not in self.found:
            before = set(self.ctx.concepts.list_ids())
            self.cli("stage", f"{self.files_url}/dataset.zip", "--uploader", UPLOADER, "--no-progress")
            (cid,) = set(self.ctx.concepts.list_ids()) - before
            self.cli("validate-format", cid, "draft")
            self.cli("finish-testing", cid)
            self.cli("publish", cid, "--reviewer", UPLOADER)
            self.found["published_dataset"] = cid
        return self.found["published_dataset"]

    def report_keys(self, cid: str, version: str) -> list[str]:
        """The report files of a published version (ours and the partners')."""
        from backoffice.records import keys

        return self.store.list_keys(keys.version_reports(cid, version))


@pytest.fixture(scope="session")
def world(packages: dict[str, Path]) -> Iterator[World]:
    from backoffice.context import Context
    from backoffice.demo.packages import build_model_package
    from backoffice.settings import Settings
    from backoffice.storage.local import LocalStorage
    from zenodo_server import zenodo_standin

    with harness_session() as act, serve_github() as github, zenodo_standin(ZENODO_TOKEN) as zenodo:
        files = act.root / "files"
        files.mkdir()
        file_server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet, directory=str(files)))
        files_url = _serve(file_server)
        store_root = act.root / "store"
        store_root.mkdir()
        served = _backoffice_serve(store_root, act.root)
        public = served.url
        settings = Settings(local_root=store_root, public_base_url=public,  # type: ignore[call-arg]
                            config_path=act.project / "bioimageio_collection_config.json",
                            collection_dir=act.project / "collection", env_templates_dir=act.project / "env_templates")
        ctx = Context(settings, storage=LocalStorage(store_root, public))
        hosts = [u.removeprefix("http://") for u in (public, files_url, zenodo.url)]
        act.variables.update({"BACKOFFICE_STORAGE": "local", "PUBLIC_BASE_URL": public,
                              # the offline environment managers: the job's own Python for tests and partners
                              "TEST_ENV_MANAGER": "current", "PARTNER_ENV_MANAGER": "current",
                              "ZENODO_URL": zenodo.url})
        act.secrets.update({"GITHUB_TOKEN": "act-fake-token", "ZENODO_TOKEN": ZENODO_TOKEN})
        act.environ.update({
            "BACKOFFICE_LOCAL_ROOT": str(store_root),
            "BACKOFFICE_DOWNLOAD_ALLOWED_HOSTS": json.dumps(hosts),
            "BACKOFFICE_GITHUB_API_URL": github.base,
            "GITHUB_API_URL": github.base,
        })
        # one weight format: one test leg per run (act runs a matrix's legs at once)
        build_model_package(files / "model.zip", formats=("torchscript",))
        build_model_package(files / "issue_model.zip", formats=("torchscript",), name="Tiny Issue Model")
        (files / "dataset.zip").write_bytes(packages["dataset"].read_bytes())
        try:
            yield World(act, ctx, public, files, files_url, github, zenodo)
        finally:
            file_server.shutdown()
            file_server.server_close()
            served.stop()
            total = sum(s for _, s in act.runs)
            print("\nact runs: " + ", ".join(f"{w} {s:.0f} s" for w, s in act.runs) + f"; total {total:.0f} s")


def _ok(result: ActResult) -> None:
    assert result.returncode == 0, result.tail()


def _draft(world: World, cid: str) -> Any:
    return world.ctx.concepts.get(cid).require_draft()


def test_stage_tests_and_finishes_a_draft(world: World) -> None:
    from backoffice.validate.static import spec_version

    _ok(world.act.run("stage.yaml", {
        "package_url": f"{world.files_url}/model.zip", "concept_id": "", "uploader": UPLOADER, "environment": "sandbox"}))
    (cid,) = world.ctx.concepts.list_ids()
    draft = _draft(world, cid)
    assert draft.status.value == "awaiting review", draft.status
    # the validation and the dynamic test (run as the leg's sandbox user, settings by absolute paths) were stored
    reports = world.reports(cid, "draft")
    assert reports == {"bioimageio.spec_" + spec_version(): "valid-format",
                       "bioimageio.core_0.11.0_torchscript": "passed"}, reports
    drafts = world.read_json("collection_draft.json")
    assert [e["id"] for e in drafts["collection"]] == [cid]
    world.found["model"] = cid


def test_upload_via_issue_stages_tests_and_comments(world: World) -> None:
    body = (f"### Package URL\n\n{world.files_url}/issue_model.zip\n\n### Concept id\n\n_No response_\n")
    payload = {"action": "opened", "issue": {
        "number": 7, "title": "Upload: a dataset", "body": body, "labels": [{"name": "upload"}],
        "author_association": "MEMBER", "user": {"id": 10000001, "login": "demo-reviewer"}}}
    before = set(world.ctx.concepts.list_ids())
    _ok(world.act.run("upload_via_issue.yaml", event="issues", payload=payload,
                      variables={"ISSUE_UPLOAD_ENVIRONMENT": "sandbox"}))
    (cid,) = set(world.ctx.concepts.list_ids()) - before
    draft = _draft(world, cid)
    assert draft.status.value == "awaiting review" and draft.uploader == UPLOADER
    assert world.reports(cid, "draft")["bioimageio.core_0.11.0_torchscript"] == "passed"
    staged, tested = world.github.comments(7)
    assert cid in staged and cid in tested and "awaits review" in tested
    world.found["issue"] = cid


def test_request_changes_sends_the_draft_back(world: World) -> None:
    cid = world.found["issue"]
    _ok(world.act.run("request_changes.yaml", {
        "concept_id": cid, "reviewer": UPLOADER, "reason": "please add a cover", "environment": "sandbox"}))
    draft = _draft(world, cid)
    assert draft.status.value == "changes requested"
    assert any("please add a cover" in m.text for m in world.ctx.chat(cid).read())


def test_publish_backs_up_dispatches_partners_and_runs_a_script_partner(world: World) -> None:
    cid = world.found["model"]
    # the digest of every file of the draft, as collection_draft.json gives it to the website (not the rdf's)
    (listed,) = [e for e in world.read_json("collection_draft.json")["collection"] if e["id"] == cid]
    sha = listed["draft_sha256"]
    assert sha == _draft(world, cid).files_sha256 and sha != listed.get("rdf_sha256"), listed
    _ok(world.act.run("publish.yaml", {"concept_id": cid, "reviewer": UPLOADER, "draft_sha256": sha,
                                       "environment": "sandbox"}))
    record = world.ctx.concepts.get(cid)
    version = record.versions["1.0"]
    # backup: a Zenodo version with its DOI written back
    assert version.doi and world.zenodo.published(), version
    # every dispatch partner got the new version; the script partner checked it and its report was ingested
    for repository in ("ilastik/bioimage-io-resources", "deepimagej/bioimage-io-resources"):
        (sent,) = world.github.dispatches(repository)
        assert cid in json.dumps(sent)
    # the script partner's report, as the release its environment pins
    assert any(key.endswith("/bioimageio.core_0.10.4.json") for key in world.report_keys(cid, "1.0")), world.report_keys(cid, "1.0")
    assert [e["id"] for e in world.read_json("collection.json")["collection"]] == [cid]


def test_report_compatibility_takes_a_partners_artifact(world: World) -> None:
    cid = world.found["model"]
    repository = "ilastik/bioimage-io-resources"
    world.github.runs[(repository, 4242)] = {
        "id": 4242, "path": ".github/workflows/test_bioimageio_resources.yaml", "event": "workflow_dispatch",
        "head_branch": "main", "repository": {"full_name": repository}, "head_repository": {"full_name": repository}}
    world.act.put_artifact("ilastik-reports", {f"{cid}/1.0/ilastik_1.4.1.json": json.dumps({"status": "passed", "score": 1.0})})
    _ok(world.act.run("report_compatibility.yaml", {
        "partner": "ilastik", "artifact_run_id": "4242", "artifact_name": "ilastik-reports", "reports_url": "",
        "environment": "sandbox"}))
    assert any(key.endswith("ilastik_1.4.1.json") for key in world.report_keys(cid, "1.0")), world.report_keys(cid, "1.0")


def test_retest_all_runs_each_chunk(world: World) -> None:
    # a second published version (a dataset, published here without workflows): two jobs, two chunks of one
    dataset = world.published_dataset()
    model = world.found["model"]
    before = {cid: world.ctx.concepts.get(cid).versions["1.0"].tests for cid in (model, dataset)}
    _ok(world.act.run("retest_all.yaml", {"environment": "sandbox", "only_missing": False, "chunk_size": 1}))
    for cid in (model, dataset):
        tests = world.ctx.concepts.get(cid).versions["1.0"].tests
        assert tests.keys() == before[cid].keys() and any(tests[n] != before[cid][n] for n in tests), (cid, tests)
    assert world.reports(model, "1.0")["bioimageio.core_0.11.0_torchscript"] == "passed"
    badges = {e["id"]: e["test_summary"]["status"] for e in world.read_json("collection.json")["collection"]}
    assert badges == {model: "passed", dataset: "valid-format"}, badges


def test_generate_collection_json(world: World) -> None:
    world.store.delete("collection.json")
    _ok(world.act.run("generate_collection_json.yaml", {"environment": "sandbox", "mode": "all", "full": True}))
    listed = {e["id"] for e in world.read_json("collection.json")["collection"]}
    assert listed == {world.found["model"], world.published_dataset()}, listed


def test_count_downloads_on_moto(world: World, moto_server: str) -> None:
    """The nightly count on S3 (moto): the store copied into a bucket, access logs in another,
    the counting state in a private one (`DOWNLOADS_STATE`)."""
    import boto3
    from access_logs import log_line

    from backoffice.records import keys

    s3: Any = boto3.client("s3", endpoint_url=moto_server, region_name="us-east-1",  # pyright: ignore[reportUnknownMemberType]
                      aws_access_key_id="testing", aws_secret_access_key="testing")
    bucket, logs, private, prefix = "act-collection", "act-collection-logs", "act-downloads-private", "sandbox/"
    for name in (bucket, logs, private):
        s3.create_bucket(Bucket=name)
    for key in world.store.list_keys(""):
        s3.put_object(Bucket=bucket, Key=prefix + key, Body=world.store.get_bytes(key))
    cid = world.found["model"]
    when = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
    lines = [log_line(when=when, ip=f"10.0.0.{i}", key=prefix + keys.version_package(cid, "1.0"), bucket=bucket)
             for i in range(3)]
    s3.put_object(Bucket=logs, Key="access/2026-03-01-11-00-00-ACT", Body=("\n".join(lines) + "\n").encode())
    _ok(world.act.run("count_downloads.yaml", {"environment": "sandbox"}, variables={
        "BACKOFFICE_STORAGE": "s3", "S3_ENDPOINT_URL": moto_server, "S3_BUCKET": bucket, "S3_PREFIX": prefix,
        "PUBLIC_BASE_URL": f"{moto_server}/{bucket}/{prefix.rstrip('/')}", "DOWNLOADS_LOG_SOURCE": f"s3://{logs}/access/",
        "DOWNLOADS_STATE": f"s3://{private}/counting/",
    }, secrets={"S3_ACCESS_KEY_ID": "testing", "S3_SECRET_ACCESS_KEY": "testing", "DOWNLOADS_HASH_KEY": "act-downloads-hash-key-0123456789"}))
    collection = json.loads(s3.get_object(Bucket=bucket, Key=prefix + "collection.json")["Body"].read())
    (entry,) = [e for e in collection["collection"] if e["id"] == cid]
    assert entry["download_count"] == 3, entry.get("download_count")
    # the state is in the private place, and nowhere in the collection's public bucket
    state = json.loads(s3.get_object(Bucket=private, Key="counting/" + keys.DOWNLOADS_STATE_NAME)["Body"].read())
    assert state["format"], state
    public_keys: list[str] = [o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket)
                              for o in page.get("Contents", [])]
    assert not [k for k in public_keys if k.endswith(keys.DOWNLOADS_STATE_NAME)], public_keys


def test_mail_replies_reach_the_review_chat(world: World, dovecot: Dovecot) -> None:
    cid = world.found["issue"]  # its draft went back to its uploader above
    mailbox = dovecot.new_mailbox()
    reply = EmailMessage()
    reply["Authentication-Results"] = f"{AUTHSERV}; dkim=pass header.i=@example.org; dmarc=pass header.from=example.org"
    reply["From"] = f"Demo Reviewer <{REVIEWER_MAIL}>"
    reply["To"] = f"bioimageiobot+{cid}@example.org"
    reply["Subject"] = f"Re: changes requested [bioimage.io:{cid}]"
    reply["Date"] = formatdate(usegmt=True)
    reply["Message-ID"] = make_msgid(domain="example.org")
    reply.set_content("The cover is there now.\n")
    dovecot.append(mailbox, bytes(reply))
    _ok(world.act.run("mail_replies.yaml", {"environment": "sandbox"}, variables={
        "IMAP_HOST": dovecot.host, "IMAP_PORT": str(dovecot.port), "IMAP_USER": dovecot.user, "IMAP_MAILBOX": mailbox,
        "IMAP_AUTHSERV_ID": AUTHSERV, "MAIL_FROM": "bioimageiobot@example.org",
    }, secrets={"IMAP_PASSWORD": dovecot.password}, environ={"BACKOFFICE_IMAP_TLS": "false"}))
    messages = world.ctx.chat(cid).read()
    assert any(m.via == "e-mail" and m.text == "The cover is there now." and m.author == REVIEWER_MAIL for m in messages), messages


def _venv_leg(world: World, project: Path | None = None) -> str:
    """test.yaml on the published model with the `venv` manager, which renders the weight
    format's environment file from the collection's env_templates inside the sandbox
    (`current` renders nothing), then cannot build the venv offline: the stored part's text."""
    from backoffice.records import keys

    cid = world.found["model"]
    result = world.act.run("test.yaml", {"concept_id": cid, "version": "1.0", "environment": "sandbox"},
                           variables={"TEST_ENV_MANAGER": "venv"}, project=project)
    _ok(result)
    assert world.reports(cid, "1.0")["bioimageio.core_0.11.0_torchscript"] == "failed"
    part = keys.report_part(keys.version_reports(cid, "1.0"), "bioimageio.core_0.11.0", "torchscript")
    return world.store.get_bytes(part).decode()


NOT_RENDERED = "the environment file could not be rendered"


def test_the_sandboxed_test_renders_its_environment_from_the_collections_templates(world: World) -> None:
    """The sandboxed test (in its own folder, as its own user) finds the config and
    env_templates by the absolute paths the workflow hands it: the environment file is
    rendered, and only the venv build fails (no package index here)."""
    stored = _venv_leg(world)
    assert NOT_RENDERED not in stored and "venv" in stored, stored[:2000]


def test_the_sandboxed_test_without_its_settings_fails(world: World) -> None:
    """The relative-path bug, caught by running the workflow: with the settings (`--in-var`)
    taken out of the sandboxed test's command in test_matrix.yaml, the test runs in its empty
    run folder, where the checkout's relative paths do not lead, and cannot render its
    environment file."""

    def revert(project: Path) -> None:
        act_project(project)
        matrix = project / ".github/workflows/test_matrix.yaml"
        text = matrix.read_text()
        handed = re.compile(r"--in-var BACKOFFICE_[A-Z_]+=\S+ (\\\n\s*)?")
        assert len(handed.findall(text)) == 9, "test_matrix.yaml no longer hands the test its settings this way"
        matrix.write_text(handed.sub("", text))

    stored = _venv_leg(world, copy_project(world.act.root / "reverted", revert))
    assert NOT_RENDERED in stored and "default.yaml.j2" in stored, stored[:2000]

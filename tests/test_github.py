"""The GitHub side: github3.py against a recording HTTP server on 127.0.0.1 (getting
the repository, dispatching a workflow, commenting on an issue), the upload issue
form, and staging from an issue with a clear comment for every outcome."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from backoffice.context import Context
from backoffice.errors import ConfigError, DownloadError, ExternalServiceError, PackageError
from backoffice.github.api import GitHubClient, connect
from backoffice.github.issue_form import FormProblem, UploadRequest, parse_issue_form, parse_upload_request
from backoffice.github.issue_upload import stage_from_issue
from backoffice.settings import Settings
from backoffice_fixtures import SECRETS
from cli_runner import cli_environ, run_backoffice
from github_server import FULL_NAME, FakeGitHub, serve_github

REPO = Path(__file__).resolve().parents[1]
TOKEN = SECRETS["BACKOFFICE_GITHUB_TOKEN"]


@pytest.fixture()
def github() -> Iterator[FakeGitHub]:
    with serve_github() as fake:
        yield fake


@pytest.fixture()
def gh_settings(settings_factory: Callable[..., Settings], github: FakeGitHub) -> Settings:
    return settings_factory(github_api_url=github.base, github_repository=FULL_NAME)


def _no_token_in(*texts: str) -> None:
    assert not any(TOKEN in t for t in texts), "the GitHub token was shown"


# --------------------------------------------------------------------------
# the API client
# --------------------------------------------------------------------------


def test_dispatch_workflow_sends_ref_inputs_and_token(gh_settings: Settings, github: FakeGitHub) -> None:
    GitHubClient(gh_settings).dispatch_workflow("test.yaml", "main", {"concept_id": "affable-shark", "version": "draft"})
    get, post = github.requests
    assert (get.method, get.path) == ("GET", f"/api/v3/repos/{FULL_NAME}")
    assert (post.method, post.path) == ("POST", f"/api/v3/repos/{FULL_NAME}/actions/workflows/test.yaml/dispatches")
    assert post.body == {"ref": "main", "inputs": {"concept_id": "affable-shark", "version": "draft"}}
    for r in github.requests:
        assert r.headers["Authorization"] == f"token {TOKEN}"


def test_comment_on_issue(gh_settings: Settings, github: FakeGitHub) -> None:
    client = GitHubClient(gh_settings)
    url = client.comment_on_issue(7, "hello **there**")
    client.comment_on_issue(7, "again")
    assert url == f"https://github.example/{FULL_NAME}/issues/7#issuecomment-1"
    assert github.comments(7) == ["hello **there**", "again"]
    assert [r.method for r in github.requests] == ["GET", "POST", "POST"]  # the repository is fetched once
    assert all(r.headers["Authorization"] == f"token {TOKEN}" for r in github.requests)


def test_bad_arguments_are_refused_before_any_request(gh_settings: Settings, github: FakeGitHub) -> None:
    client = GitHubClient(gh_settings)
    with pytest.raises(Exception, match="workflow must be a file name"):
        client.dispatch_workflow("../../evil", "main", {})
    with pytest.raises(Exception, match="invalid workflow input name"):
        client.dispatch_workflow("test.yaml", "main", {"bad name": "x"})
    with pytest.raises(Exception, match="must not be empty"):
        client.comment_on_issue(1, "  ")
    assert github.requests == []


def test_api_errors_are_one_line_without_the_token(gh_settings: Settings, github: FakeGitHub,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    github.fail["/issues/3/comments"] = (403, "Resource not accessible by integration; you sent {authorization}")
    with pytest.raises(ExternalServiceError) as e:
        GitHubClient(gh_settings).comment_on_issue(3, "x")
    message = str(e.value)
    assert message.startswith("GitHub: commenting on issue #3 failed: HTTP 403 Resource not accessible")
    assert "***" in message and "\n" not in message
    _no_token_in(message, repr(e.value), *capsys.readouterr())

    github.fail[f"/repos/{FULL_NAME}"] = (401, "Bad credentials {authorization}")
    with pytest.raises(ExternalServiceError) as e:
        GitHubClient(gh_settings).dispatch_workflow("test.yaml", "main", {})
    assert str(e.value).startswith(f"GitHub: getting the repository {FULL_NAME} failed: HTTP 401 Bad credentials")
    _no_token_in(str(e.value))


def test_unreachable_server_and_missing_token(settings_factory: Callable[..., Settings]) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    settings = settings_factory(github_api_url=f"http://127.0.0.1:{port}/api/v3")
    with pytest.raises(ExternalServiceError, match=r"could not reach http://127\.0\.0\.1:\d+/api/v3"):
        GitHubClient(settings).comment_on_issue(1, "x")
    with pytest.raises(ConfigError, match="no GitHub token: set BACKOFFICE_GITHUB_TOKEN"):
        GitHubClient(settings_factory(github_token=None))
    with pytest.raises(ConfigError, match="owner/name"):
        GitHubClient(settings_factory(github_repository="no-slash"))


def test_connect_uses_the_configured_api_root() -> None:
    assert connect("https://api.github.com", "t").session.base_url == "https://api.github.com"
    assert connect("https://ghe.example.org/api/v3/", "t").session.base_url == "https://ghe.example.org/api/v3"
    assert connect("http://127.0.0.1:1/custom", "t").session.base_url == "http://127.0.0.1:1/custom"


def _backoffice(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return run_backoffice(args, cwd=cwd, env=env, timeout=120)


def test_cli_dispatch_and_comment(gh_settings: Settings, github: FakeGitHub, tmp_path: Path) -> None:
    env = cli_environ(gh_settings)
    r = _backoffice(["dispatch-workflow", "publish.yaml", "--ref", "main",
                     "--input", "concept_id=affable-shark", "--input", "reviewer=github|10000001"], env, tmp_path)
    assert r.returncode == 0, r.stderr
    assert github.requests[-1].body == {"ref": "main", "inputs": {"concept_id": "affable-shark", "reviewer": "github|10000001"}}
    r2 = _backoffice(["comment-issue", "--issue", "12", "--body", "tests finished"], env, tmp_path)
    assert r2.returncode == 0, r2.stderr
    assert github.comments(12) == ["tests finished"]
    github.fail["/issues/13/comments"] = (404, "Not Found {authorization}")
    r3 = _backoffice(["comment-issue", "--issue", "13", "--body", "x"], env, tmp_path)
    assert r3.returncode == ExternalServiceError.exit_code
    assert r3.stderr.strip().splitlines()[-1] == "error: GitHub: commenting on issue #13 failed: HTTP 404 Not Found token ***"
    r4 = _backoffice(["dispatch-workflow", "test.yaml", "--input", "no-equals-sign"], env, tmp_path)
    assert r4.returncode == 14 and "NAME=VALUE" in r4.stderr
    for done in (r, r2, r3, r4):
        _no_token_in(done.stdout, done.stderr)
    assert all(req.headers["Authorization"] == f"token {TOKEN}" for req in github.requests)


# --------------------------------------------------------------------------
# the issue form
# --------------------------------------------------------------------------


def form(url: str = "_No response_", concept_id: str = "_No response_") -> str:
    """An issue body as GitHub renders the upload form."""
    return f"### Package URL\n\n{url}\n\n### Concept id\n\n{concept_id}\n"


def test_issue_form_matches_the_template() -> None:
    from ruamel.yaml import YAML

    template = YAML(typ="safe").load((REPO / ".github/ISSUE_TEMPLATE/upload.yaml").read_text())
    labels = [item["attributes"]["label"] for item in template["body"] if item["type"] == "input"]
    assert labels == ["Package URL", "Concept id"]
    assert template["labels"] == ["upload"]
    workflow = (REPO / ".github/workflows/upload_via_issue.yaml").read_text()
    assert "contains(github.event.issue.labels.*.name, 'upload')" in workflow


def test_filled_form_parses() -> None:
    body = form("https://zenodo.org/records/1/files/model.zip?download=1", "affable-shark")
    assert parse_issue_form(body) == {"package url": "https://zenodo.org/records/1/files/model.zip?download=1",
                                      "concept id": "affable-shark"}
    assert parse_upload_request(body) == UploadRequest("https://zenodo.org/records/1/files/model.zip?download=1", "affable-shark")
    assert parse_upload_request(form("https://example.org/m.zip")) == UploadRequest("https://example.org/m.zip", None)
    # what people paste: angle brackets, markdown links, Windows line ends, a zip served as `.../x.zip/content`
    assert parse_upload_request(form("<https://example.org/m.zip>")).package_url == "https://example.org/m.zip"
    assert parse_upload_request(form("[m](https://example.org/m.zip)")).package_url == "https://example.org/m.zip"
    assert parse_upload_request(form("https://example.org/m.zip").replace("\n", "\r\n")).package_url == "https://example.org/m.zip"
    assert parse_upload_request(form("https://zenodo.org/api/records/1/files/m.zip/content")).concept_id is None


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (form(), "the **Package URL** field is empty: give the http(s) URL of the resource package (a .zip file)"),
        (form("   "), "the **Package URL** field is empty"),
        (form("https://example.org/model.tar.gz"), "the **Package URL** `https://example.org/model.tar.gz` does not point to a .zip file"),
        (form("https://example.org/"), "does not point to a .zip file"),
        (form("ftp://example.org/m.zip"), "`ftp://example.org/m.zip` is not an http(s) URL"),
        (form("file:///etc/m.zip"), "is not an http(s) URL"),
        (form("https://example.org/a.zip https://example.org/b.zip"), "must hold one URL without spaces"),
        (form("https://example.org/m.zip", "Affable Shark"), "the **Concept id** `Affable Shark` is not a concept id"),
        ("Please add my model: https://example.org/m.zip", "this issue was not made with the upload form"),
    ],
)
def test_form_problems_say_what_to_fix(body: str, expected: str) -> None:
    with pytest.raises(FormProblem) as e:
        parse_upload_request(body)
    assert expected in str(e.value)
    assert e.value.exit_code == 14


# --------------------------------------------------------------------------
# staging from an issue: one clear comment for every outcome
# --------------------------------------------------------------------------


def _stage(ctx: Context, gh_settings: Settings, body: str, number: int = 5) -> Any:
    client = GitHubClient(gh_settings)
    return stage_from_issue(ctx, body, uploader="github|4242", comment=lambda text: client.comment_on_issue(number, text))


def test_filled_form_is_staged_and_commented(local_ctx: Context, gh_settings: Settings, github: FakeGitHub,
                                            packages: dict[str, Path], file_server: tuple[Path, str]) -> None:
    folder, base = file_server
    shutil.copy(packages["dataset"], folder / "dataset.zip")
    done = _stage(local_ctx, gh_settings, form(f"{base}/dataset.zip"))
    cid = done.result.concept_id
    assert local_ctx.concepts.get(cid).require_draft().uploader == "github|4242"
    (comment,) = github.comments(5)
    assert comment.startswith(f"✅ **Staged** as the draft of **`{cid}`**, version `{done.result.version}`")
    assert done.result.rdf_url in comment and "The tests start now" in comment


def test_empty_url_gets_a_clear_comment(local_ctx: Context, gh_settings: Settings, github: FakeGitHub) -> None:
    with pytest.raises(FormProblem):
        _stage(local_ctx, gh_settings, form())
    (comment,) = github.comments(5)
    assert comment.startswith("❌ **Nothing was staged**: the **Package URL** field is empty: give the http(s) URL")
    assert "Edit the form in this issue to try again" in comment
    assert local_ctx.concepts.list_ids() == []


def test_non_zip_url_gets_a_clear_comment(local_ctx: Context, gh_settings: Settings, github: FakeGitHub) -> None:
    with pytest.raises(FormProblem):
        _stage(local_ctx, gh_settings, form("https://example.org/my-model.tar.gz"))
    (comment,) = github.comments(5)
    assert comment.startswith("❌ **Nothing was staged**: the **Package URL** `https://example.org/my-model.tar.gz`"
                              " does not point to a .zip file")
    assert local_ctx.concepts.list_ids() == []


def test_staging_failures_are_commented(local_ctx: Context, gh_settings: Settings, github: FakeGitHub,
                                        file_server: tuple[Path, str]) -> None:
    folder, base = file_server
    (folder / "fake.zip").write_bytes(b"this is not a zip file")
    with pytest.raises(PackageError) as e:
        _stage(local_ctx, gh_settings, form(f"{base}/fake.zip"))
    with pytest.raises(DownloadError):
        _stage(local_ctx, gh_settings, form(f"{base}/missing.zip"))
    first, second = github.comments(5)
    assert first.startswith(f"❌ **Staging `{base}/fake.zip` failed**: {e.value}")
    assert second.startswith(f"❌ **Staging `{base}/missing.zip` failed**: {base}/missing.zip answered HTTP 404")


def test_a_failing_comment_does_not_change_the_outcome(local_ctx: Context, gh_settings: Settings, github: FakeGitHub,
                                                       packages: dict[str, Path], file_server: tuple[Path, str],
                                                       caplog: pytest.LogCaptureFixture) -> None:
    folder, base = file_server
    shutil.copy(packages["notebook"], folder / "nb.zip")
    github.fail["/issues/5/comments"] = (500, "boom")
    done = _stage(local_ctx, gh_settings, form(f"{base}/nb.zip"))
    assert local_ctx.concepts.get(done.result.concept_id).draft is not None
    assert "could not comment on the issue: GitHub: commenting on issue #5 failed: HTTP 500 boom" in caplog.text


def test_cli_stage_from_issue(local_ctx: Context, gh_settings: Settings, github: FakeGitHub, packages: dict[str, Path],
                              file_server: tuple[Path, str], tmp_path: Path) -> None:
    folder, base = file_server
    shutil.copy(packages["dataset"], folder / "dataset.zip")
    env = cli_environ(gh_settings, BACKOFFICE_LOCAL_ROOT=str(local_ctx.storage.root),  # type: ignore[attr-defined]
                   GITHUB_ACTIONS="true", GITHUB_OUTPUT=str(tmp_path / "out"), GITHUB_SERVER_URL="https://github.example",
                   GITHUB_REPOSITORY=FULL_NAME, GITHUB_RUN_ID="99")
    (tmp_path / "body.md").write_text(form(f"{base}/dataset.zip"))
    r = _backoffice(["stage-from-issue", "--issue", "21", "--body-file", str(tmp_path / "body.md"),
                     "--uploader", "github|4242"], env, tmp_path)
    assert r.returncode == 0, r.stderr
    outputs = dict(line.split("=", 1) for line in (tmp_path / "out").read_text().splitlines())
    assert local_ctx.concepts.get(outputs["concept_id"]).require_draft().summary.version == outputs["version"]
    (comment,) = github.comments(21)
    assert f"**`{outputs['concept_id']}`**" in comment
    assert comment.endswith(f"Workflow run: https://github.example/{FULL_NAME}/actions/runs/99")

    (tmp_path / "empty.md").write_text(form())
    r2 = _backoffice(["stage-from-issue", "--issue", "22", "--body-file", str(tmp_path / "empty.md")], env, tmp_path)
    assert r2.returncode == 14
    assert r2.stderr.strip().splitlines()[-1].startswith("error: the **Package URL** field is empty")
    assert github.comments(22)[0].startswith("❌ **Nothing was staged**")
    for done in (r, r2):
        _no_token_in(done.stdout, done.stderr)

"""A GitHub REST API stand-in on 127.0.0.1 for github3.py: any repository, workflow
dispatches (with GitHub's limits on inputs), issue comments; it records every request,
can answer chosen paths with an error, take repositories down (503) and check the token."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

FULL_NAME = "bioimage-io/collection"
MAX_DISPATCH_INPUTS = 10
MAX_DISPATCH_INPUT_CHARS = 65_535
"""GitHub's limits of a workflow_dispatch's inputs (count, characters in all)."""


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class FakeGitHub:
    base: str = ""
    """API root, e.g. http://127.0.0.1:1234/api/v3."""
    token: str | None = None
    """When set, requests without `Authorization: token <token>` get 401."""
    requests: list[Recorded] = field(default_factory=lambda: list[Recorded]())
    fail: dict[str, tuple[int, str]] = field(default_factory=lambda: dict[str, tuple[int, str]]())
    """Path suffix -> (status, message) to answer instead (`{authorization}` echoes the header)."""
    down: set[str] = field(default_factory=lambda: set[str]())
    """Repositories (`owner/name`) answering 503."""
    runs: dict[tuple[str, int], dict[str, Any]] = field(default_factory=lambda: dict[tuple[str, int], dict[str, Any]]())
    """(`owner/name`, run id) -> the workflow run GitHub would describe."""

    def comments(self, number: int, repository: str = FULL_NAME) -> list[str]:
        return [r.body["body"] for r in self.requests
                if r.method == "POST" and r.path.endswith(f"/repos/{repository}/issues/{number}/comments")]

    def dispatches(self, repository: str) -> list[dict[str, Any]]:
        return [r.body for r in self.requests
                if r.method == "POST" and r.path.startswith(f"/api/v3/repos/{repository}/actions/workflows/")]


def _user(api: str, owner: str) -> dict[str, Any]:
    u = f"{api}/users/{owner}"
    return {
        "login": owner, "id": 1, "type": "Organization", "site_admin": False, "gravatar_id": "",
        "avatar_url": "https://avatars.example/1", "html_url": f"https://github.example/{owner}", "url": u,
        "events_url": u + "/events{/privacy}", "followers_url": u + "/followers",
        "following_url": u + "/following{/other_user}", "gists_url": u + "/gists{/gist_id}",
        "organizations_url": u + "/orgs", "received_events_url": u + "/received_events", "repos_url": u + "/repos",
        "starred_url": u + "/starred{/owner}{/repo}", "subscriptions_url": u + "/subscriptions",
    }


def repository_json(api: str, full_name: str = FULL_NAME) -> dict[str, Any]:
    """A repository as GitHub's API returns it (the fields github3.py reads)."""
    owner, name = full_name.split("/")
    r = f"{api}/repos/{full_name}"
    templated = {
        "archive_url": "/{archive_format}{/ref}", "assignees_url": "/assignees{/user}", "blobs_url": "/git/blobs{/sha}",
        "branches_url": "/branches{/branch}", "collaborators_url": "/collaborators{/collaborator}",
        "comments_url": "/comments{/number}", "commits_url": "/commits{/sha}", "compare_url": "/compare/{base}...{head}",
        "contents_url": "/contents/{+path}", "git_commits_url": "/git/commits{/sha}", "git_refs_url": "/git/refs{/sha}",
        "git_tags_url": "/git/tags{/sha}", "issue_comment_url": "/issues/comments{/number}",
        "issue_events_url": "/issues/events{/number}", "issues_url": "/issues{/number}", "keys_url": "/keys{/key_id}",
        "labels_url": "/labels{/name}", "milestones_url": "/milestones{/number}",
        "notifications_url": "/notifications{?since,all,participating}", "pulls_url": "/pulls{/number}",
        "releases_url": "/releases{/id}", "statuses_url": "/statuses/{sha}", "trees_url": "/git/trees{/sha}",
    }
    plain = ["contributors", "deployments", "downloads", "events", "forks", "hooks", "languages", "merges",
             "stargazers", "subscribers", "subscription", "tags", "teams"]
    data: dict[str, Any] = {k: r + v for k, v in templated.items()}
    data.update({f"{p}_url": f"{r}/{p}" for p in plain})
    stamp = "2024-01-01T00:00:00Z"
    data.update({
        "url": r, "id": 42, "name": name, "full_name": full_name, "owner": _user(api, owner), "private": False, "fork": False,
        "description": "the collection", "html_url": f"https://github.example/{full_name}", "archived": False,
        "clone_url": f"https://github.example/{full_name}.git", "git_url": f"git://github.example/{full_name}.git",
        "ssh_url": f"git@github.example:{full_name}.git", "svn_url": f"https://github.example/{full_name}",
        "mirror_url": None, "homepage": None, "language": "Python", "default_branch": "main",
        "created_at": stamp, "pushed_at": stamp, "updated_at": stamp, "size": 1, "forks_count": 0,
        "network_count": 0, "open_issues_count": 0, "stargazers_count": 0, "subscribers_count": 0,
        "watchers_count": 0, "has_downloads": True, "has_issues": True, "has_pages": False,
        "has_projects": False, "has_wiki": False,
    })
    return data


def _handler(server: FakeGitHub) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            return

        def _answer(self, status: int, payload: Any = None) -> None:
            data = b"" if payload is None else json.dumps(payload).encode()
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def _handle(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            body = json.loads(raw) if raw else None
            server.requests.append(Recorded(method, self.path, dict(self.headers.items()), body))
            for suffix, (status, message) in server.fail.items():
                if self.path.endswith(suffix):
                    # a careless server may echo what it got: the client must still not show the token
                    echoed = message.replace("{authorization}", self.headers.get("Authorization", ""))
                    return self._answer(status, {"message": echoed})
            parts = self.path.split("/")  # /api/v3/repos/<owner>/<name>/...
            if len(parts) < 6 or parts[1:4] != ["api", "v3", "repos"]:
                return self._answer(404, {"message": "Not Found"})
            full = f"{parts[4]}/{parts[5]}"
            if full in server.down:
                return self._answer(503, {"message": "Service Unavailable"})
            if server.token is not None and self.headers.get("Authorization") != f"token {server.token}":
                return self._answer(401, {"message": "Bad credentials"})
            if method == "GET" and len(parts) == 9 and parts[6:8] == ["actions", "runs"] and parts[8].isdigit():
                run = server.runs.get((full, int(parts[8])))
                return self._answer(200, run) if run is not None else self._answer(404, {"message": "Not Found"})
            if method == "GET" and len(parts) == 6:
                return self._answer(200, repository_json(server.base, full))
            if method == "POST" and len(parts) == 10 and parts[6:8] == ["actions", "workflows"] and parts[9] == "dispatches":
                inputs = (body or {}).get("inputs", {})
                too_big = sum(len(str(v)) for v in inputs.values()) > MAX_DISPATCH_INPUT_CHARS or len(inputs) > MAX_DISPATCH_INPUTS
                return self._answer(422 if too_big else 204, {"message": "inputs too large"} if too_big else None)
            if method == "POST" and len(parts) == 9 and parts[6] == "issues" and parts[8] == "comments":
                return self._answer(201, {"id": len(server.requests), "body": body["body"],
                                          "html_url": f"https://github.example/{full}/issues/{parts[7]}#issuecomment-1"})
            return self._answer(404, {"message": "Not Found"})

        def do_GET(self) -> None:  # noqa: N802
            self._handle("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._handle("POST")

    return Handler


@contextmanager
def serve_github(token: str | None = None) -> Iterator[FakeGitHub]:
    """A FakeGitHub listening on a free loopback port while the block runs."""
    fake = FakeGitHub(token=token)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    fake.base = f"http://127.0.0.1:{httpd.server_address[1]}/api/v3"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        httpd.shutdown()
        httpd.server_close()

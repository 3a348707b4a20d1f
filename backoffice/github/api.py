"""GitHub REST calls through github3.py: dispatch a workflow, comment on an issue.

The client talks to `settings.github_api_url`: api.github.com, a GitHub Enterprise
server (`https://<host>/api/v3`) or any other base URL such as a test server on
127.0.0.1 (github3.py's enterprise client, with its base URL set to the given one).
Every failure becomes an `ExternalServiceError` with one line that names the call;
the token never appears in a message.
"""

from __future__ import annotations

import re
from collections.abc import Generator, Mapping
from contextlib import contextmanager
from typing import Any, cast

import github3  # pyright: ignore[reportMissingTypeStubs]
import requests
from github3 import exceptions as gh_exceptions  # pyright: ignore[reportMissingTypeStubs]

from ..errors import ConfigError, ExternalServiceError, InvalidArgumentError
from ..log import logger
from ..settings import Settings

PUBLIC_API = "https://api.github.com"
REPOSITORY = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+$")
WORKFLOW = re.compile(r"^([A-Za-z0-9_.-]+\.ya?ml|[0-9]+)$")
INPUT_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def connect(api_url: str, token: str) -> Any:
    """An authenticated github3.py client for `api_url`."""
    gh: Any = github3
    api_url = api_url.rstrip("/")
    if api_url == PUBLIC_API:
        return gh.GitHub(token=token)
    root = api_url[: -len("/api/v3")] if api_url.endswith("/api/v3") else api_url
    client: Any = gh.enterprise_login(url=root, token=token)
    client.session.base_url = api_url  # exactly the given API root (GHE: <root>/api/v3)
    return client


class GitHubClient:
    """The calls the backoffice makes to the repository that runs its workflows."""

    def __init__(self, settings: Settings, repository: str | None = None, *, partner: bool = False) -> None:
        """A client for `repository` (default: ours); `partner` uses the partner dispatch token if set."""
        secret = (settings.partner_dispatch_token or settings.github_token) if partner else settings.github_token
        token = secret.get_secret_value() if secret else ""
        if not token:
            raise ConfigError("no GitHub token: set BACKOFFICE_GITHUB_TOKEN (on GitHub Actions: the job's GITHUB_TOKEN)")
        repository = repository or settings.github_repository
        if not REPOSITORY.fullmatch(repository):
            raise ConfigError(f"github_repository must be 'owner/name', not '{repository}'")
        self._token = token
        self.api_url = settings.github_api_url.rstrip("/")
        self.repository_name = repository
        self._client: Any = connect(self.api_url, token)
        self._repo: Any = None

    def _clean(self, text: str) -> str:
        return " ".join(text.replace(self._token, "***").split())

    @contextmanager
    def _call(self, what: str) -> Generator[None, None, None]:
        """Turn any failure of a GitHub call into one ExternalServiceError line."""
        try:
            yield
        except gh_exceptions.GitHubError as e:
            error: Any = e
            raise ExternalServiceError(self._clean(f"GitHub: {what} failed: HTTP {error.code} {error.msg or ''}")) from None
        except (gh_exceptions.GitHubException, requests.RequestException) as e:
            raise ExternalServiceError(self._clean(f"GitHub: {what} failed: could not reach {self.api_url} ({type(e).__name__})")) from None

    def repository(self) -> Any:
        """The repository (github3.py object), fetched once."""
        if self._repo is None:
            owner, name = self.repository_name.split("/", 1)
            with self._call(f"getting the repository {self.repository_name}"):
                self._repo = self._client.repository(owner, name)
        return self._repo

    def _post(self, what: str, path: str, payload: Mapping[str, Any], expected: int) -> Any:
        self.repository()  # checks the repository exists and the token may see it
        url = f"{self.api_url}/repos/{self.repository_name}/{path}"  # the token only goes to the configured API
        with self._call(what):
            response: requests.Response = self._client.session.post(url, json=dict(payload))
            if response.status_code != expected:
                try:
                    message = str(response.json().get("message", ""))
                except ValueError:
                    message = response.text[:200]
                raise ExternalServiceError(self._clean(f"GitHub: {what} failed: HTTP {response.status_code} {message}"))
            if not response.content:
                return None
            try:
                return response.json()
            except ValueError:
                return None

    def workflow_run(self, run_id: int) -> dict[str, Any]:
        """A workflow run of the repository (its workflow `path`, `event`, `head_branch`, repositories)."""
        url = f"{self.api_url}/repos/{self.repository_name}/actions/runs/{int(run_id)}"
        with self._call(f"getting run {run_id} of {self.repository_name}"):
            response: requests.Response = self._client.session.get(url)
            if response.status_code != 200:
                raise ExternalServiceError(self._clean(f"GitHub: run {run_id} of {self.repository_name}: HTTP {response.status_code}"))
            try:
                data = response.json()
            except ValueError:
                data = None
        if not isinstance(data, dict):
            raise ExternalServiceError(f"GitHub: run {run_id} of {self.repository_name}: not a JSON object")
        return cast(dict[str, Any], data)

    def dispatch_workflow(self, workflow: str, ref: str, inputs: Mapping[str, str]) -> None:
        """Start `workflow` (file name or id) on `ref` with `inputs` (workflow_dispatch)."""
        if not WORKFLOW.fullmatch(workflow):
            raise InvalidArgumentError(f"workflow must be a file name like 'test.yaml' or a numeric id, not '{workflow}'")
        bad = [k for k in inputs if not INPUT_NAME.fullmatch(k)]
        if bad:
            raise InvalidArgumentError(f"invalid workflow input name(s): {', '.join(bad)}")
        self._post(f"dispatching {workflow} on {ref}", f"actions/workflows/{workflow}/dispatches",
                   {"ref": ref, "inputs": dict(inputs)}, 204)
        logger.info("dispatched %s on %s of %s", workflow, ref, self.repository_name)

    def comment_on_issue(self, number: int, body: str) -> str:
        """Add a comment to issue (or pull request) `number`; returns the comment's URL."""
        if number <= 0:
            raise InvalidArgumentError(f"issue number must be positive, not {number}")
        if not body.strip():
            raise InvalidArgumentError("the comment must not be empty")
        data = self._post(f"commenting on issue #{number}", f"issues/{number}/comments", {"body": body}, 201)
        url = str(cast(dict[str, Any], data).get("html_url", "")) if isinstance(data, dict) else ""
        logger.info("commented on issue #%d of %s", number, self.repository_name)
        return url

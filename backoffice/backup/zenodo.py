"""A small client of Zenodo's REST deposit API over `requests`.

- The token travels in the `Authorization: Bearer` header, never in a URL, and is
  removed from every message this module produces.
- 429 and 5xx answers and lost connections are retried with exponential backoff,
  honouring `Retry-After`, until the give-up time of the `RetryPolicy`.
- Requests that are not idempotent (create, newversion, publish) are retried only
  on 429 (Zenodo did nothing). After a 5xx or a lost answer they may have taken
  effect: `ZenodoUnavailableError(maybe_done=True)` tells the caller to find out
  what happened (the backup executor starts its reconciliation again).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import quote, urlsplit

import requests

from ..errors import ZenodoRefusedError, ZenodoUnavailableError
from ..log import logger
from .retry import RetryPolicy, next_wait, parse_retry_after, should_give_up
from .upload import UploadBody

Json = dict[str, Any]


@dataclass(frozen=True)
class RemoteFile:
    """A file of a deposition as Zenodo lists it."""

    file_id: str
    name: str
    size: int
    md5: str


def _dict(value: Any) -> dict[str, Any]:
    return cast(dict[str, Any], value) if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return cast(list[Any], value) if isinstance(value, list) else []


def refusal_message(body: Any, status: int) -> str:
    """Zenodo's error body (`message` plus `errors: [{field, message}]`) as one line."""
    if not isinstance(body, dict):
        return f"HTTP {status}"
    data = _dict(body)
    parts: list[str] = []
    for e in _list(data.get("errors")):
        error = _dict(e)
        field: Any = error.get("field")
        msg: Any = error.get("message") or error.get("messages")
        if field or msg:
            parts.append(f"{field}: {msg}" if field else str(msg))
    head = str(data.get("message") or f"HTTP {status}")
    return head + (" " + "; ".join(parts) if parts else "")


class ZenodoClient:
    """Zenodo deposit API at `base_url` (e.g. https://sandbox.zenodo.org)."""

    def __init__(
        self,
        base_url: str,
        token: str,
        *,
        policy: RetryPolicy | None = None,
        timeout: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.api = self.base_url + "/api"
        self.policy = policy or RetryPolicy()
        self.timeout = timeout
        self.sleep = sleep
        self._token = token
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {token}"
        self.session.headers["User-Agent"] = "bioimageio-collection-backoffice"
        self.session.trust_env = False  # no proxies or .netrc credentials from the environment

    # --- plumbing ----------------------------------------------------------
    def _redact(self, text: str) -> str:
        return text.replace(self._token, "***") if self._token else text

    def url(self, path_or_url: str) -> str:
        if path_or_url.startswith(("http://", "https://")):
            return path_or_url
        return self.api + path_or_url

    def _where(self, method: str, url: str) -> str:
        return self._redact(f"{method} {urlsplit(url).path}")

    def request(
        self,
        method: str,
        path_or_url: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        body: Callable[[], UploadBody] | None = None,
        idempotent: bool = True,
    ) -> Any:
        """One API call with retries; the answer's JSON (None if empty)."""
        url = self.url(path_or_url)
        where = self._where(method, url)
        first_failure: float | None = None
        attempt = 0
        while True:
            stream = body() if body is not None else None
            retry_after: float | None = None
            failure = ""
            try:
                r = self.session.request(method, url, json=json, params=params, data=stream, timeout=self.timeout,
                                         headers={"Content-Type": "application/octet-stream"} if stream is not None else None)
            except requests.RequestException as e:
                failure = f"no answer ({type(e).__name__})"
                if not idempotent:
                    raise ZenodoUnavailableError(f"Zenodo: {where}: {failure}", maybe_done=True) from None
            else:
                status = r.status_code
                if status < 400:
                    return r.json() if r.content else None
                if status == 429 or (status >= 500 and idempotent):
                    failure = f"HTTP {status}"
                    retry_after = parse_retry_after(r.headers.get("Retry-After"))
                elif status >= 500:
                    raise ZenodoUnavailableError(f"Zenodo: {where}: HTTP {status}", maybe_done=True)
                else:
                    try:
                        detail: Any = r.json()
                    except ValueError:
                        detail = None
                    raise ZenodoRefusedError(self._redact(f"Zenodo refused {where}: {refusal_message(detail, status)}"), status)
            finally:
                if stream is not None:
                    stream.close()
            now = time.monotonic()
            if first_failure is None:
                first_failure = now
            wait = next_wait(self.policy, attempt, retry_after)
            if should_give_up(self.policy, first_failure, now, wait):
                raise ZenodoUnavailableError(
                    f"Zenodo: {where}: {failure}; gave up after {attempt + 1} attempt(s) in {now - first_failure:.0f} s")
            logger.warning("Zenodo: %s: %s; retrying in %.1f s", where, failure, wait)
            self.sleep(wait)
            attempt += 1

    # --- depositions ---------------------------------------------------------
    def create_deposition(self, metadata: Json) -> Json:
        return self.request("POST", "/deposit/depositions", json={"metadata": metadata}, idempotent=False)

    def get_deposition(self, deposition: int | str) -> Json | None:
        """The deposition (by id or URL), or None if Zenodo does not know it (any more)."""
        target = deposition if isinstance(deposition, str) else f"/deposit/depositions/{deposition}"
        try:
            return self.request("GET", target)
        except ZenodoRefusedError as e:
            if e.status in (404, 410):
                return None
            raise

    def update_metadata(self, deposition_id: int, metadata: Json) -> Json:
        return self.request("PUT", f"/deposit/depositions/{deposition_id}", json={"metadata": metadata})

    def list_drafts(self, page_size: int = 100) -> Iterator[Json]:
        """Every unpublished deposition of the token's owner."""
        page = 1
        while True:
            batch = self.request("GET", "/deposit/depositions",
                                 params={"status": "draft", "page": str(page), "size": str(page_size)})
            if not isinstance(batch, list) or not batch:
                return
            items: list[Json] = batch  # pyright: ignore[reportUnknownVariableType]
            yield from items
            if len(items) < page_size:
                return
            page += 1

    def discard(self, deposition_id: int) -> None:
        """Delete an unpublished deposition (gone already is fine)."""
        try:
            self.request("DELETE", f"/deposit/depositions/{deposition_id}")
        except ZenodoRefusedError as e:
            if e.status not in (404, 410):
                raise

    def new_version(self, deposition_id: int) -> Json:
        """A new draft version of the (published) deposition; the answer's `links.latest_draft` names it."""
        return self.request("POST", f"/deposit/depositions/{deposition_id}/actions/newversion", idempotent=False)

    def publish(self, deposition_id: int) -> Json:
        return self.request("POST", f"/deposit/depositions/{deposition_id}/actions/publish", idempotent=False)

    # --- files ---------------------------------------------------------------
    def list_files(self, deposition_id: int) -> list[RemoteFile]:
        out: list[RemoteFile] = []
        for item in _list(self.request("GET", f"/deposit/depositions/{deposition_id}/files")):
            f = _dict(item)
            checksum = str(f.get("checksum", ""))
            out.append(RemoteFile(file_id=str(f["id"]), name=str(f["filename"]), size=int(f.get("filesize", -1)),
                                  md5=checksum.removeprefix("md5:")))
        return out

    def delete_file(self, deposition_id: int, file_id: str) -> None:
        try:
            self.request("DELETE", f"/deposit/depositions/{deposition_id}/files/{file_id}")
        except ZenodoRefusedError as e:
            if e.status != 404:  # gone already: what we wanted
                raise

    def upload(self, bucket_url: str, name: str, body: Callable[[], UploadBody]) -> Json:
        """Stream one file into the deposition's bucket (re-opened from the start on a retry)."""
        key = "/".join(quote(part, safe="") for part in name.split("/"))
        return self.request("PUT", f"{bucket_url.rstrip('/')}/{key}", body=body)

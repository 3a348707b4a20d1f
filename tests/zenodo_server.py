"""A Zenodo stand-in on 127.0.0.1: the subset of the REST deposit API the backup uses,
answering the way developers.zenodo.org documents it.

- `POST /api/deposit/depositions` (optional `metadata`, validated) -> 201, state
  `unsubmitted`, `submitted: false`, a `conceptrecid` and `links.bucket`;
- `GET /api/deposit/depositions?status=draft|published&page&size`, `GET/PUT/DELETE
  /api/deposit/depositions/{id}` (PUT validates metadata like Zenodo: unknown license,
  missing creators, bad upload type -> 400 with `errors: [{field, message}]`);
- `GET /api/deposit/depositions/{id}/files`, `DELETE .../files/{file_id}`;
- `PUT /api/files/{bucket}/{key}` streamed: the body is hashed (MD5) and discarded,
  the answer carries `checksum: "md5:..."`;
- `POST .../actions/newversion` on a published deposition -> 201 with the deposition
  whose `links.latest_draft` is the new draft (metadata and files copied; the existing
  draft if there is one); `POST .../actions/publish` -> 202, state `done`, `submitted`,
  `doi`, `conceptdoi`, `conceptrecid`, `record_id`;
- the token in `Authorization: Bearer` or the `access_token` query parameter, else 401;
- records every request (method, path, query without the token) and fails any request
  on demand: `fail_at` (numbers of requests, counted from 0) with `fail_mode`
  `before` (500, nothing done) or `after` (done, then 500: the answer is lost);
  `rate_limit` answers the next N requests with 429 and `Retry-After`.

Run as a script (`python tests/zenodo_server.py TOKEN`) it serves in its own process and
prints its URL (the memory benchmark uses that).
"""

from __future__ import annotations

import hashlib
import json
import re
import socket
import sys
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

LICENSES = {"cc-by-4.0", "cc-by-sa-4.0", "cc-by-nc-4.0", "cc0-1.0", "mit", "apache-2.0", "bsd-2-clause",
            "bsd-3-clause", "gpl-3.0-only", "lgpl-3.0-only", "mpl-2.0", "cc-by-nc-sa-4.0"}
UPLOAD_TYPES = {"publication", "poster", "presentation", "dataset", "image", "video", "software", "lesson",
                "physicalobject", "other"}
RELATIONS = {"isCitedBy", "cites", "isSupplementTo", "isSupplementedBy", "isNewVersionOf", "isPreviousVersionOf",
             "isPartOf", "hasPart", "references", "isReferencedBy", "isDocumentedBy", "documents", "isIdenticalTo",
             "isDerivedFrom", "isSourceOf", "isDescribedBy", "describes"}
DOI_PREFIX = "10.5072/zenodo"


class Fail(Exception):
    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


def _error(status: int, message: str, errors: list[dict[str, str]] | None = None) -> Fail:
    body: dict[str, Any] = {"status": status, "message": message}
    if errors:
        body["errors"] = errors
    return Fail(status, body)


def validate_metadata(meta: Any, *, for_publish: bool = False) -> None:
    """Zenodo's checks of deposition metadata (the part the backup meets)."""
    if not isinstance(meta, dict):
        raise _error(400, "Validation error.", [{"field": "metadata", "message": "Not a valid mapping type."}])
    errors: list[dict[str, str]] = []
    if "upload_type" in meta and meta["upload_type"] not in UPLOAD_TYPES:
        errors.append({"field": "metadata.upload_type", "message": "Invalid upload type."})
    if "license" in meta and str(meta["license"]).lower() not in LICENSES:
        errors.append({"field": "metadata.license", "message": f"Invalid license identifier: {meta['license']}."})
    if "creators" in meta:
        creators = meta["creators"]
        if not isinstance(creators, list) or not creators:
            errors.append({"field": "metadata.creators", "message": "Shorter than minimum length 1."})
        else:
            for i, c in enumerate(creators):
                if not isinstance(c, dict) or not str(c.get("name", "")).strip():
                    errors.append({"field": f"metadata.creators.{i}.name", "message": "Missing data for required field."})
                elif "orcid" in c and not re.fullmatch(r"\d{4}-\d{4}-\d{4}-\d{3}[\dX]", str(c["orcid"])):
                    errors.append({"field": f"metadata.creators.{i}.orcid", "message": "Not a valid ORCID identifier."})
    for i, r in enumerate(meta.get("related_identifiers") or []):
        if not isinstance(r, dict) or r.get("relation") not in RELATIONS or not r.get("identifier"):
            errors.append({"field": f"metadata.related_identifiers.{i}", "message": "Invalid related identifier."})
    if for_publish:
        for name in ("title", "upload_type", "description", "creators", "publication_date"):
            if not meta.get(name):
                errors.append({"field": f"metadata.{name}", "message": "Missing data for required field."})
    if errors:
        raise _error(400, "Validation error.", errors)


@dataclass
class StoredFile:
    id: str
    filename: str
    filesize: int
    checksum: str


@dataclass
class Deposition:
    id: int
    conceptrecid: str
    bucket: str
    metadata: dict[str, Any] = field(default_factory=dict)
    files: list[StoredFile] = field(default_factory=list)
    state: str = "unsubmitted"
    submitted: bool = False
    doi: str = ""
    deleted: bool = False


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: str
    auth: str
    """`header`, `query` or `none`."""


class ZenodoStandIn:
    """State and behaviour; `serve()` puts it on a port of 127.0.0.1."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.lock = threading.RLock()
        self.depositions: dict[int, Deposition] = {}
        self.buckets: dict[str, int] = {}
        self.requests: list[Seen] = []
        self.fail_at: set[int] = set()
        self.fail_mode = "before"
        self.rate_limit = 0
        self.retry_after = "1"
        self.publish_answers_without_dois = False
        """Answer publish with the deposition before its DOIs show (a lagging index)."""
        self.create_barrier: threading.Barrier | None = None
        """When set, the first requests creating a deposition wait (up to 10 s) until as many are
        in flight as the barrier's parties: two runs racing both create one, deterministically."""
        self._next_id = 1000
        self.url = ""

    # --- helpers -------------------------------------------------------------
    def _new_id(self) -> int:
        self._next_id += 1
        return self._next_id

    def published(self) -> list[Deposition]:
        with self.lock:
            return [d for d in self.depositions.values() if d.submitted and not d.deleted]

    def drafts(self) -> list[Deposition]:
        with self.lock:
            return [d for d in self.depositions.values() if not d.submitted and not d.deleted]

    def versions_of(self, conceptrecid: str) -> list[Deposition]:
        return [d for d in self.published() if d.conceptrecid == conceptrecid]

    def _concept(self, recid: str) -> list[Deposition]:
        return [d for d in self.depositions.values() if d.conceptrecid == recid and not d.deleted]

    def render(self, d: Deposition) -> dict[str, Any]:
        api = f"{self.url}/api/deposit/depositions/{d.id}"
        family = self._concept(d.conceptrecid)
        draft = next((x for x in family if not x.submitted), None)
        latest = max((x for x in family if x.submitted), key=lambda x: x.id, default=None)
        links = {"self": api, "html": f"{self.url}/deposit/{d.id}", "bucket": f"{self.url}/api/files/{d.bucket}",
                 "files": f"{api}/files", "publish": f"{api}/actions/publish", "newversion": f"{api}/actions/newversion",
                 "edit": f"{api}/actions/edit", "discard": f"{api}/actions/discard"}
        if draft is not None:
            links["latest_draft"] = f"{self.url}/api/deposit/depositions/{draft.id}"
        if latest is not None:
            links["latest"] = f"{self.url}/api/records/{latest.id}"
        out: dict[str, Any] = {"id": d.id, "conceptrecid": d.conceptrecid, "state": d.state, "submitted": d.submitted,
                               "metadata": d.metadata, "links": links, "files": [self._file(d, f) for f in d.files],
                               "title": d.metadata.get("title", "")}
        if d.submitted:
            out.update(doi=d.doi, doi_url=f"https://doi.org/{d.doi}", record_id=d.id,
                       conceptdoi=f"{DOI_PREFIX}.{d.conceptrecid}")
        return out

    def _file(self, d: Deposition, f: StoredFile) -> dict[str, Any]:
        return {"id": f.id, "filename": f.filename, "filesize": f.filesize, "checksum": f.checksum,
                "links": {"self": f"{self.url}/api/deposit/depositions/{d.id}/files/{f.id}"}}

    def _get(self, dep_id: str) -> Deposition:
        d = self.depositions.get(int(dep_id)) if dep_id.isdigit() else None
        if d is None:
            raise _error(404, "PID does not exist.")
        if d.deleted:
            raise _error(410, "PID has been deleted.")
        return d

    def _draft_only(self, d: Deposition) -> None:
        if d.submitted:
            raise _error(400, "Deposition is published; use edit or newversion first.")

    # --- routes ----------------------------------------------------------------
    def handle(self, method: str, path: str, query: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        m = re.fullmatch(r"/api/deposit/depositions(?:/(\d+)(?:/(files|actions)(?:/([^/]+))?)?)?", path)
        if not m:
            raise _error(404, "The requested URL was not found on the server.")
        dep_id, sub, arg = m.groups()
        if dep_id is None:
            if method == "POST":
                meta = (body or {}).get("metadata", {}) if isinstance(body, dict) else {}
                validate_metadata(meta)
                recid = str(self._new_id())
                bucket = uuid.uuid4().hex
                d = Deposition(id=self._new_id(), conceptrecid=recid, bucket=bucket, metadata=dict(meta))
                self.depositions[d.id] = d
                self.buckets[bucket] = d.id
                return 201, self.render(d)
            if method == "GET":
                status = (query.get("status") or [""])[0]
                items = [d for d in self.depositions.values() if not d.deleted]
                if status == "draft":
                    items = [d for d in items if not d.submitted]
                elif status == "published":
                    items = [d for d in items if d.submitted]
                page = int((query.get("page") or ["1"])[0])
                size = int((query.get("size") or ["10"])[0])
                items = sorted(items, key=lambda d: -d.id)[(page - 1) * size : page * size]
                return 200, [self.render(d) for d in items]
            raise _error(405, "Method not allowed.")
        d = self._get(dep_id)
        if sub is None:
            if method == "GET":
                return 200, self.render(d)
            if method == "PUT":
                self._draft_only(d)
                meta = body.get("metadata") if isinstance(body, dict) else None
                validate_metadata(meta)
                d.metadata = dict(meta)  # type: ignore[arg-type]
                return 200, self.render(d)
            if method == "DELETE":
                self._draft_only(d)
                d.deleted = True
                return 204, None
        elif sub == "files":
            if method == "GET" and arg is None:
                return 200, [self._file(d, f) for f in d.files]
            if method == "DELETE" and arg is not None:
                self._draft_only(d)
                before = len(d.files)
                d.files = [f for f in d.files if f.id != arg]
                if len(d.files) == before:
                    raise _error(404, "File does not exist.")
                return 204, None
        elif sub == "actions" and method == "POST":
            if arg == "publish":
                self._draft_only(d)
                validate_metadata(d.metadata, for_publish=True)
                if not d.files:
                    raise _error(400, "Validation error.", [{"field": "files", "message": "Minimum one file must be provided."}])
                d.state, d.submitted = "done", True
                d.doi = f"{DOI_PREFIX}.{d.id}"
                answer = self.render(d)
                if self.publish_answers_without_dois:
                    answer = {k: v for k, v in answer.items() if k not in ("doi", "doi_url", "conceptdoi")}
                return 202, answer
            if arg == "newversion":
                if not d.submitted:
                    raise _error(400, "Only published depositions can have a new version.")
                family = self._concept(d.conceptrecid)
                if not any(not x.submitted for x in family):
                    latest = max((x for x in family if x.submitted), key=lambda x: x.id)
                    bucket = uuid.uuid4().hex
                    meta = {k: v for k, v in latest.metadata.items() if k not in ("doi", "version", "publication_date")}
                    new = Deposition(id=self._new_id(), conceptrecid=d.conceptrecid, bucket=bucket, metadata=meta,
                                     files=[StoredFile(uuid.uuid4().hex, f.filename, f.filesize, f.checksum) for f in latest.files])
                    self.depositions[new.id] = new
                    self.buckets[bucket] = new.id
                return 201, self.render(d)
        raise _error(405, "Method not allowed.")

    def upload(self, bucket: str, key: str, length: int, read: Any) -> tuple[int, Any]:
        dep_id = self.buckets.get(bucket)
        if dep_id is None:
            raise _error(404, "Bucket does not exist.")
        md5 = hashlib.md5(usedforsecurity=False)
        left = length
        while left > 0:
            chunk = read(min(left, 1024 * 1024))
            if not chunk:
                raise _error(400, "Incomplete body.")
            md5.update(chunk)
            left -= len(chunk)
        with self.lock:
            d = self.depositions[dep_id]
            self._draft_only(d)
            checksum = f"md5:{md5.hexdigest()}"
            d.files = [f for f in d.files if f.filename != key]
            d.files.append(StoredFile(uuid.uuid4().hex, key, length, checksum))
            return 201, {"key": key, "size": length, "checksum": checksum, "mimetype": "application/octet-stream",
                         "links": {"self": f"{self.url}/api/files/{bucket}/{key}"}}

    # --- serving ---------------------------------------------------------------
    def serve(self) -> ThreadingHTTPServer:
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                return

            def setup(self) -> None:
                super().setup()
                self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # no 40 ms Nagle stalls

            def _answer(self, status: int, body: Any) -> None:
                data = b"" if body is None else json.dumps(body).encode()
                self.send_response(status)
                if status == 429:
                    self.send_header("Retry-After", standin.retry_after)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def _drain(self, length: int) -> None:
                while length > 0:
                    chunk = self.rfile.read(min(length, 1024 * 1024))
                    if not chunk:
                        break
                    length -= len(chunk)

            def _go(self) -> None:
                split = urlsplit(self.path)
                query = parse_qs(split.query)
                token_q = (query.pop("access_token", [None]) or [None])[0]
                auth_h = self.headers.get("Authorization", "")
                auth = "header" if auth_h else ("query" if token_q else "none")
                length = int(self.headers.get("Content-Length") or 0)
                path = unquote(split.path)
                with standin.lock:
                    n = len(standin.requests)
                    standin.requests.append(Seen(self.command, path, "&".join(f"{k}={v[0]}" for k, v in sorted(query.items())), auth))
                    fail = n in standin.fail_at
                    limited = standin.rate_limit > 0
                    if limited:
                        standin.rate_limit -= 1
                if auth_h != f"Bearer {standin.token}" and token_q != standin.token:
                    self._drain(length)
                    return self._answer(401, {"status": 401, "message": "The server could not verify that you are authorized."})
                if limited:
                    self._drain(length)
                    return self._answer(429, {"status": 429, "message": "Too many requests."})
                if fail and standin.fail_mode == "before":
                    self._drain(length)
                    return self._answer(500, {"status": 500, "message": "Internal server error (injected)."})
                barrier = standin.create_barrier
                if barrier is not None and self.command == "POST" and path == "/api/deposit/depositions":
                    try:
                        barrier.wait(timeout=10)
                    except threading.BrokenBarrierError:
                        pass
                    standin.create_barrier = None  # one race: later creates go straight through
                try:
                    bucket = re.fullmatch(r"/api/files/([0-9a-f]+)/(.+)", path)
                    if bucket and self.command == "PUT":
                        status, body = standin.upload(bucket.group(1), bucket.group(2), length, self.rfile.read)
                    else:
                        raw = self.rfile.read(length) if length else b""
                        parsed = json.loads(raw) if raw else None
                        with standin.lock:
                            status, body = standin.handle(self.command, path, query, parsed)
                except Fail as e:
                    status, body = e.status, e.body
                    self.close_connection = True  # the body may not have been read
                if fail:  # `after`: it happened, but the answer is lost
                    return self._answer(500, {"status": 500, "message": "Internal server error (injected)."})
                self._answer(status, body)

            do_GET = do_POST = do_PUT = do_DELETE = _go

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        server.daemon_threads = True
        self.url = f"http://127.0.0.1:{server.server_address[1]}"
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
        return server


@contextmanager
def zenodo_standin(token: str) -> Iterator[ZenodoStandIn]:
    standin = ZenodoStandIn(token)
    server = standin.serve()
    try:
        yield standin
    finally:
        server.shutdown()
        server.server_close()


if __name__ == "__main__":
    s = ZenodoStandIn(sys.argv[1])
    srv = s.serve()
    print(s.url, flush=True)
    threading.Event().wait()

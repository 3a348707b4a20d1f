"""A read-only HTTP server over any storage backend (GET and HEAD)."""

from __future__ import annotations

import json
import mimetypes
import shutil
import sys
import threading
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import cast
from urllib.parse import unquote, urlparse

from ..errors import BackofficeError
from ..storage.base import ObjectNotFound, Storage, check_key


LOCAL_HOSTS = ("127.0.0.1", "localhost")


@dataclass(frozen=True)
class Rebase:
    """The index was written with links under `old` (the `serve_port` of its generation) and is
    served under `new`: its JSON files are served with `old` replaced, so that every link resolves.
    Files of packages and reports are served byte for byte (their sha256 are published)."""

    old: str
    new: str

    def applies(self, key: str) -> bool:
        """The index's own files: top-level JSON, `<concept>/versions.json` and the dashboard's."""
        return key.endswith(".json") and ("/" not in key or key.startswith("dashboard/")
                                          or (key.count("/") == 1 and key.endswith("/versions.json")))

    def apply(self, data: bytes) -> bytes:
        old, new = self.old.encode(), self.new.encode()
        return data.replace(b'"' + old + b'"', b'"' + new + b'"').replace(old + b"/", new + b"/")


def rebase_for(url_root: str | None, served: str) -> Rebase | None:
    """What to rewrite when the index's links (`collection.json`'s `config.url_root`) name another
    local port than the one served; links to any other host are left as they are."""
    if not url_root:
        return None
    root = url_root.rstrip("/")
    parsed = urlparse(root)
    if root == served.rstrip("/") or parsed.scheme != "http" or parsed.hostname not in LOCAL_HOSTS or parsed.path:
        return None
    return Rebase(root, served.rstrip("/"))


def index_url_root(storage: Storage) -> str | None:
    """The base URL the stored index's links were written with (`collection.json` `config.url_root`)."""
    try:
        raw: object = json.loads(storage.get_bytes("collection.json"))
    except (ObjectNotFound, ValueError):
        return None
    config = cast(dict[str, object], raw).get("config") if isinstance(raw, dict) else None
    root = cast(dict[str, object], config).get("url_root") if isinstance(config, dict) else None
    return root if isinstance(root, str) else None


def make_server(storage: Storage, host: str = "127.0.0.1", port: int = 8765, rebase: Rebase | None = None) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "backoffice-serve"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep quiet
            return

        def _key(self) -> str:
            key = unquote(urlparse(self.path).path).lstrip("/")
            return key + "index.html" if key.endswith("/") else key  # a folder: its index.html

        def _headers(self, key: str) -> bytes | bool:
            """Send the headers; the body when it is rewritten (else True: stream the object), False when absent."""
            body: bytes | None = None
            try:
                info = storage.head(key) if key else None
                body = rebase.apply(storage.get_bytes(key)) if info is not None and rebase and rebase.applies(key) else None
            except BackofficeError:
                info = None
            if info is None:
                self.send_error(HTTPStatus.NOT_FOUND, "no such object")
                return False
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", mimetypes.guess_type(key)[0] or "application/octet-stream")
            self.send_header("Content-Length", str(info.size if body is None else len(body)))
            self.send_header("ETag", f'"{info.etag}"' if body is None else f'"{info.etag}-rebased"')
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            return True if body is None else body

        def _bad_key(self) -> bool:
            """A path that names no key (`..`, `//`, a backslash, an internal key): 400, one line."""
            key = self._key()
            try:
                if key:
                    check_key(key)
                    storage.exists(key)  # the backend's own checks (e.g. its internal folder)
            except BackofficeError as e:
                self.send_error(HTTPStatus.BAD_REQUEST, " ".join(str(e).split()))
                return True
            return False

        def do_HEAD(self) -> None:  # noqa: N802
            if not self._bad_key() and not self._redirected():
                self._headers(self._key())

        def _redirected(self) -> bool:
            """`/dashboard` -> `/dashboard/` (relative links need the slash), as static hosts do."""
            key = self._key()
            if key and not key.endswith("/") and storage.exists(key + "/index.html") and not storage.exists(key):
                self.send_response(HTTPStatus.MOVED_PERMANENTLY)
                self.send_header("Location", "/" + key + "/")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return True
            return False

        def do_GET(self) -> None:  # noqa: N802
            if self._bad_key() or self._redirected():
                return
            key = self._key()
            sent = self._headers(key)
            if isinstance(sent, bytes):
                self.wfile.write(sent)
            elif sent:
                with storage.open(key) as f:
                    shutil.copyfileobj(f, self.wfile, 1024 * 1024)

    return _Server((host, port), Handler)


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: object, client_address: object) -> None:
        """A client that went away (a browser cancelling an image) is not an error worth a traceback."""
        if isinstance(sys.exc_info()[1], (BrokenPipeError, ConnectionResetError)):
            return
        super().handle_error(request, client_address)  # pyright: ignore[reportArgumentType]


def serve_in_thread(storage: Storage, port: int = 0) -> tuple[ThreadingHTTPServer, str]:
    """Start a server in a daemon thread (tests, demo); returns it and its base URL."""
    server = make_server(storage, port=port)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}"

"""A read-only HTTP server over any storage backend (GET and HEAD)."""

from __future__ import annotations

import mimetypes
import shutil
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import unquote, urlparse

from ..errors import BackofficeError
from ..storage.base import Storage, check_key


def make_server(storage: Storage, host: str = "127.0.0.1", port: int = 8765) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        server_version = "backoffice-serve"

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - keep quiet
            return

        def _key(self) -> str:
            key = unquote(urlparse(self.path).path).lstrip("/")
            return key + "index.html" if key.endswith("/") else key  # a folder: its index.html

        def _headers(self, key: str) -> bool:
            try:
                info = storage.head(key) if key else None
            except BackofficeError:
                info = None
            if info is None:
                self.send_error(HTTPStatus.NOT_FOUND, "no such object")
                return False
            self.send_response(HTTPStatus.OK)
            self.send_header("Content-Type", mimetypes.guess_type(key)[0] or "application/octet-stream")
            self.send_header("Content-Length", str(info.size))
            self.send_header("ETag", f'"{info.etag}"')
            self.send_header("Access-Control-Allow-Origin", "*")
            self.end_headers()
            return True

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
            if self._headers(key):
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

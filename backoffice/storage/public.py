"""Read-only access to the collection through its public URLs, without credentials.

The jobs that run uploaded code (tests) or fetch URLs named in an upload (static
validation) read through this backend: they hold no storage key. Objects are read
with plain HTTP GET from `<public base URL>/<key>`; listing, writing and deleting
are refused.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import BinaryIO, NoReturn, cast
from urllib.parse import quote

import requests

from ..errors import StorageError
from .base import ByteStream, ObjectInfo, ObjectNotFound, Storage, check_key, etag_of

MAX_OBJECT_BYTES = 64 * 1024 * 1024
"""Largest object read into memory (descriptions, concept documents, environment files)."""


def s3_public_base(bucket: str, prefix: str, endpoint_url: str | None) -> str:
    """The public URL of an S3 bucket prefix (path style at an endpoint, virtual host on AWS)."""
    base = (endpoint_url or f"https://{bucket}.s3.amazonaws.com").rstrip("/")
    url = f"{base}/{bucket}" if endpoint_url else base
    prefix = prefix.strip("/")
    return f"{url}/{prefix}" if prefix else url


class PublicStorage(Storage):
    """Objects read over HTTP from their public URLs; nothing is written."""

    def __init__(self, public_base_url: str, timeout: float = 60.0) -> None:
        if not public_base_url.startswith(("http://", "https://")):
            raise StorageError(f"the public base URL must be http(s), not '{public_base_url}'")
        self.public_base_url = public_base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def _refuse(self, what: str) -> NoReturn:
        raise StorageError(f"cannot {what}: the public storage is read-only (it holds no credentials)")

    def _get(self, key: str) -> requests.Response:
        url = self.public_url(key)
        try:
            response = self.session.get(url, timeout=self.timeout, stream=True)
        except requests.RequestException as e:
            raise StorageError(f"cannot read {url}: {type(e).__name__}") from None
        if response.status_code in (403, 404):  # a public bucket answers 403 for a missing key
            response.close()
            raise ObjectNotFound(f"no object {key}")
        if response.status_code != 200:
            response.close()
            raise StorageError(f"{url} answered HTTP {response.status_code}")
        return response

    # --- writing: refused ----------------------------------------------------
    def put_bytes(self, key: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None,
                  content_type: str | None = None) -> str:
        self._refuse(f"write {key}")

    def put_stream(self, key: str, stream: ByteStream, *, content_type: str | None = None) -> str:
        self._refuse(f"write {key}")

    def copy(self, src: str, dst: str) -> None:
        self._refuse(f"copy {src}")

    def delete(self, key: str) -> None:
        self._refuse(f"delete {key}")

    # --- reading -------------------------------------------------------------
    def get(self, key: str) -> tuple[bytes, str]:
        with self._get(key) as response:
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_content(1024 * 1024):
                size += len(chunk)
                if size > MAX_OBJECT_BYTES:
                    raise StorageError(f"{key} is larger than {MAX_OBJECT_BYTES} bytes; it is not read into memory")
                chunks.append(chunk)
        data = b"".join(chunks)
        return data, etag_of(data)

    def open(self, key: str) -> BinaryIO:
        """The object as a stream (weights can be far larger than `MAX_OBJECT_BYTES`)."""
        response = self._get(key)
        response.raw.decode_content = True
        return cast(BinaryIO, response.raw)

    def head(self, key: str) -> ObjectInfo | None:
        try:
            data, etag = self.get(key)
        except ObjectNotFound:
            return None
        return ObjectInfo(key=key, size=len(data), etag=etag, last_modified=datetime.now(timezone.utc))

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        self._refuse(f"list {prefix or 'the store'}")

    def list_folders(self, prefix: str = "") -> list[str]:
        self._refuse(f"list {prefix or 'the store'}")

    # --- addressing ----------------------------------------------------------
    def public_url(self, key: str) -> str:
        return f"{self.public_base_url}/{quote(check_key(key))}"

    def describe(self) -> str:
        return f"public URLs under {self.public_base_url} (read-only)"

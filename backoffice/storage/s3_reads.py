"""Plain reads of whole objects, without botocore's per-request machinery.

A `GetObject` through botocore costs about 1.2 ms of CPU on this project's machine
(events, endpoint rules, parameter validation, response parsing) for a 3 KB concept
document; a full index generation reads one per concept, so at 10,000 concepts that CPU,
not the network, bounds it (one Python process cannot pass the GIL to more of it). Here
the same request is signed by botocore's own SigV4 signer with the client's credentials
and sent over a urllib3 pool that keeps its connections: about a third of the CPU.

Only the plain case is handled: `200` with the whole body, or `404 NoSuchKey`. Anything
else (an error, a redirect, a throttle, a connection problem, a body whose MD5 does not
match its ETag) returns None, and the caller makes the request through botocore, which
retries and reports as usual. Clients this cannot reproduce faithfully (a proxy in the
environment, no credentials) get no fast reader at all; TLS is verified as botocore
would (its CA bundle, or not at all where the client was told not to).

botocore's `before-call` and `before-send` events are emitted for each request, so a
request counter on the client (`tests/test_index_requests.py`, the benchmarks) sees
these reads too; a `before-send` handler that answers itself (a stub, an in-process
mock) makes the read go through botocore instead.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
import re
import urllib.request
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3
from botocore.auth import S3SigV4Auth  # pyright: ignore[reportMissingTypeStubs]  # boto3/botocore ship no stubs
from botocore.awsrequest import AWSRequest  # pyright: ignore[reportMissingTypeStubs]  # boto3/botocore ship no stubs
from botocore.httpsession import get_cert_path  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType]  # boto3/botocore ship no stubs

from .base import ObjectNotFound

_PLAIN_ETAG = re.compile(r"[0-9a-f]{32}")


class FastReader:
    """Signed GETs of whole objects of one bucket (path-style addressing, like our client)."""

    def __init__(self, client: Any, bucket: str, credentials: Any, pool: urllib3.PoolManager) -> None:
        self._client = client
        self._credentials = credentials
        self._region: str = client.meta.region_name
        self._endpoint = str(client.meta.endpoint_url).rstrip("/")
        self._bucket_path = f"/{quote(bucket, safe='')}/"
        self._pool = pool
        self._events: Any = client.meta.events
        self._model: Any = client.meta.service_model.operation_model("GetObject")
        self._bucket = bucket

    @classmethod
    def for_client(cls, client: Any, bucket: str) -> FastReader | None:
        """A reader for `client`'s bucket, or None where botocore should make every read."""
        credentials: Any = client._request_signer._credentials  # pyright: ignore[reportPrivateUsage]  # botocore keeps them there
        endpoint = str(client.meta.endpoint_url)
        if credentials is None or client.meta.config.signature_version not in (None, "s3v4"):
            return None
        verify: Any = getattr(getattr(client, "_endpoint", None), "http_session", None)
        verify = getattr(verify, "_verify", None)  # botocore's choice: a CA bundle path, True or False
        if verify is None:
            return None  # not known how botocore would verify: let it
        if verify is True:
            verify = get_cert_path(True)
        if urllib.request.getproxies() and not urllib.request.proxy_bypass(urlsplit(endpoint).hostname or ""):
            return None
        config: Any = client.meta.config
        timeout = urllib3.Timeout(connect=config.connect_timeout, read=config.read_timeout)
        tls: dict[str, Any] = {"cert_reqs": "CERT_NONE"} if verify is False else {"ca_certs": str(verify)}
        pool = urllib3.PoolManager(maxsize=config.max_pool_connections, timeout=timeout, retries=False, **tls)
        return cls(client, bucket, credentials, pool)

    def get(self, key: str) -> tuple[bytes, str] | None:
        """(content, etag) of the object `key` (the full key, prefix included); raises
        ObjectNotFound for a missing key; None: make this request through botocore."""
        path = self._bucket_path + quote(key, safe="/~")
        url = self._endpoint + path
        # what botocore hands its `before-call` handlers (its request dict); headers they add are sent
        params: dict[str, Any] = {"method": "GET", "url": url, "url_path": path,
                                  "query_string": {}, "headers": {"x-amz-checksum-mode": "ENABLED"}, "body": b"",
                                  "context": {}}
        self._events.emit("before-call.s3.GetObject", model=self._model, params=params, request_signer=None, context={})
        request: Any = AWSRequest(method="GET", url=url, headers=params["headers"])
        signer: Any = S3SigV4Auth(self._credentials.get_frozen_credentials(), "s3", self._region)
        signer.add_auth(request)
        prepared: Any = request.prepare()
        answered = self._events.emit("before-send.s3.GetObject", request=prepared)
        if any(response is not None for _, response in answered):
            return None  # a stub or an in-process mock answers: let botocore ask it
        try:
            response = self._pool.request("GET", url, headers={str(k): str(v) for k, v in prepared.headers.items()},
                                          decode_content=False, redirect=False)
        except urllib3.exceptions.HTTPError:
            return None
        data: bytes = response.data
        if response.status == 404 and b"<Code>NoSuchKey</Code>" in data:
            raise ObjectNotFound(f"get {key}: not found")
        etag = str(response.headers.get("ETag", "")).strip('"')
        if response.status != 200 or not etag:
            return None
        return (data, etag) if _intact(data, etag, response.headers.get("x-amz-checksum-crc32")) else None


def _intact(data: bytes, etag: str, crc32: str | None) -> bool:
    """The body matches the CRC32 S3 stored with it or else, for a single-part unencrypted
    object, the MD5 its ETag is; a body with neither is taken as it came (as botocore does).
    A mismatch sends the read to botocore, which checks and retries."""
    if crc32:
        return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode() == crc32
    if _PLAIN_ETAG.fullmatch(etag):
        return hashlib.md5(data, usedforsecurity=False).hexdigest() == etag
    return True

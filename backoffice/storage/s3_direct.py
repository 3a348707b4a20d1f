"""Plain reads and small writes of whole objects, without botocore's per-request machinery.

A `GetObject` or `PutObject` through botocore costs about 1.2 ms of CPU on this
project's machine (events, endpoint rules, parameter validation, response parsing) for a
3 KB document; a full index generation reads one concept document per concept and a
partner's hand-in writes several objects per report, so at 10,000 concepts or reports
that CPU, not the network, bounds them (one Python process cannot pass the GIL to more
of it). Here the same request is signed by botocore's own SigV4 signer with the client's
credentials and sent over a urllib3 pool that keeps its connections: about a third of
the CPU.

Only the plain answers are taken: for a read, `200` with a body that matches the CRC32
S3 stored with it (or else the MD5 its ETag is), or `404 NoSuchKey`; for a write (with
its CRC32, which S3 checks), `200`, or the refusals of a conditional write (`412`, `409`,
and `404` to `If-Match`). Anything else (an error, a redirect, a throttle, a connection
problem, a damaged body) returns None, and the caller makes the request through botocore,
which retries and reports as usual. Clients this cannot reproduce faithfully (a proxy
in the environment, no credentials) get no direct requests at all; TLS is verified as
botocore would (its CA bundle, or not at all where the client was told not to).

botocore's `before-call` and `before-send` events are emitted for each request, with
what botocore would hand them, and headers their handlers add are sent: a request
counter on the client (`tests/test_index_requests.py`, the benchmarks) sees these
requests too; a `before-send` handler that answers itself (a stub, an in-process mock)
makes the request go through botocore instead.
"""

from __future__ import annotations

import base64
import hashlib
import urllib.request
import zlib
from typing import Any
from urllib.parse import quote, urlsplit

import urllib3
from botocore.auth import S3SigV4Auth  # pyright: ignore[reportMissingTypeStubs]  # boto3/botocore ship no stubs
from botocore.awsrequest import AWSRequest  # pyright: ignore[reportMissingTypeStubs]  # boto3/botocore ship no stubs
from botocore.httpsession import get_cert_path  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType]  # boto3/botocore ship no stubs

from ..log import logger
from .base import ObjectNotFound, PreconditionFailed, etag_of, plain_md5



class DirectRequests:
    """Signed GETs and small PUTs of whole objects of one bucket (path-style addressing,
    like our client)."""

    def __init__(self, client: Any, bucket: str, credentials: Any, pool: urllib3.PoolManager) -> None:
        self._client = client
        self._credentials = credentials
        self._region: str = client.meta.region_name
        self._endpoint = str(client.meta.endpoint_url).rstrip("/")
        self._bucket_path = f"/{quote(bucket, safe='')}/"
        self._pool = pool
        self._events: Any = client.meta.events
        self._models: Any = {op: client.meta.service_model.operation_model(op) for op in ("GetObject", "PutObject")}
        self.disabled = False
        """Set when S3 redirects (a bucket in another region): botocore makes every request then."""

    @classmethod
    def for_client(cls, client: Any, bucket: str) -> DirectRequests | None:
        """Direct requests to `client`'s bucket, or None where botocore should make every request."""
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

    def _send(self, operation: str, key: str, headers: dict[str, str], body: bytes = b"") -> Any:
        """Send one signed request for `key` (the full key, prefix included): urllib3's
        response, or None where botocore should make it."""
        method = "GET" if operation == "GetObject" else "PUT"
        path = self._bucket_path + quote(key, safe="/~")
        url = self._endpoint + path
        # what botocore hands its `before-call` handlers (its request dict); headers they add are sent
        params: dict[str, Any] = {"method": method, "url": url, "url_path": path, "query_string": {},
                                  "headers": headers, "body": body, "context": {}}
        self._events.emit(f"before-call.s3.{operation}", model=self._models[operation], params=params,
                          request_signer=None, context={})
        request: Any = AWSRequest(method=method, url=url, headers=params["headers"], data=body)
        signer: Any = S3SigV4Auth(self._credentials.get_frozen_credentials(), "s3", self._region)
        signer.add_auth(request)
        prepared: Any = request.prepare()
        answered = self._events.emit(f"before-send.s3.{operation}", request=prepared)
        if self.disabled or any(response is not None for _, response in answered):
            return None  # a stub or an in-process mock answers: let botocore ask it
        try:
            response: Any = self._pool.request(method, url, body=body if method == "PUT" else None,
                                               headers={str(k): str(v) for k, v in prepared.headers.items()},
                                               decode_content=False, redirect=False)
        except urllib3.exceptions.HTTPError:
            return None
        if response.status in (301, 307, 308) or (response.status == 400 and b"AuthorizationHeaderMalformed" in response.data):
            # another region or endpoint: botocore finds and remembers it; every later request would be made twice
            logger.info("S3 answered %d to a direct request: botocore makes the requests to this bucket from now on", response.status)
            self.disabled = True
            return None
        return response

    def get(self, key: str) -> tuple[bytes, str] | None:
        """(content, etag) of the object `key` (the full key, prefix included); raises
        ObjectNotFound for a missing key; None: make this request through botocore."""
        response = self._send("GetObject", key, {"x-amz-checksum-mode": "ENABLED"})
        if response is None:
            return None
        data: bytes = response.data
        if response.status == 404 and b"<Code>NoSuchKey</Code>" in data:
            raise ObjectNotFound(f"get {key}: not found")
        etag = str(response.headers.get("ETag", "")).strip('"')
        if response.status != 200 or not etag:
            return None
        return (data, etag) if _intact(data, etag, response.headers) else None

    def put(self, key: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None,
            content_type: str | None = None) -> str | None:
        """Store `data` at `key` (the full key); its etag. Raises PreconditionFailed where a
        condition does not hold; None: make this request through botocore."""
        headers = {"x-amz-checksum-crc32": _crc32(data), "Content-MD5": base64.b64encode(hashlib.md5(data, usedforsecurity=False).digest()).decode()}
        if content_type:
            headers["Content-Type"] = content_type
        if if_none_match:
            headers["If-None-Match"] = "*"
        if if_match is not None:
            headers["If-Match"] = f'"{if_match}"'
        response = self._send("PutObject", key, headers, data)
        if response is None:
            return None
        answer: bytes = response.data
        conditional = if_none_match or if_match is not None
        if conditional and (response.status in (409, 412) or (response.status == 404 and if_match is not None
                                                               and b"<Code>NoSuchKey</Code>" in answer)):
            raise PreconditionFailed(f"put {key}: the object changed or exists already")
        etag = str(response.headers.get("ETag", "")).strip('"')
        return etag if response.status == 200 and etag else None


def _crc32(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


_NOT_MD5_ETAG = ("x-amz-server-side-encryption-customer-algorithm",)
"""Response headers of objects whose ETag is not the MD5 of their bytes (SSE-C)."""


def _intact(data: bytes, etag: str, headers: Any) -> bool:
    """The body matches the CRC32 S3 stored with it or else, for a single-part object whose
    ETag is its MD5 (not SSE-KMS or SSE-C), that MD5. A body with neither (another checksum,
    a composite one, a multipart or encrypted object) is taken as it came, as botocore
    takes it. A mismatch sends the read to botocore, which checks and retries."""
    crc32 = str(headers.get("x-amz-checksum-crc32") or "")
    if crc32 and "-" not in crc32:  # "<crc>-<parts>": a composite of the parts' checksums
        return _crc32(data) == crc32
    encrypted = str(headers.get("x-amz-server-side-encryption") or "").startswith("aws:kms")
    if plain_md5(etag) and not encrypted and not any(headers.get(h) for h in _NOT_MD5_ETAG):
        return etag_of(data) == plain_md5(etag)
    return True

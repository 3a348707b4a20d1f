"""Plain reads and small writes of whole objects through obstore (the Rust `object_store`
crate), without botocore's per-request machinery.

A `GetObject` or `PutObject` through botocore costs about 1.2 ms of CPU on this
project's machine (events, endpoint rules, parameter validation, response parsing) for a
3 KB document; a full index generation reads one concept document per concept and a
partner's hand-in writes several objects per report, so at 10,000 concepts or reports
that CPU, not the network, bounds them. obstore signs and sends the same request in Rust,
outside the GIL, over its own keep-alive pool: about 0.3 ms of CPU in our process
(`docs/benchmarks.md`: half of what our earlier hand-written client took).

Only the plain answers are taken, as S3 gives them: a read's body (checked against the
MD5 its ETag is, where it has the form of one; a multipart object's is taken as it came,
as botocore takes it) or `404 NoSuchKey`; a write's etag (the write carries its SHA-256,
which S3 checks), or the refusals of a conditional write (create-only: exists;
`If-Match`: changed or `NoSuchKey`), which are `PreconditionFailed`. Anything else (an
error left after obstore's own retries, another 404, a redirect, a damaged body, an ETag
that is not the body's MD5 as on SSE-KMS buckets) returns None: the caller makes the
request through botocore, which retries and reports as usual, and from then on botocore
makes every request of this store (logged).
Keys that obstore would not send as they are (`_PLAIN_KEY`) go through botocore too.
Clients this cannot reproduce faithfully (a proxy in the environment, credentials that
refresh, a signature other than SigV4) get no direct requests at all; TLS is verified
unless the client was told not to, with botocore's CA bundle added to the system's roots.

botocore's `before-call` event is emitted for each request, with what botocore would
hand its handlers: a request counter on the client (`tests/test_index_requests.py`, the
benchmarks) sees these requests too. Headers such handlers add are not sent.
"""

from __future__ import annotations

import re
import urllib.request
from datetime import timedelta
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import obstore
from botocore.credentials import Credentials  # pyright: ignore[reportMissingTypeStubs]  # boto3/botocore ship no stubs
from obstore.store import S3Store

if TYPE_CHECKING:
    from obstore.store import ClientConfig

from ..log import logger
from .base import ObjectNotFound, PreconditionFailed, etag_of, plain_md5

_NO_SUCH_KEY = "<Code>NoSuchKey</Code>"
"""S3's answer for a missing key (in obstore's message, with the status)."""

_PLAIN_KEY = re.compile(r"[\w\-.~ +=,@:;!'()*$&]+(/[\w\-.~ +=,@:;!'()*$&]+)*")
"""Keys obstore sends as they are. It takes a key for a path: it decodes `%xx`, cuts at
`?` and `#`, and refuses empty, `.` and `..` segments; such keys go through botocore."""


def _status(message: str) -> int | None:
    """The HTTP status S3 answered, from obstore's message (obstore sums statuses up: a
    404 of a missing bucket and one of a missing key are both `NotFoundError`; a message
    of another form is no plain answer, and botocore makes the request)."""
    found = re.search(r"status code: (\d{3})\b", message)
    return int(found.group(1)) if found else None


def _refused(message: str, if_match: bool) -> bool:
    """S3 refused a conditional write because its condition does not hold: `412`, `409`
    (a concurrent conditional write), or `404 NoSuchKey` to `If-Match`."""
    status = _status(message)
    return status in (409, 412) or (if_match and status == 404 and _NO_SUCH_KEY in message)


def _plain(key: str) -> bool:
    return _PLAIN_KEY.fullmatch(key) is not None and not any(p in (".", "..") for p in key.split("/"))


@cache
def _pem(path: str) -> bytes:
    """The CA bundle botocore verifies with (`AWS_CA_BUNDLE`, the config's `ca_bundle`)."""
    return Path(path).read_bytes()


class DirectRequests:
    """Signed GETs and small PUTs of whole objects of one bucket through obstore
    (path-style addressing, like our client)."""

    def __init__(self, client: Any, bucket: str, store: S3Store) -> None:
        self._events: Any = client.meta.events
        self._models: Any = {op: client.meta.service_model.operation_model(op) for op in ("GetObject", "PutObject")}
        self._url = f"{str(client.meta.endpoint_url).rstrip('/')}/{quote(bucket, safe='')}/"
        self._store = store
        self.disabled = False
        """Set after an answer that was not a plain one: botocore makes every request then."""

    @classmethod
    def for_client(cls, client: Any, bucket: str) -> DirectRequests | None:
        """Direct requests to `client`'s bucket, or None where botocore should make every request."""
        credentials: Any = client._request_signer._credentials  # pyright: ignore[reportPrivateUsage]  # botocore keeps them there
        endpoint = str(client.meta.endpoint_url)
        if type(credentials) is not Credentials or client.meta.config.signature_version not in (None, "s3v4"):
            return None  # none, or refreshed by botocore (a role, SSO): botocore signs
        verify: Any = getattr(getattr(client, "_endpoint", None), "http_session", None)
        verify = getattr(verify, "_verify", None)  # botocore's choice: True, False or a CA bundle
        if verify is None:
            return None  # not known how botocore would verify: let it
        if urllib.request.getproxies() and not urllib.request.proxy_bypass(urlsplit(endpoint).hostname or ""):
            return None
        config: Any = client.meta.config
        frozen: Any = credentials.get_frozen_credentials()
        options: ClientConfig = {"allow_http": endpoint.startswith("http://"), "allow_invalid_certificates": verify is False,
                                 "connect_timeout": timedelta(seconds=config.connect_timeout),
                                 "timeout": timedelta(seconds=config.read_timeout)}
        if isinstance(verify, str):
            options["root_certificate"] = _pem(verify)
        credential: dict[str, Any] = {"access_key_id": frozen.access_key, "secret_access_key": frozen.secret_key,
                                      "token": frozen.token, "expires_at": None}
        # obstore also reads AWS_* variables: what decides the request is given here (the credentials
        # through a provider, so that no AWS_SESSION_TOKEN of the environment joins botocore's keys)
        store = S3Store(bucket, endpoint=endpoint, region=client.meta.region_name, credential_provider=lambda: credential,  # pyright: ignore[reportArgumentType]
                        virtual_hosted_style_request=False, skip_signature=False, unsigned_payload=False,
                        checksum_algorithm="sha256", conditional_put="etag", client_options=options,
                        retry_config={"max_retries": 4})
        return cls(client, bucket, store)

    def _announce(self, operation: str, key: str, headers: dict[str, str]) -> None:
        """botocore's `before-call` event, as botocore would emit it (request counters)."""
        url = self._url + quote(key, safe="/~")
        params: dict[str, Any] = {"method": "GET" if operation == "GetObject" else "PUT", "url": url,
                                  "url_path": urlsplit(url).path, "query_string": {}, "headers": headers, "body": b"",
                                  "context": {}}
        self._events.emit(f"before-call.s3.{operation}", model=self._models[operation], params=params,
                          request_signer=None, context={})

    def _hand_over(self, what: str, error: object) -> None:
        logger.info("S3 gave an unexpected answer to %s (%s): botocore makes the requests to this bucket from now on",
                    what, type(error).__name__)
        self.disabled = True

    def get(self, key: str) -> tuple[bytes, str] | None:
        """(content, etag) of the object `key` (the full key, prefix included); raises
        ObjectNotFound for a missing key; None: make this request through botocore."""
        if self.disabled or not _plain(key):
            return None
        self._announce("GetObject", key, {})
        try:
            result = obstore.get(self._store, key)
            data = bytes(result.bytes())
        except Exception as e:  # noqa: BLE001  # a missing key, else botocore makes it, retries and reports
            if _status(str(e)) == 404 and _NO_SUCH_KEY in str(e):  # not another 404 (no such bucket)
                raise ObjectNotFound(f"get {key}: not found") from None
            self._hand_over(f"a read of {key}", e)
            return None
        etag = str(result.meta["e_tag"] or "").strip('"')
        md5 = plain_md5(etag)
        if md5 is not None and md5 != etag_of(data):  # a damaged body, or an ETag that is no MD5 (SSE-KMS, SSE-C)
            self._hand_over(f"a read of {key}", ValueError("body and ETag differ"))
            return None
        return data, etag

    def put(self, key: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None,
            content_type: str | None = None) -> str | None:
        """Store `data` at `key` (the full key); its etag. Raises PreconditionFailed where a
        condition does not hold; None: make this request through botocore."""
        if self.disabled or not _plain(key):
            return None
        self._announce("PutObject", key, {"Content-Type": content_type} if content_type else {})
        mode: Any = "create" if if_none_match else {"e_tag": f'"{if_match}"'} if if_match is not None else "overwrite"
        attributes: Any = {"Content-Type": content_type} if content_type else None
        try:
            result = obstore.put(self._store, key, data, mode=mode, attributes=attributes, use_multipart=False)
        except Exception as e:  # noqa: BLE001  # a refusal of the condition, else botocore makes it
            if (if_none_match or if_match is not None) and _refused(str(e), if_match is not None):
                raise PreconditionFailed(f"put {key}: the object changed or exists already") from None
            self._hand_over(f"a write of {key}", e)
            return None
        etag = str(result["e_tag"] or "").strip('"')
        return etag or None

"""The candidate replacement of `storage/s3_direct.py`, measured by the benchmarks:
whole-object GETs and small PUTs through `obstore` (the Rust `object_store` crate),
with the interface of `DirectRequests` (`get`, `put`; None: make it through botocore).

Not part of the product: `bench_s3_client.py`, `bench_index.py --client obstore` and
`bench_partner_reports.py --client obstore` put it in place of an `S3Storage`'s direct
requests (`use_obstore`). Parity with `s3_direct`: a PUT carries a checksum S3 checks
(obstore's `checksum_algorithm`, SHA-256: obstore has no CRC32); a GET is checked against
the MD5 its ETag is (obstore does not verify S3's stored checksums, and does not hand us
the response headers that carry them). Each request calls `on_request` with its operation's name (a counter).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import obstore
from obstore.exceptions import AlreadyExistsError, NotFoundError, PreconditionError
from obstore.store import S3Store

from backoffice.storage.base import ObjectNotFound, PreconditionFailed, etag_of, plain_md5


class ObstoreRequests:
    """Signed GETs and PUTs of whole objects of one bucket through obstore."""

    def __init__(self, *, bucket: str, endpoint: str, region: str, access_key_id: str, secret_access_key: str,
                 on_request: Callable[[str], None] = lambda _: None) -> None:
        self._store = S3Store(bucket, endpoint=endpoint, region=region, access_key_id=access_key_id,
                              secret_access_key=secret_access_key, virtual_hosted_style_request=False,
                              checksum_algorithm="sha256", conditional_put="etag",
                              client_options={"allow_http": endpoint.startswith("http://")})
        self.on_request = on_request

    @classmethod
    def for_storage(cls, storage: Any, on_request: Callable[[str], None] = lambda _: None) -> ObstoreRequests:
        """Direct requests to the bucket of `storage` (an `S3Storage`), with its credentials."""
        creds: Any = storage.client._request_signer._credentials.get_frozen_credentials()  # pyright: ignore[reportPrivateUsage]
        return cls(bucket=storage.bucket, endpoint=str(storage.client.meta.endpoint_url), region=storage.client.meta.region_name,
                   access_key_id=creds.access_key, secret_access_key=creds.secret_key, on_request=on_request)

    def get(self, key: str) -> tuple[bytes, str] | None:
        self.on_request("GetObject")
        try:
            result = obstore.get(self._store, key)
            data = bytes(result.bytes())
        except (NotFoundError, FileNotFoundError):
            raise ObjectNotFound(f"get {key}: not found") from None
        except Exception:  # noqa: BLE001  # anything else: botocore makes the request, retries and reports
            return None
        etag = str(result.meta["e_tag"] or "").strip('"')
        if not etag or (plain_md5(etag) and etag_of(data) != plain_md5(etag)):
            return None
        return data, etag

    def put(self, key: str, data: bytes, *, if_none_match: bool = False, if_match: str | None = None,
            content_type: str | None = None) -> str | None:
        self.on_request("PutObject")
        mode: Any = "create" if if_none_match else {"e_tag": f'"{if_match}"'} if if_match is not None else "overwrite"
        attributes: Any = {"Content-Type": content_type} if content_type else None
        try:
            r = obstore.put(self._store, key, data, mode=mode, attributes=attributes, use_multipart=False)
        except (AlreadyExistsError, PreconditionError):
            raise PreconditionFailed(f"put {key}: the object changed or exists already") from None
        except (NotFoundError, FileNotFoundError):
            if if_match is None:
                return None
            raise PreconditionFailed(f"put {key}: the object changed or exists already") from None
        except Exception:  # noqa: BLE001  # botocore makes it
            return None
        return str(r["e_tag"] or "").strip('"') or None


def use_obstore(storage: Any, on_request: Callable[[str], None] = lambda _: None) -> Any:
    """Put obstore in place of `storage`'s direct requests; the direct requests it had."""
    before = storage._direct  # pyright: ignore[reportPrivateUsage]
    storage._direct = ObstoreRequests.for_storage(storage, on_request)  # pyright: ignore[reportPrivateUsage]
    return before

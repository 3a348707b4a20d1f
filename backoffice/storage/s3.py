"""The S3 backend (boto3). Conditional writes use S3's `If-None-Match`/`If-Match`."""

from __future__ import annotations

from collections.abc import Iterator
import threading
from datetime import datetime, timezone
from functools import cache
from typing import Any, BinaryIO, cast
from urllib.parse import quote

import boto3  # pyright: ignore[reportMissingTypeStubs]  # boto3/botocore ship no stubs
from boto3.s3.transfer import TransferConfig  # pyright: ignore[reportMissingTypeStubs]  # boto3/botocore ship no stubs
from botocore.config import Config  # pyright: ignore[reportMissingTypeStubs]  # boto3/botocore ship no stubs
from botocore.exceptions import BotoCoreError, ClientError  # pyright: ignore[reportMissingTypeStubs]  # boto3/botocore ship no stubs
from botocore.session import get_session  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType]  # boto3/botocore ship no stubs
from botocore.utils import determine_content_length, parse_timestamp  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType]  # boto3/botocore ship no stubs

from ..errors import StorageError
from .base import ByteStream, ObjectInfo, ObjectNotFound, PreconditionFailed, Storage, check_key, normalize_prefix
from .s3_obstore import DirectRequests

_TRANSFER = TransferConfig(
    multipart_threshold=64 * 1024**2,
    multipart_chunksize=8 * 1024**2,
    max_concurrency=4,
)
_TRANSFER.max_in_memory_upload_chunks = 4  # bounds the memory of streamed uploads (~4 x 8 MiB)

_LOCK = threading.Lock()


def _timestamp(value: Any) -> datetime:
    """S3's two timestamp forms (`Last-Modified` headers, RFC 1123; listings, ISO 8601)
    parsed directly; anything else by botocore's parser (dateutil: about 0.2 ms a call,
    a sixth of the client's CPU per GET)."""
    if isinstance(value, str):
        try:
            if value.endswith(" GMT"):
                return datetime.strptime(value, "%a, %d %b %Y %H:%M:%S GMT").replace(tzinfo=timezone.utc)
            if value.endswith("Z") and "T" in value:
                return datetime.fromisoformat(value)
        except ValueError:
            pass
    parsed: datetime = parse_timestamp(value)
    return parsed


@cache
def _session() -> Any:
    """boto3's session for our clients: its own botocore session, whose responses parse
    timestamps with `_timestamp` (made once: a session loads botocore's data files)."""
    session: Any = get_session()
    session.get_component("response_parser_factory").set_parser_defaults(timestamp_parser=_timestamp)
    return boto3.Session(botocore_session=session)  # pyright: ignore[reportUnknownMemberType]


SMALL_BODY = 1024**2
"""Bodies up to this size are sent with their headers, without `Expect: 100-continue`."""


def _send_small_bodies_at_once(params: dict[str, Any], **_: Any) -> None:
    """botocore asks for `100 Continue` before every PUT body, however small: an extra
    round trip per write (and a hang with servers that answer a complete zero-length
    request at once). A small body is sent straight away; large ones still wait."""
    headers: dict[str, str] = params.get("headers", {})
    if "Expect" in headers and determine_content_length(params.get("body")) in range(SMALL_BODY + 1):
        del headers["Expect"]


def _client(**kwargs: Any) -> Any:
    with _LOCK:  # creating clients from one session is not thread-safe
        client: Any = _session().client("s3", **kwargs)
    client.meta.events.register_last("before-call.s3", _send_small_bodies_at_once)
    return client


def _code(e: ClientError) -> str:
    response: dict[str, Any] = e.response  # botocore leaves it unannotated
    return str(response.get("Error", {}).get("Code", ""))


class S3Storage(Storage):
    """Objects in an S3 bucket under a key prefix."""

    def __init__(
        self,
        *,
        bucket: str,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str = "us-east-1",
        access_key_id: str | None = None,
        secret_access_key: str | None = None,
        public_base_url: str | None = None,
        max_pool_connections: int = 32,
    ) -> None:
        self.bucket = bucket
        self.prefix = normalize_prefix(prefix)
        self.endpoint_url = endpoint_url
        self.client: Any = _client(
            endpoint_url=endpoint_url,
            region_name=region,
            aws_access_key_id=access_key_id,
            aws_secret_access_key=secret_access_key,
            config=Config(
                retries={"max_attempts": 5, "mode": "standard"},
                max_pool_connections=max_pool_connections,
                s3={"addressing_style": "path"},
            ),
        )
        self._direct = DirectRequests.for_client(self.client, bucket)
        """Whole-object reads and small writes without botocore's per-request cost (None:
        botocore makes every request)."""
        if public_base_url:
            self.public_base_url = public_base_url.rstrip("/")
        else:
            base = (endpoint_url or f"https://{bucket}.s3.amazonaws.com").rstrip("/")
            self.public_base_url = f"{base}/{bucket}" if endpoint_url else base
            if self.prefix:
                self.public_base_url += "/" + self.prefix.rstrip("/")

    def _k(self, key: str) -> str:
        return self.prefix + check_key(key)

    def _call(self, what: str, fn: Any, **kwargs: Any) -> Any:
        try:
            return fn(Bucket=self.bucket, **kwargs)
        except ClientError as e:
            code = _code(e)
            if code in ("PreconditionFailed", "ConditionalRequestConflict", "412", "409"):
                raise PreconditionFailed(f"{what}: the object changed or exists already") from None
            if code in ("NoSuchKey", "404", "NotFound"):
                raise ObjectNotFound(f"{what}: not found") from None
            raise StorageError(f"{what} failed: {code or e}") from None
        except BotoCoreError as e:
            raise StorageError(f"{what} failed: {e}") from None

    # --- writing -----------------------------------------------------------
    def put_bytes(
        self,
        key: str,
        data: bytes,
        *,
        if_none_match: bool = False,
        if_match: str | None = None,
        content_type: str | None = None,
    ) -> str:
        if self._direct is not None and len(data) <= SMALL_BODY:
            etag = self._direct.put(self._k(key), data, if_none_match=if_none_match, if_match=if_match, content_type=content_type)
            if etag is not None:
                return etag
        kwargs: dict[str, Any] = {"Key": self._k(key), "Body": data}
        if if_none_match:
            kwargs["IfNoneMatch"] = "*"
        if if_match is not None:
            kwargs["IfMatch"] = f'"{if_match}"'
        if content_type:
            kwargs["ContentType"] = content_type
        try:
            r = self._call(f"put {key}", self.client.put_object, **kwargs)
        except ObjectNotFound:
            # S3 answers If-Match on a missing key with 404 NoSuchKey; for us that is a failed condition
            if if_match is None:
                raise
            raise PreconditionFailed(f"put {key}: {key} does not exist (expected etag {if_match})") from None
        return str(r["ETag"]).strip('"')

    def put_stream(self, key: str, stream: ByteStream, *, content_type: str | None = None) -> str:
        extra: dict[str, Any] = {"ContentType": content_type} if content_type else {}
        try:
            self.client.upload_fileobj(stream, self.bucket, self._k(key), ExtraArgs=extra, Config=_TRANSFER)
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"upload {key} failed: {e}") from None
        info = self.head(key)
        if info is None:
            raise StorageError(f"upload {key} failed: object missing after upload")
        return info.etag

    def copy(self, src: str, dst: str) -> None:
        size = self.head(src)
        if size is None:
            raise ObjectNotFound(f"no object {src}")
        if size.size < 5 * 1024**3:
            self._call(
                f"copy {src}",
                self.client.copy_object,
                Key=self._k(dst),
                CopySource={"Bucket": self.bucket, "Key": self._k(src)},
            )
        else:
            try:
                self.client.copy(
                    {"Bucket": self.bucket, "Key": self._k(src)}, self.bucket, self._k(dst), Config=_TRANSFER
                )
            except (ClientError, BotoCoreError) as e:
                raise StorageError(f"copy {src} failed: {e}") from None

    def delete(self, key: str) -> None:
        self._call(f"delete {key}", self.client.delete_object, Key=self._k(key))

    def delete_many(self, keys: list[str]) -> None:
        for i in range(0, len(keys), 1000):  # S3's batch limit
            batch = keys[i : i + 1000]
            r = self._call(
                f"delete {len(batch)} objects",
                self.client.delete_objects,
                Delete={"Objects": [{"Key": self._k(k)} for k in batch], "Quiet": True},
            )
            errors: list[dict[str, Any]] = r.get("Errors") or []
            if errors:
                first = errors[0]
                raise StorageError(f"delete failed for {len(errors)} object(s), e.g. {first.get('Key')}: {first.get('Code')}")

    # --- reading -----------------------------------------------------------
    def get(self, key: str) -> tuple[bytes, str]:
        if self._direct is not None:
            got = self._direct.get(self._k(key))
            if got is not None:
                return got
        r = self._call(f"get {key}", self.client.get_object, Key=self._k(key))
        body = r["Body"]
        try:
            return cast(bytes, body.read()), str(r["ETag"]).strip('"')
        except BotoCoreError as e:
            raise StorageError(f"get {key} failed: {e}") from None

    def open(self, key: str) -> BinaryIO:
        r = self._call(f"get {key}", self.client.get_object, Key=self._k(key))
        return cast(BinaryIO, r["Body"])

    def head(self, key: str) -> ObjectInfo | None:
        try:
            r = self._call(f"head {key}", self.client.head_object, Key=self._k(key))
        except ObjectNotFound:
            return None
        return ObjectInfo(key=key, size=int(r["ContentLength"]), etag=str(r["ETag"]).strip('"'), last_modified=r["LastModified"])

    def list(self, prefix: str = "") -> Iterator[ObjectInfo]:
        paginator = self.client.get_paginator("list_objects_v2")
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self.prefix + prefix):
                for o in page.get("Contents", []):
                    yield ObjectInfo(
                        key=str(o["Key"])[len(self.prefix) :],
                        size=int(o["Size"]),
                        etag=str(o["ETag"]).strip('"'),
                        last_modified=o["LastModified"],
                    )
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"list {prefix} failed: {e}") from None

    def list_folders(self, prefix: str = "") -> list[str]:
        full = self.prefix + normalize_prefix(prefix)
        paginator = self.client.get_paginator("list_objects_v2")
        out: list[str] = []
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=full, Delimiter="/"):
                for p in page.get("CommonPrefixes", []):
                    out.append(str(p["Prefix"])[len(full) :].rstrip("/"))
        except (ClientError, BotoCoreError) as e:
            raise StorageError(f"list {prefix} failed: {e}") from None
        return sorted(out)

    # --- addressing --------------------------------------------------------
    def public_url(self, key: str) -> str:
        return f"{self.public_base_url}/{quote(check_key(key))}"

    def describe(self) -> str:
        return f"s3 bucket {self.bucket} prefix {self.prefix or '(none)'} at {self.endpoint_url or 'AWS'}"

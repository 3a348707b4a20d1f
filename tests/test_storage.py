"""One suite for both storage backends (local folder, S3 via moto)."""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path
from typing import BinaryIO

import pytest

from backoffice.errors import StorageError
from backoffice.storage.base import ObjectNotFound, PreconditionFailed, Storage
from backoffice.storage.local import INTERNAL, LocalStorage
from backoffice.storage.s3 import S3Storage

REPO = Path(__file__).resolve().parents[1]


def keys(storage: Storage, prefix: str = "") -> list[str]:
    return [o.key for o in storage.list(prefix)]


# --------------------------------------------------------------------------
# basic operations
# --------------------------------------------------------------------------


def test_put_get_roundtrip_with_etag(storage: Storage) -> None:
    etag = storage.put_bytes("a/b/c.txt", b"hello", content_type="text/plain")
    assert isinstance(etag, str) and etag
    data, got_etag = storage.get("a/b/c.txt")
    assert data == b"hello"
    assert got_etag == etag
    assert storage.get_bytes("a/b/c.txt") == b"hello"

    # overwriting changes content and etag
    etag2 = storage.put_bytes("a/b/c.txt", b"hello world")
    assert etag2 != etag
    assert storage.get("a/b/c.txt") == (b"hello world", etag2)

    # same content, same etag (content addressed in both backends)
    etag3 = storage.put_bytes("other.txt", b"hello world")
    assert etag3 == etag2

    # empty objects work
    etag_empty = storage.put_bytes("empty", b"")
    assert storage.get("empty") == (b"", etag_empty)


def test_head(storage: Storage) -> None:
    etag = storage.put_bytes("x/y.bin", b"12345")
    info = storage.head("x/y.bin")
    assert info is not None
    assert info.key == "x/y.bin"
    assert info.size == 5
    assert info.etag == etag
    assert info.last_modified.tzinfo is not None
    assert storage.exists("x/y.bin")

    assert storage.head("x/missing.bin") is None
    assert storage.head("x") is None  # a 'folder' is not an object
    assert not storage.exists("x/missing.bin")


def test_get_and_open_missing_raise_object_not_found(storage: Storage) -> None:
    with pytest.raises(ObjectNotFound):
        storage.get("nope/missing.txt")
    with pytest.raises(ObjectNotFound):
        storage.get_bytes("missing.txt")
    with pytest.raises(ObjectNotFound):
        storage.open("missing.txt")
    storage.put_bytes("dir/file", b"x")
    with pytest.raises(ObjectNotFound):
        storage.get("dir")  # a 'folder' is not an object


def test_list_with_prefix(storage: Storage) -> None:
    contents = {
        "b/2.txt": b"22",
        "a/1.txt": b"1",
        "a/sub/3.txt": b"333",
        "ab/4.txt": b"4444",
        "top.txt": b"t",
        "a/0.txt": b"",
    }
    etags = {k: storage.put_bytes(k, v) for k, v in contents.items()}

    everything = list(storage.list())
    assert [o.key for o in everything] == sorted(contents)
    for o in everything:
        assert o.size == len(contents[o.key])
        assert o.etag == etags[o.key]

    assert keys(storage, "a/") == ["a/0.txt", "a/1.txt", "a/sub/3.txt"]
    assert keys(storage, "a") == ["a/0.txt", "a/1.txt", "a/sub/3.txt", "ab/4.txt"]
    assert keys(storage, "a/s") == ["a/sub/3.txt"]
    assert keys(storage, "a/sub/") == ["a/sub/3.txt"]
    assert keys(storage, "t") == ["top.txt"]
    assert keys(storage, "top.txt") == ["top.txt"]
    assert keys(storage, "zzz") == []
    assert keys(storage, "nothing/here/") == []


def test_list_hides_internals(storage: Storage) -> None:
    # conditional writes leave lock files in the local backend; never listed
    storage.put_bytes("rec.json", b"{}", if_none_match=True)
    _, etag = storage.get("rec.json")
    storage.put_bytes("rec.json", b"{ }", if_match=etag)
    storage.put_stream("big/blob", io.BytesIO(b"data"))
    assert keys(storage) == ["big/blob", "rec.json"]
    assert storage.list_folders() == ["big"]


def test_s3_prefix_is_applied_and_never_leaks(s3_storage: Storage) -> None:
    assert isinstance(s3_storage, S3Storage)
    client = s3_storage.client
    bucket = s3_storage.bucket
    # objects outside the prefix, including a sibling sharing its first characters
    client.put_object(Bucket=bucket, Key="outside.txt", Body=b"o")
    client.put_object(Bucket=bucket, Key="collection-testX/sibling.txt", Body=b"s")
    client.put_object(Bucket=bucket, Key="collection-test2/a/x.txt", Body=b"s")

    s3_storage.put_bytes("a/x.txt", b"x")
    s3_storage.put_stream("a/y.txt", io.BytesIO(b"y"))
    s3_storage.copy("a/x.txt", "b/x.txt")

    raw = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
    assert raw == [
        "collection-test/a/x.txt",
        "collection-test/a/y.txt",
        "collection-test/b/x.txt",
        "collection-test2/a/x.txt",
        "collection-testX/sibling.txt",
        "outside.txt",
    ]
    assert keys(s3_storage) == ["a/x.txt", "a/y.txt", "b/x.txt"]
    assert keys(s3_storage, "a") == ["a/x.txt", "a/y.txt"]
    assert s3_storage.list_folders() == ["a", "b"]
    assert s3_storage.head("a/x.txt") is not None and s3_storage.head("outside.txt") is None
    assert s3_storage.delete_prefix("") == 3
    remaining = sorted(o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"])
    assert remaining == ["collection-test2/a/x.txt", "collection-testX/sibling.txt", "outside.txt"]


def test_list_folders(storage: Storage) -> None:
    for k in ["m/one/a.txt", "m/one/deep/b.txt", "m/two/c.txt", "m/file.txt", "n/d.txt", "root.txt"]:
        storage.put_bytes(k, b"x")
    assert storage.list_folders() == ["m", "n"]
    assert storage.list_folders("m") == ["one", "two"]
    assert storage.list_folders("m/") == ["one", "two"]
    assert storage.list_folders("m/one") == ["deep"]
    assert storage.list_folders("m/two") == []
    assert storage.list_folders("missing") == []


def test_copy(storage: Storage) -> None:
    etag = storage.put_bytes("src/a.bin", b"payload")
    storage.copy("src/a.bin", "dst/deep/a.bin")
    assert storage.get("dst/deep/a.bin") == (b"payload", etag)
    assert storage.get_bytes("src/a.bin") == b"payload"  # source stays

    # copy over an existing object replaces it
    storage.put_bytes("dst/other.bin", b"old")
    storage.copy("src/a.bin", "dst/other.bin")
    assert storage.get_bytes("dst/other.bin") == b"payload"

    with pytest.raises(ObjectNotFound):
        storage.copy("src/missing.bin", "dst/x.bin")
    assert storage.head("dst/x.bin") is None


def test_delete_and_delete_prefix(storage: Storage) -> None:
    for k in ["p/1", "p/2", "p/q/3", "pp/4", "keep/5"]:
        storage.put_bytes(k, b"x")

    storage.delete("p/1")
    assert storage.head("p/1") is None
    with pytest.raises(ObjectNotFound):
        storage.get("p/1")
    storage.delete("p/1")  # again: not an error
    storage.delete("never/existed")  # not an error either
    storage.delete("p")  # a 'folder' is no object: nothing happens
    storage.delete("p/2/below")  # a path through an object: nothing happens
    assert keys(storage, "p/") == ["p/2", "p/q/3"]

    assert storage.delete_prefix("p/") == 2
    assert keys(storage) == ["keep/5", "pp/4"]
    assert storage.list_folders() == ["keep", "pp"]
    assert storage.delete_prefix("p/") == 0
    assert storage.delete_prefix("nothing/") == 0

    # keys can be written again under a deleted prefix
    storage.put_bytes("p/q/3", b"again")
    assert storage.get_bytes("p/q/3") == b"again"


# --------------------------------------------------------------------------
# streams and files
# --------------------------------------------------------------------------


class GeneratedStream(io.RawIOBase):
    """A non-seekable stream of `size` pseudo-random bytes, produced in chunks."""

    def __init__(self, size: int, chunk: int = 1024 * 1024) -> None:
        self.remaining = size
        self.chunk = chunk
        self.counter = 0
        self.buf = b""
        self.sha = hashlib.sha256()

    def readable(self) -> bool:
        return True

    def _next_chunk(self) -> bytes:
        block = hashlib.sha256(self.counter.to_bytes(8, "big")).digest() * (self.chunk // 32)
        self.counter += 1
        return block

    def read(self, size: int = -1) -> bytes:
        if size is None or size < 0:
            size = self.remaining
        size = min(size, self.remaining)
        while len(self.buf) < size:
            self.buf += self._next_chunk()
        out, self.buf = self.buf[:size], self.buf[size:]
        self.remaining -= len(out)
        self.sha.update(out)
        return out

    def readinto(self, b: bytearray | memoryview) -> int:  # type: ignore[override]
        data = self.read(len(b))
        b[: len(data)] = data
        return len(data)


def sha256_of(f: BinaryIO) -> tuple[int, str]:
    h = hashlib.sha256()
    n = 0
    while chunk := f.read(1024 * 1024):
        h.update(chunk)
        n += len(chunk)
    return n, h.hexdigest()


def test_put_stream_large(storage: Storage) -> None:
    size = 20 * 1024 * 1024 + 12345
    stream = GeneratedStream(size)
    etag = storage.put_stream("big/blob.bin", stream, content_type="application/octet-stream")  # type: ignore[arg-type]
    assert stream.remaining == 0
    expected = stream.sha.hexdigest()

    info = storage.head("big/blob.bin")
    assert info is not None
    assert info.size == size
    assert info.etag == etag
    f = storage.open("big/blob.bin")
    try:
        assert sha256_of(f) == (size, expected)
    finally:
        f.close()
    assert [(o.key, o.size) for o in storage.list("big/")] == [("big/blob.bin", size)]


def test_put_file(storage: Storage, tmp_path: Path) -> None:
    src = tmp_path / "upload.bin"
    data = os.urandom(300_000)
    src.write_bytes(data)
    etag = storage.put_file("files/upload.bin", src)
    assert storage.get("files/upload.bin") == (data, etag)
    info = storage.head("files/upload.bin")
    assert info is not None and info.size == len(data) and info.etag == etag


# --------------------------------------------------------------------------
# conditional writes
# --------------------------------------------------------------------------


def test_if_none_match(storage: Storage) -> None:
    etag = storage.put_bytes("c/new.json", b'{"v": 1}', if_none_match=True)
    assert storage.get("c/new.json") == (b'{"v": 1}', etag)

    with pytest.raises(PreconditionFailed):
        storage.put_bytes("c/new.json", b'{"v": 2}', if_none_match=True)
    assert storage.get("c/new.json") == (b'{"v": 1}', etag)  # unchanged

    # PreconditionFailed is a ConflictError for the CLI
    from backoffice.errors import ConflictError

    with pytest.raises(ConflictError):
        storage.put_bytes("c/new.json", b"x", if_none_match=True)


def test_if_match(storage: Storage) -> None:
    etag1 = storage.put_bytes("c/rec.json", b'{"v": 1}')

    etag2 = storage.put_bytes("c/rec.json", b'{"v": 2}', if_match=etag1)
    assert etag2 != etag1
    assert storage.get("c/rec.json") == (b'{"v": 2}', etag2)
    head = storage.head("c/rec.json")
    assert head is not None and head.etag == etag2

    # stale etag
    with pytest.raises(PreconditionFailed):
        storage.put_bytes("c/rec.json", b'{"v": 3}', if_match=etag1)
    assert storage.get("c/rec.json") == (b'{"v": 2}', etag2)

    # made-up etag
    with pytest.raises(PreconditionFailed):
        storage.put_bytes("c/rec.json", b'{"v": 3}', if_match="0" * 32)
    assert storage.get_bytes("c/rec.json") == b'{"v": 2}'

    # the current etag works again
    etag3 = storage.put_bytes("c/rec.json", b'{"v": 3}', if_match=etag2)
    assert storage.get("c/rec.json") == (b'{"v": 3}', etag3)


def test_if_match_on_missing_key(storage: Storage) -> None:
    with pytest.raises(PreconditionFailed):
        storage.put_bytes("c/missing.json", b"{}", if_match="d41d8cd98f00b204e9800998ecf8427e")
    assert storage.head("c/missing.json") is None

    # also after the key was deleted
    etag = storage.put_bytes("c/gone.json", b"{}")
    storage.delete("c/gone.json")
    with pytest.raises(PreconditionFailed):
        storage.put_bytes("c/gone.json", b"{}", if_match=etag)
    assert storage.head("c/gone.json") is None


def test_moto_enforces_conditional_puts(s3_storage: Storage) -> None:
    """The fake S3 itself rejects failed conditions (so the S3 tests above mean something)."""
    from botocore.exceptions import ClientError

    assert isinstance(s3_storage, S3Storage)
    client, bucket = s3_storage.client, s3_storage.bucket
    etag = client.put_object(Bucket=bucket, Key="raw", Body=b"1", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="raw", Body=b"2", IfNoneMatch="*")
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 412
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="raw", Body=b"2", IfMatch='"' + "0" * 32 + '"')
    assert e.value.response["Error"]["Code"] == "PreconditionFailed"
    # If-Match on a missing key: 404 NoSuchKey, as on AWS (the backend turns it into PreconditionFailed)
    with pytest.raises(ClientError) as e:
        client.put_object(Bucket=bucket, Key="absent", Body=b"2", IfMatch=etag)
    assert e.value.response["Error"]["Code"] == "NoSuchKey"
    assert client.get_object(Bucket=bucket, Key="raw")["Body"].read() == b"1"
    etag2 = client.put_object(Bucket=bucket, Key="raw", Body=b"2", IfMatch=etag)["ETag"]
    assert etag2 != etag
    assert client.get_object(Bucket=bucket, Key="raw")["Body"].read() == b"2"


def test_local_if_match_does_not_trust_a_stale_etag_cache(local_storage: Storage) -> None:
    """A reused inode with the same size and mtime (coarse timestamps) must not pass an old etag."""
    assert isinstance(local_storage, LocalStorage)
    path = local_storage.root / "rec.json"
    etag_a = local_storage.put_bytes("rec.json", b'{"v": 1}')
    info_a = local_storage.head("rec.json")  # fills the etag cache
    assert info_a is not None and info_a.etag == etag_a
    st_a = path.stat()
    # rewrite (same size) until the file system hands out the first inode again
    for _ in range(50):
        local_storage.put_bytes("rec.json", b'{"v": 2}')
        local_storage.put_bytes("rec.json", b'{"v": 3}')
        if path.stat().st_ino == st_a.st_ino:
            break
    else:
        pytest.skip("this file system did not reuse the inode")
    os.utime(path, ns=(st_a.st_atime_ns, st_a.st_mtime_ns))  # as if written within one timestamp tick
    with pytest.raises(PreconditionFailed):
        local_storage.put_bytes("rec.json", b'{"v": 4}', if_match=etag_a)
    data, etag_c = local_storage.get("rec.json")
    assert data == b'{"v": 3}'
    local_storage.put_bytes("rec.json", b'{"v": 5}', if_match=etag_c)
    assert local_storage.get_bytes("rec.json") == b'{"v": 5}'


# --------------------------------------------------------------------------
# keys and urls
# --------------------------------------------------------------------------


@pytest.mark.parametrize("bad", ["../x", "/abs", "a//b", "", "a/../b", "./a", "a/..", "a\\b"])
def test_invalid_keys(storage: Storage, bad: str) -> None:
    with pytest.raises(StorageError):
        storage.put_bytes(bad, b"x")
    with pytest.raises(StorageError):
        storage.put_bytes(bad, b"x", if_none_match=True)
    with pytest.raises(StorageError):
        storage.put_stream(bad, io.BytesIO(b"x"))
    with pytest.raises(StorageError):
        storage.get(bad)
    with pytest.raises(StorageError):
        storage.head(bad)
    with pytest.raises(StorageError):
        storage.delete(bad)
    with pytest.raises(StorageError):
        storage.copy(bad, "ok")
    with pytest.raises(StorageError):
        storage.public_url(bad)
    assert keys(storage) == []


def test_local_internal_folder_is_not_a_key(local_storage: Storage) -> None:
    with pytest.raises(StorageError):
        local_storage.put_bytes(f"{INTERNAL}/locks/x", b"x")
    with pytest.raises(StorageError):
        local_storage.get(f"{INTERNAL}/tmp/x")


def test_public_url(storage: Storage) -> None:
    url = storage.public_url("models/affable-shark/1/rdf.yaml")
    spaced = storage.public_url("a b/c#d.txt")
    if isinstance(storage, LocalStorage):
        assert url == "http://127.0.0.1:8765/models/affable-shark/1/rdf.yaml"
        assert spaced == "http://127.0.0.1:8765/a%20b/c%23d.txt"
    else:
        assert isinstance(storage, S3Storage)
        base = f"{storage.endpoint_url}/{storage.bucket}/collection-test"
        assert url == f"{base}/models/affable-shark/1/rdf.yaml"
        assert spaced == f"{base}/a%20b/c%23d.txt"


def test_s3_public_url_without_endpoint() -> None:
    s = S3Storage(bucket="bkt", prefix="/pre/fix/", access_key_id="testing", secret_access_key="testing")
    assert s.public_url("a/b.txt") == "https://bkt.s3.amazonaws.com/pre/fix/a/b.txt"
    s2 = S3Storage(bucket="bkt", public_base_url="https://cdn.example.org/x/", access_key_id="t", secret_access_key="t")
    assert s2.public_url("a/b.txt") == "https://cdn.example.org/x/a/b.txt"


@pytest.mark.parametrize("value", ["Mon, 30 Nov 2026 08:36:24 GMT", "2026-11-30T08:36:24.000Z", "2026-11-30T08:36:24Z",
                                   "Mon, 30 Nov 2026 08:36:24 +0100", "1764491784", "not a date, GMT"])
def test_s3_timestamps_parse_as_botocore_does(value: str) -> None:
    from botocore.utils import parse_timestamp  # pyright: ignore[reportMissingTypeStubs, reportUnknownVariableType]

    from backoffice.storage.s3 import _timestamp  # pyright: ignore[reportPrivateUsage]

    try:
        expected = parse_timestamp(value)
    except ValueError:
        with pytest.raises(ValueError):
            _timestamp(value)
        return
    assert _timestamp(value) == expected


def test_s3_head_and_list_agree_on_last_modified(s3_storage: Storage) -> None:
    s3_storage.put_bytes("t/a.json", b"{}")
    head = s3_storage.head("t/a.json")
    assert head is not None and head.last_modified.utcoffset() is not None
    [listed] = list(s3_storage.list("t/"))
    assert abs((listed.last_modified - head.last_modified).total_seconds()) < 1

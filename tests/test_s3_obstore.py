"""Whole-object reads and small writes through obstore (`storage/s3_obstore.py`) against
moto: the same bytes and etags as botocore's reads, one request each, botocore's
`before-call` event still seen, S3's conditions kept, and botocore takes over wherever
the plain case does not hold. Small PUTs go without `Expect: 100-continue`."""

from __future__ import annotations

import gzip
import hashlib
import http.server
import threading
from collections.abc import Iterator
from typing import Any

import pytest

from backoffice.storage.base import ObjectNotFound, PreconditionFailed, Storage
from backoffice.storage.s3 import SMALL_BODY, S3Storage
from backoffice.storage.s3_obstore import DirectRequests


def _s3(storage: Storage) -> S3Storage:
    assert isinstance(storage, S3Storage)
    return storage


def _events(storage: S3Storage, name: str) -> list[str]:
    seen: list[str] = []

    def note(**kwargs: Any) -> None:
        model = kwargs.get("model")
        seen.append(str(getattr(model, "name", kwargs.get("event_name", "?"))))

    storage.client.meta.events.register(name, note)
    return seen


def test_reads_bypass_botocore_but_not_its_events(s3_storage: Storage) -> None:
    s3 = _s3(s3_storage)
    assert s3._direct is not None  # pyright: ignore[reportPrivateUsage]
    keys = ["plain.json", "a dir/with space+plus=b&c.json", "unicodé/ü~x.json", "deep/er/still.json", "..dots/a..b"]
    etags = {k: s3.put_bytes(k, f"content of {k}".encode()) for k in keys}
    calls, parsed = _events(s3, "before-call.s3"), _events(s3, "after-call.s3")
    for k in keys:
        assert s3.get(k) == (f"content of {k}".encode(), etags[k])
        assert etags[k] == hashlib.md5(f"content of {k}".encode()).hexdigest()
    assert calls == ["GetObject"] * len(keys)  # request counters see every read, once
    assert parsed == []  # botocore's own GetObject never ran
    with pytest.raises(ObjectNotFound):
        s3.get("missing.json")
    assert calls == ["GetObject"] * (len(keys) + 1)  # a miss is one request too
    assert not s3._direct.disabled  # pyright: ignore[reportPrivateUsage]


def test_keys_obstore_would_change_go_through_botocore(s3_storage: Storage) -> None:
    """obstore takes a key for a path (decodes `%25`, cuts at `?` and `#`): such keys are
    read and written by botocore, under their own name, and the fast path stays on."""
    s3 = _s3(s3_storage)
    keys = ["x/%25y.json", "q?a=b.json", "h#frag.json", "caret^back`{}[]|<>.json"]
    parsed = _events(s3, "after-call.s3")
    for k in keys:
        s3.put_bytes(k, k.encode(), if_none_match=True)
        assert s3.get(k)[0] == k.encode()
    assert parsed == ["PutObject", "GetObject"] * len(keys)
    assert sorted(o.key for o in s3.list()) == sorted(keys)
    assert s3._direct is not None and not s3._direct.disabled  # pyright: ignore[reportPrivateUsage]


def test_small_writes_bypass_botocore_and_keep_s3s_conditions(s3_storage: Storage) -> None:
    s3 = _s3(s3_storage)
    calls, parsed = _events(s3, "before-call.s3"), _events(s3, "after-call.s3")
    etag = s3.put_bytes("doc.json", b"{}", if_none_match=True, content_type="application/json")
    head = s3.client.head_object(Bucket=s3.bucket, Key=s3.prefix + "doc.json")
    assert head["ContentType"] == "application/json"
    with pytest.raises(PreconditionFailed):
        s3.put_bytes("doc.json", b"{1}", if_none_match=True)
    with pytest.raises(PreconditionFailed):
        s3.put_bytes("doc.json", b"{2}", if_match="0" * 32)
    with pytest.raises(PreconditionFailed):
        s3.put_bytes("never-written.json", b"{3}", if_match=etag)
    assert s3.put_bytes("doc.json", b"[]", if_match=etag) == hashlib.md5(b"[]").hexdigest()
    assert calls == ["PutObject", "HeadObject"] + ["PutObject"] * 4 and parsed == ["HeadObject"]  # none through botocore
    assert s3.get_bytes("doc.json") == b"[]" and s3.head("never-written.json") is None


def test_stored_bytes_come_back_as_stored(s3_storage: Storage) -> None:
    """A gzip-encoded object is returned as stored (botocore does not decode either)."""
    s3 = _s3(s3_storage)
    raw = gzip.compress(b'{"a": 1}' * 100)
    s3.client.put_object(Bucket=s3.bucket, Key=s3.prefix + "z.json", Body=raw, ContentEncoding="gzip")
    assert s3.get("z.json")[0] == raw
    big = bytes(range(256)) * 8000  # 2 MB
    s3.put_bytes("big.bin", big)
    assert s3.get_bytes("big.bin") == big


def test_botocore_reads_when_the_plain_case_does_not_hold(moto_server: str) -> None:
    """Wrong credentials: the fast read gets 403 and hands over; botocore then reports the
    error in its usual one line (moto here does not check signatures, so a bucket that
    does not exist stands in for a refusal)."""
    s3 = S3Storage(bucket="no-such-bucket-here", endpoint_url=moto_server, access_key_id="testing", secret_access_key="testing")
    handed_over = _events(s3, "after-call.s3")
    with pytest.raises(Exception) as e:
        s3.get("x.json")
    assert "NoSuchBucket" in str(e.value)
    assert handed_over == ["GetObject"]


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers every PUT at once with 200 (as waitress does for a complete request) and
    keeps the headers it was sent."""

    protocol_version = "HTTP/1.1"
    seen: list[dict[str, str]] = []
    moved = False
    """Answer GETs with 301 (a bucket in another region)."""
    damaged = False
    """Answer GETs with a body that is not the one the ETag is the MD5 of."""

    def handle_expect_100(self) -> bool:
        return True  # no interim answer: a client waiting for one would hang

    def do_PUT(self) -> None:
        self.seen.append(dict(self.headers.items()))
        length = int(self.headers.get("Content-Length", "0"))
        if self.headers.get("Expect") is None:
            self.rfile.read(length)
            self.send_response(200)
            self.send_header("ETag", '"0123456789abcdef0123456789abcdef"')
        else:
            self.send_response(417)
            self.close_connection = True
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self.seen.append(dict(self.headers.items()))
        if self.moved:
            self.send_response(301)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.send_response(200)
        self.send_header("ETag", f'"{hashlib.md5(b"hi").hexdigest()}"')
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ho" if self.damaged else b"hi")

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[str]:
    _Recorder.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()


def test_small_bodies_go_without_waiting_for_continue(recorder: str) -> None:
    s3 = S3Storage(bucket="b", endpoint_url=recorder, access_key_id="testing", secret_access_key="testing")
    for body in (b"", b"{}", b"x" * SMALL_BODY):
        s3.put_bytes("k", body)
    assert [h.get("Expect") for h in _Recorder.seen] == [None, None, None]
    with pytest.raises(Exception):
        s3.put_bytes("k", b"x" * (SMALL_BODY + 1))  # large bodies still ask first (this server refuses)
    assert _Recorder.seen[-1].get("Expect") == "100-continue"


def test_a_damaged_body_is_not_taken(recorder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A body that is not the MD5 its ETag names: the fast read hands over to botocore, and
    botocore makes this store's requests from then on."""
    s3 = S3Storage(bucket="bucket-r", endpoint_url=recorder, access_key_id="testing", secret_access_key="testing")
    direct = s3._direct  # pyright: ignore[reportPrivateUsage]
    assert direct is not None
    assert direct.get("k.json") == (b"hi", hashlib.md5(b"hi").hexdigest())
    monkeypatch.setattr(_Recorder, "damaged", True)
    assert direct.get("k.json") is None and direct.disabled
    assert "AWS4-HMAC-SHA256" in {k.lower(): v for k, v in _Recorder.seen[-1].items()}["authorization"]


def test_after_a_redirect_botocore_makes_the_requests(recorder: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bucket in another region answers 301: botocore learns where it is; direct requests
    stop, or every later one would be made twice."""
    monkeypatch.setattr(_Recorder, "moved", True)
    s3 = S3Storage(bucket="bucket-r", endpoint_url=recorder, access_key_id="testing", secret_access_key="testing")
    for _ in range(3):
        with pytest.raises(Exception):
            s3.get("k.json")
    assert s3._direct is not None and s3._direct.disabled  # pyright: ignore[reportPrivateUsage]
    assert len(_Recorder.seen) == 1 + 3  # one direct GET, then botocore's only


def test_a_missing_bucket_is_reported_by_botocore(moto_server: str) -> None:
    """obstore reports every 404 alike: only S3's `NoSuchKey` is a missing object; a
    missing bucket is botocore's to report."""
    s3 = S3Storage(bucket="no-such-bucket-here", endpoint_url=moto_server, access_key_id="testing", secret_access_key="testing")
    with pytest.raises(Exception, match="NoSuchBucket"):
        s3.put_bytes("x.json", b"{}", if_match="0" * 32)


def test_no_direct_requests_behind_a_proxy(monkeypatch: pytest.MonkeyPatch, moto_server: str) -> None:
    """Behind a proxy botocore's own connection handling is kept."""
    monkeypatch.setenv("HTTP_PROXY", "http://127.0.0.1:9")
    monkeypatch.setenv("NO_PROXY", "")
    s3 = S3Storage(bucket="b", endpoint_url="http://s3.example.org", access_key_id="testing", secret_access_key="testing")
    assert DirectRequests.for_client(s3.client, "b") is None


@pytest.fixture(scope="module")
def moto_checking_signatures() -> Iterator[tuple[str, str, str]]:
    """A moto server that checks every S3 request's SigV4 signature against an IAM user's
    key (moto authenticates after its first INITIAL_NO_AUTH_ACTION_COUNT requests: the
    setup). Yields (endpoint, access key id, secret)."""
    import json
    import os
    import socket
    import subprocess
    import sys

    import boto3

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    env = {**os.environ, "INITIAL_NO_AUTH_ACTION_COUNT": "4"}
    server = subprocess.Popen([sys.executable, "-m", "moto.server", "-p", str(port)], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert server.stderr is not None
        for line in server.stderr:  # werkzeug announces the address once it listens
            if "Running on" in line:
                break
        threading.Thread(target=server.stderr.read, daemon=True).start()  # it logs each request: keep the pipe flowing
        url = f"http://127.0.0.1:{port}"
        iam: Any = boto3.client("iam", endpoint_url=url, region_name="us-east-1")  # pyright: ignore[reportUnknownMemberType]
        iam.create_user(UserName="backoffice")
        policy = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}
        iam.put_user_policy(UserName="backoffice", PolicyName="s3", PolicyDocument=json.dumps(policy))
        key = iam.create_access_key(UserName="backoffice")["AccessKey"]
        s3: Any = boto3.client("s3", endpoint_url=url, region_name="us-east-1",  # pyright: ignore[reportUnknownMemberType]
                               aws_access_key_id=key["AccessKeyId"], aws_secret_access_key=key["SecretAccessKey"])
        s3.create_bucket(Bucket="signed-reads")
        yield url, str(key["AccessKeyId"]), str(key["SecretAccessKey"])
    finally:
        server.terminate()
        server.wait()


def test_the_signature_is_one_s3_accepts(moto_checking_signatures: tuple[str, str, str]) -> None:
    """moto checks SigV4 here: our signed writes and reads pass for awkward keys, and with
    a wrong secret the direct read is refused, botocore then reports the refusal."""
    url, key_id, secret = moto_checking_signatures
    good = S3Storage(bucket="signed-reads", prefix="p", endpoint_url=url, access_key_id=key_id, secret_access_key=secret)
    direct = good._direct  # pyright: ignore[reportPrivateUsage]
    assert direct is not None
    for key in ("plain.json", "with space+plus.json", "ünïcode/~tilde=a&b.json"):
        etag = direct.put("p/" + key, key.encode(), if_none_match=True, content_type="application/json")
        assert etag is not None  # accepted, not handed over
        assert direct.get("p/" + key) == (key.encode(), etag)
    bad = S3Storage(bucket="signed-reads", prefix="p", endpoint_url=url, access_key_id=key_id, secret_access_key="wrong")
    assert bad._direct is not None and bad._direct.get("p/plain.json") is None  # pyright: ignore[reportPrivateUsage]
    with pytest.raises(Exception, match="SignatureDoesNotMatch"):
        bad.get("plain.json")

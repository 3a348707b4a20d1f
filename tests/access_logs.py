"""S3 server access log lines in the format AWS documents, written by the suite, and a
scenario of labelled lines: what each line must count as."""

from __future__ import annotations

import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import quote

from backoffice.records.concept import ConceptRecord, ResourceSummary, VersionRecord

OWNER = "79a59df900b949e55d96a1e698fbacedfd6e09d98eacf8f8d5218e7cd47ef2be"
BUCKET = "bioimageio-collection"
UA = {
    "core": "bioimageio.core/0.11.0 python-httpx/0.28.1",
    "spec": "python-httpx/0.28.1",
    "firefox": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
    "deepimagej": "deepimagej/3.1.0 JDLL/0.5.7 (Java 11)",
    "ilastik": "ilastik/1.4.1 python-requests/2.32",
    "curl": "curl/8.5.0",
    "googlebot": "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "ci": "ci",
}


def log_line(*, when: datetime, ip: str, key: str, status: int = 200, ua: str = UA["core"], op: str = "REST.GET.OBJECT",
             bucket: str = BUCKET, size: int = 1000, tz: str = "+0000", sent: int | None = None) -> str:
    """One access log record (fields as AWS documents them, including the newer trailing ones)."""
    method = op.split(".")[1]
    stamp = when.strftime("%d/%b/%Y:%H:%M:%S ") + tz
    enc = quote(key)
    err = "-" if status < 400 else {403: "AccessDenied", 404: "NoSuchKey", 500: "InternalError", 503: "SlowDown"}.get(status, "-")
    if sent is None:
        sent = 0 if status >= 300 else size if status == 200 else size // 2  # a 206: half the object
    sent_field = str(sent) if sent else "-"
    rid = uuid.uuid4().hex[:16].upper()
    ua_field = ua.replace('"', '\\"') if ua else "-"
    return (f'{OWNER} {bucket} [{stamp}] {ip} - {rid} {op} {enc} "{method} /{bucket}/{enc} HTTP/1.1" {status} {err} '
            f'{sent_field} {size} 12 10 "-" "{ua_field}" - {uuid.uuid4().hex}= SigV4 ECDHE-RSA-AES128-GCM-SHA256 - '
            f"{bucket}.s3.eu-west-1.amazonaws.com TLSv1.3 - -")


def record(cid: str, versions: dict[str, list[str]]) -> ConceptRecord:
    """A concept with published versions and their weights files (an empty list: not recorded)."""
    return ConceptRecord(id=cid, type="model", versions={
        v: VersionRecord(version=v, summary=ResourceSummary(name=cid, weight_files=w, covers=["cover.png"], documentation="README.md"))
        for v, w in versions.items()
    })


RECORDS = [
    record("affable-shark", {"1": ["weights.pt", "my weights.onnx"], "2": ["weights.pt"]}),
    record("chatty-frog", {"1": []}),  # published before weight files were recorded: told by suffix
]
D1 = datetime(2026, 3, 1, 10, 0, tzinfo=timezone.utc)
D2 = D1 + timedelta(days=1)


@dataclass(frozen=True)
class Labelled:
    line: str
    outcome: str
    """What the line must count as (`download`, `duplicate`, `bot`, `malformed`, ...)."""
    download: tuple[str, str, str, str] | None = None
    """(concept, version, tool, day) of a counted download."""


def _dl(when: datetime, ip: str, key: str, ua: str, tool: str, status: int = 200, prefix: str = "") -> Labelled:
    cid, version = key.split("/")[:2]
    line = log_line(when=when, ip=ip, key=prefix + key, ua=UA[ua], status=status)
    return Labelled(line, "download", (cid, version, tool, when.date().isoformat()))


def _is(outcome: str, **kw: object) -> Labelled:
    return Labelled(log_line(**kw), outcome)  # type: ignore[arg-type]


def scenario(prefix: str = "") -> list[list[Labelled]]:
    """Three log objects' lines (a requester's repeats cross objects)."""
    s = prefix
    t = D1
    first = [
        _dl(t, "192.0.2.1", "affable-shark/1/files/weights.pt", "core", "bioimageio", prefix=s),
        _is("duplicate", when=t, ip="192.0.2.1", key=s + "affable-shark/1/files/weights.pt", status=206),
        _is("duplicate", when=t, ip="192.0.2.1", key=s + "affable-shark/1/files/my weights.onnx"),  # same version, same day
        _dl(t, "192.0.2.1", "affable-shark/2/files/weights.pt", "core", "bioimageio", prefix=s),
        _is("duplicate", when=t, ip="192.0.2.1", key=s + "affable-shark/1/files/weights.pt", ua=UA["firefox"]),  # another agent: same client
        _dl(t, "198.51.100.2", "affable-shark/1/package.zip", "firefox", "browser", prefix=s),
        _is("not_download", when=t, ip="198.51.100.2", key=s + "affable-shark/1/files/rdf.yaml", ua=UA["firefox"]),
        _is("not_download", when=t, ip="198.51.100.2", key=s + "affable-shark/1/files/cover.png", ua=UA["firefox"]),
        _is("not_download", when=t, ip="198.51.100.2", key=s + "affable-shark/1/files/cover.thumbnail.png", ua=UA["firefox"]),
        _is("not_download", when=t, ip="198.51.100.2", key=s + "affable-shark/1/files/README.md", ua=UA["firefox"]),
        _is("not_download", when=t, ip="198.51.100.2", key=s + "affable-shark/drafts/tok/files/weights.pt"),
        _is("not_download", when=t, ip="198.51.100.2", key=s + "affable-shark/9/files/weights.pt"),
        _is("not_download", when=t, ip="198.51.100.2", key=s + "collection.json"),
        "garbage that is not a log line",
    ]
    second = [
        _dl(t, "203.0.113.3", "chatty-frog/1/files/weights.h5", "deepimagej", "deepimagej", status=206, prefix=s),
        _is("not_download", when=t, ip="203.0.113.3", key=s + "chatty-frog/1/files/test_input.npy", ua=UA["deepimagej"]),
        _dl(t, "203.0.113.4", "affable-shark/2/files/weights.pt", "ilastik", "ilastik", prefix=s),
        _dl(t, "203.0.113.5", "chatty-frog/1/files/weights.h5", "curl", "other", prefix=s),
        _dl(t, "203.0.113.6", "affable-shark/1/files/my weights.onnx", "spec", "bioimageio", prefix=s),  # URL-encoded key
        _is("bot", when=t, ip="66.249.66.1", key=s + "affable-shark/1/files/weights.pt", ua=UA["googlebot"]),
        _is("bot", when=t, ip="203.0.113.7", key=s + "affable-shark/1/files/weights.pt", ua=UA["ci"]),
        _is("failed", when=t, ip="203.0.113.8", key=s + "affable-shark/1/files/weights.pt", status=403),
        _is("failed", when=t, ip="203.0.113.8", key=s + "affable-shark/1/files/weights.pt", status=404),
        _is("failed", when=t, ip="203.0.113.8", key=s + "affable-shark/1/files/weights.pt", status=500),
        _is("failed", when=t, ip="203.0.113.8", key=s + "affable-shark/1/files/weights.pt", status=304),
        _is("other_request", when=t, ip="203.0.113.8", key=s + "affable-shark/1/files/weights.pt", op="REST.HEAD.OBJECT"),
        _is("other_request", when=t, ip="203.0.113.8", key=s + "affable-shark/1/files/weights.pt", op="REST.PUT.OBJECT"),
        _is("other_bucket", when=t, ip="203.0.113.8", key=s + "affable-shark/1/files/weights.pt", bucket="another-bucket"),
    ]
    second += [Labelled(x, "malformed") for x in (
        second[0].line[:120],  # cut off
        second[0].line.replace("[01/Mar/2026", "[41/Xyz/2026"),  # no date
        second[0].line.replace('HTTP/1.1" 206 ', 'HTTP/1.1" abc '),  # no status
    )]
    third = [
        _is("partial", when=t, ip="203.0.113.10", key=s + "affable-shark/2/files/weights.pt", status=206, sent=300),  # 30 % of it
        _is("partial", when=t, ip="203.0.113.10", key=s + "affable-shark/2/package.zip", status=206, sent=300),  # another object
        _dl(t, "203.0.113.10", "affable-shark/2/files/weights.pt", "curl", "other", status=206, prefix=s),  # +50 %: 80 % of it
        _is("duplicate", when=t + timedelta(hours=5), ip="192.0.2.1", key=s + "affable-shark/1/files/weights.pt"),  # again, another object
        _dl(D2, "192.0.2.1", "affable-shark/1/files/weights.pt", "core", "bioimageio", prefix=s),  # the next day counts again
        Labelled(log_line(when=t.replace(hour=23, minute=30), tz="-0200", ip="203.0.113.9", key=s + "chatty-frog/1/files/weights.h5",
                          ua=UA["ilastik"]), "download", ("chatty-frog", "1", "ilastik", D2.date().isoformat())),  # 01:30 UTC next day
    ]
    return [[x if isinstance(x, Labelled) else Labelled(x, "malformed") for x in part] for part in (first, second, third)]


def object_names(prefix: str = "access-logs/") -> list[str]:
    return [f"{prefix}2026-03-0{i + 1}-11-00-00-{uuid.uuid4().hex[:16].upper()}" for i in range(3)]


def expected(parts: list[list[Labelled]]) -> dict[str, object]:
    """The counts the labels say: outcomes, per concept, version, tool and day."""
    lines = [x for p in parts for x in p]
    downloads = [x.download for x in lines if x.download]
    return {
        "outcomes": Counter(x.outcome for x in lines),
        "concepts": Counter(d[0] for d in downloads),
        "versions": Counter((d[0], d[1]) for d in downloads),
        "tools": Counter((d[0], d[2]) for d in downloads),
        "days": Counter((d[0], d[3]) for d in downloads),
    }

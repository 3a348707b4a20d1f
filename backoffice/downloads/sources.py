"""Where access logs are read from: local files or folders, or an S3 prefix
(`s3://<bucket>/<prefix>`, with the S3 settings' endpoint and keys). Log objects are
read as streams of lines, oldest first."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

from ..errors import ConfigError, NotFoundError
from ..settings import Settings
from ..storage.base import Storage
from ..storage.local import INTERNAL
from .tally import stamp_of

MAX_LINE = 1024 * 1024
"""Longer lines are cut (and then fail to parse: counted as malformed)."""


@dataclass(frozen=True)
class LogObject:
    """One log object: its name in the ledger and how to open it."""

    name: str
    """`s3://<bucket>/<key>` or an absolute local path."""
    open: Callable[[], BinaryIO]


def iter_lines(stream: BinaryIO, chunk: int = 1024 * 1024) -> Iterator[str]:
    """The lines of a stream (without line ends), decoded as UTF-8 (bad bytes replaced)."""
    rest = b""
    while True:
        data = stream.read(chunk)
        if not data:
            break
        lines = (rest + data).split(b"\n")
        rest = lines.pop()
        if len(rest) > MAX_LINE:
            rest = rest[:MAX_LINE]
        for line in lines:
            yield line.rstrip(b"\r").decode("utf-8", "replace")
    if rest.strip():
        yield rest.rstrip(b"\r").decode("utf-8", "replace")


def _local(path: Path) -> list[LogObject]:
    if path.is_file():
        files = [path]
    elif path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith("."))
    else:
        raise NotFoundError(f"no log file or folder {path}")
    return [LogObject(name=str(p.resolve()), open=lambda p=p: p.open("rb")) for p in files]


def s3_storage(settings: Settings, bucket: str, prefix: str = "") -> Storage:
    from ..storage.s3 import S3Storage

    return S3Storage(
        bucket=bucket,
        prefix=prefix,
        endpoint_url=settings.s3_endpoint_url,
        region=settings.s3_region,
        access_key_id=settings.s3_access_key_id.get_secret_value() if settings.s3_access_key_id else None,
        secret_access_key=settings.s3_secret_access_key.get_secret_value() if settings.s3_secret_access_key else None,
    )


def _s3(settings: Settings, url: str) -> list[LogObject]:
    bucket, _, prefix = url[len("s3://"):].partition("/")
    if not bucket:
        raise NotFoundError(f"no bucket in {url!r} (expected s3://<bucket>/<prefix>)")
    storage = s3_storage(settings, bucket)
    found = [info.key for info in storage.list(prefix)]
    if not found:
        raise NotFoundError(f"no log objects under {url}")
    return [LogObject(name=f"s3://{bucket}/{k}", open=lambda k=k: storage.open(k)) for k in found]


def check_private(settings: Settings, source: str, what: str = "access logs") -> None:
    """Refuse a place inside the collection's own storage for access logs or counting state:
    its keys are public (served under the bucket URL, or by `backoffice serve`), and access
    logs hold every requester's address. The local store's internal folder is not served."""
    if source.startswith("s3://"):
        inside = source[len("s3://"):].partition("/")[0] == settings.s3_bucket
    else:
        root, path = settings.local_root.resolve(), Path(source).resolve()
        internal = root / INTERNAL
        inside = (settings.storage == "local" and (path == root or root in path.parents)
                  and not (path == internal or internal in path.parents))
    if inside:
        raise ConfigError(f"{what} at {source} would be inside the collection's public storage, where every requester's "
                          "address or pseudonym would be readable: use a private bucket or folder")


def resolve_sources(settings: Settings, sources: list[str]) -> list[LogObject]:
    """Every log object of the given sources, oldest first (duplicates once): by the date in
    an AWS-style name, then by name. Across several sources or dated folders, name order
    could read a newer object before an older one, and the ledger's watermark (see
    `tally.py`) would then pass over the older one unread.
    A source that names nothing is an error before anything is read."""
    out: dict[str, LogObject] = {}
    for source in sources:
        check_private(settings, source)
    for source in sources:
        objects = _s3(settings, source) if source.startswith("s3://") else _local(Path(source))
        out.update((o.name, o) for o in objects)
    return [out[name] for name in sorted(out, key=lambda n: (stamp_of(n) or "", n))]

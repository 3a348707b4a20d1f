"""One line of an S3 server access log, in the format AWS documents (space-separated
fields; `[time]` in brackets; Request-URI, Referer and User-Agent in double quotes; `-`
for an empty field; newer fields appended at the end). S3-compatible stores (Ceph RGW,
MinIO) write the same layout.

Only the fields counting needs are kept. A line that does not fit is not an error: its
reason (one of `SKIP_REASONS`) is returned instead, and the caller skips and counts it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from functools import lru_cache
from urllib.parse import unquote

_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
"""A quoted field (`\\"` escapes a quote), matched without backtracking per character."""
LINE = re.compile(
    r"[^ ]+ ([^ ]+) \[([^\]]+)\] ([^ ]+) [^ ]+ [^ ]+ ([^ ]+) ([^ ]+) "  # owner BUCKET [TIME] IP requester request-id OPERATION KEY
    + _STRING + r" ([^ ]+) [^ ]+ ([^ ]+) ([^ ]+) [^ ]+ [^ ]+ "  # "request-uri" STATUS error BYTES-SENT OBJECT-SIZE total turnaround
    + _STRING + ' "(' + _STRING[1:-1] + ')"'  # "referer" "USER-AGENT"
    + r"(?: |$)"  # then version id, host id, signature, cipher, auth, host, TLS, ARN, ACL, ... (not read)
)
MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}
SKIP_REASONS: dict[str, str] = {
    "format": "not in the access log format",
    "date": "no valid date",
    "status": "no numeric status",
    "size": "bytes sent or object size not a number",
    "future": "a date after the day of the run",
    "field": "a field that cannot be read",
}
"""Why a line is skipped (key -> what the run's output says)."""


@dataclass(frozen=True, slots=True)
class AccessLine:
    """The fields of one request that counting needs."""

    bucket: str
    day: str
    """UTC day of the request, `YYYY-MM-DD`."""
    remote_ip: str
    operation: str
    """e.g. `REST.GET.OBJECT`."""
    key: str
    """Object key, URL-decoded ('' if none)."""
    status: int
    bytes_sent: int
    """Bytes of the object sent in this answer (0 if none)."""
    object_size: int | None
    """Size of the whole object (None if the log does not give it)."""
    user_agent: str


@lru_cache(maxsize=1024)
def _calendar_day(text: str) -> str | None:
    """`06/Feb/2019` -> `2019-02-06` if it is a day of the calendar (not `32/Feb/2026`)."""
    month = MONTHS.get(text[3:6])
    day, year = text[0:2], text[7:11]
    if month is None or not (day.isdigit() and year.isdigit()):
        return None
    try:
        return date(int(year), month, int(day)).isoformat()
    except ValueError:
        return None


def utc_day(stamp: str) -> str | None:
    """`06/Feb/2019:00:00:38 +0000` -> `2019-02-06` (other offsets converted to UTC); None if
    the stamp is not a real time (`32/Feb/2026`, hour 25, ...)."""
    if len(stamp) != 26 or stamp[2] != "/" or stamp[6] != "/" or stamp[11] != ":":
        return None
    day = _calendar_day(stamp[:11])
    if day is None:
        return None
    if stamp[21:] == "+0000":
        return day
    try:
        when = datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z")
        utc = when - (when.utcoffset() or timedelta(0))
    except (ValueError, OverflowError):
        return None
    return utc.strftime("%Y-%m-%d")


def _count(field: str) -> int | None:
    """A byte count field as a number; None if it is not one."""
    return int(field) if field.isdigit() and len(field) <= 18 else None


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\") if "\\" in value else value


def parse_line(line: str) -> AccessLine | str:
    """The request of one log line, or why it is skipped (a key of `SKIP_REASONS`)."""
    m = LINE.match(line)
    if m is None:
        return "format"
    bucket, stamp, ip, operation, key, status, sent, size, agent = m.groups()
    day = utc_day(stamp)
    if day is None:
        return "date"
    if not status.isdigit() or len(status) > 3:
        return "status"
    bytes_sent = 0 if sent == "-" else _count(sent)
    object_size = None if size == "-" else _count(size)
    if bytes_sent is None or (object_size is None and size != "-"):
        return "size"
    return AccessLine(
        bucket=bucket,
        day=day,
        remote_ip=ip,
        operation=operation,
        key="" if key == "-" else unquote(key),
        status=int(status),
        bytes_sent=bytes_sent,
        object_size=object_size,
        user_agent="" if agent == "-" else _unescape(agent),
    )

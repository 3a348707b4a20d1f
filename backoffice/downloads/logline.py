"""One line of an S3 server access log, in the format AWS documents (space-separated
fields; `[time]` in brackets; Request-URI, Referer and User-Agent in double quotes; `-`
for an empty field; newer fields appended at the end). S3-compatible stores (Ceph RGW,
MinIO) write the same layout.

Only the fields counting needs are kept. A line that does not fit is `None`: the caller
counts it as malformed and goes on.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from urllib.parse import unquote

_STRING = r'"[^"\\]*(?:\\.[^"\\]*)*"'
"""A quoted field (`\\"` escapes a quote), matched without backtracking per character."""
LINE = re.compile(
    r"[^ ]+ ([^ ]+) \[([^\]]+)\] ([^ ]+) [^ ]+ [^ ]+ ([^ ]+) ([^ ]+) "  # owner BUCKET [TIME] IP requester request-id OPERATION KEY
    + _STRING + r" ([^ ]+) [^ ]+ [^ ]+ [^ ]+ [^ ]+ [^ ]+ "  # "request-uri" STATUS error bytes size total turnaround
    + _STRING + ' "(' + _STRING[1:-1] + ')"'  # "referer" "USER-AGENT"
    + r"(?: |$)"  # then version id, host id, signature, cipher, auth, host, TLS, ARN, ACL, ... (not read)
)
MONTHS = {m: i + 1 for i, m in enumerate("Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split())}


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
    user_agent: str


def utc_day(stamp: str) -> str | None:
    """`06/Feb/2019:00:00:38 +0000` -> `2019-02-06` (other offsets converted to UTC)."""
    if len(stamp) != 26 or stamp[2] != "/" or stamp[6] != "/" or stamp[11] != ":":
        return None
    month = MONTHS.get(stamp[3:6])
    day, year, offset = stamp[0:2], stamp[7:11], stamp[21:]
    if month is None or not (day.isdigit() and year.isdigit()):
        return None
    if offset == "+0000":
        return f"{year}-{month:02d}-{day}"
    try:
        when = datetime.strptime(stamp, "%d/%b/%Y:%H:%M:%S %z")
    except ValueError:
        return None
    utc = when - (when.utcoffset() or timedelta(0))
    return utc.strftime("%Y-%m-%d")


def _unescape(value: str) -> str:
    return value.replace('\\"', '"').replace("\\\\", "\\") if "\\" in value else value


def parse_line(line: str) -> AccessLine | None:
    """The request of one log line, or None if the line is not in the format."""
    m = LINE.match(line)
    if m is None:
        return None
    bucket, stamp, ip, operation, key, status, agent = m.groups()
    day = utc_day(stamp)
    if day is None or not status.isdigit():
        return None
    return AccessLine(
        bucket=bucket,
        day=day,
        remote_ip=ip,
        operation=operation,
        key="" if key == "-" else unquote(key),
        status=int(status),
        user_agent="" if agent == "-" else _unescape(agent),
    )

"""When to try a Zenodo request again: pure functions, tested on their own."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with a bounded give-up time.

    The clock starts at the first failure of a request; once the next wait would end
    after `give_up_after` seconds from then, the request is given up."""

    give_up_after: float = 600.0
    """Seconds from the first failure after which no further attempt starts."""
    backoff: float = 1.0
    """Wait after the first failure (doubled after each further one)."""
    max_backoff: float = 60.0
    """Longest wait between two attempts unless the server asks for more (Retry-After)."""


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds a `Retry-After` header asks for (delta-seconds or an HTTP date); None if absent or unreadable."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def next_wait(policy: RetryPolicy, attempt: int, retry_after: float | None) -> float:
    """How long to wait before attempt `attempt + 1` (attempt 0 is the first failure).

    The server's Retry-After wins over our own backoff when it asks for longer."""
    own = min(policy.max_backoff, policy.backoff * (2**attempt))
    return max(own, retry_after) if retry_after is not None else own


def should_give_up(policy: RetryPolicy, first_failure: float, now: float, wait: float) -> bool:
    """Whether waiting `wait` seconds more would go past the give-up time."""
    return now + wait > first_failure + policy.give_up_after

"""When to try a webhook delivery again (Standard Webhooks 1.0, "Deliverability").

The default schedule is the spec's example: immediately, then after 5 s, 5 min, 30 min, 2 h,
5 h, 10 h, 14 h, 20 h and 24 h -- ten attempts over about 75 hours -- with random jitter so
that endpoints that failed together are not retried together. After the last attempt the
delivery is dead-lettered.

How a response is judged (spec, "Delivery success and failure"):

* ``2xx`` -- delivered.
* ``410 Gone`` -- the receiver wants no more webhooks: disable the endpoint, stop retrying.
* every other status -- a failure, retried on the schedule. This includes ``3xx`` (redirects
  are never followed; the organisation must update the URL), ``429``, ``5xx`` and the other
  ``4xx``. The spec counts all of them as failures and a ``400``/``401``/``404`` is often a
  receiver being (re)deployed or misconfigured for a while; the schedule is finite, so a
  permanently wrong endpoint ends in the dead-letter state rather than being retried forever.
* no response (timeout, connection refused/reset, TLS or protocol error, or an address that
  the SSRF guard refused at delivery time) -- retried on the schedule.

A ``Retry-After`` header (delta-seconds or HTTP-date) can only lengthen the next delay, never
shorten it, and is capped (default 24 h).

Example::

    policy = RetryPolicy()
    outcome = classify_response(503, None)            # Outcome.RETRY
    delay = policy.next_delay(attempts_made, retry_after=parse_retry_after(header, now))
    if delay is None: ...                             # dead-letter
"""

from __future__ import annotations

import enum
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

STANDARD_WEBHOOKS_SCHEDULE: tuple[float, ...] = (
    0.0,
    5.0,
    5 * 60.0,
    30 * 60.0,
    2 * 3600.0,
    5 * 3600.0,
    10 * 3600.0,
    14 * 3600.0,
    20 * 3600.0,
    24 * 3600.0,
)
"""Delay before attempt 1, 2, ... 10, in seconds."""

MAX_RETRY_AFTER_SECONDS = 24 * 3600.0


class Outcome(enum.Enum):
    """What to do after an attempt."""

    DELIVERED = "delivered"
    RETRY = "retry"
    """Failed; schedule the next attempt (or dead-letter when the schedule is exhausted)."""
    DISABLE_ENDPOINT = "disable-endpoint"


class ErrorKind(enum.Enum):
    """Why an attempt produced no HTTP response."""

    TIMEOUT = "timeout"
    CONNECTION = "connection"
    PROTOCOL = "protocol"
    UNSAFE_ADDRESS = "unsafe-address"


def classify_response(status: int | None, error: ErrorKind | None = None) -> Outcome:
    """Judge one attempt by its status code, or by ``error`` when there was no response."""
    if status is None:
        if error is None:
            raise ValueError("an attempt has either a status or an error")
        return Outcome.RETRY
    if not 100 <= status <= 599:
        raise ValueError("not an HTTP status code")
    if 200 <= status <= 299:
        return Outcome.DELIVERED
    if status == 410:
        return Outcome.DISABLE_ENDPOINT
    return Outcome.RETRY


@dataclass(frozen=True, kw_only=True)
class RetryPolicy:
    """A retry schedule with multiplicative jitter.

    ``schedule[n]`` is the nominal delay before attempt ``n + 1``; the delay used is
    ``schedule[n] * (1 + u)`` with ``u`` uniform in ``[-jitter, +jitter]`` drawn from ``rng``.
    """

    schedule: tuple[float, ...] = STANDARD_WEBHOOKS_SCHEDULE
    jitter: float = 0.1
    rng: random.Random = field(default_factory=random.SystemRandom, compare=False, repr=False)

    def __post_init__(self) -> None:
        if not self.schedule:
            raise ValueError("the schedule needs at least one attempt")
        if any(delay < 0 for delay in self.schedule):
            raise ValueError("delays cannot be negative")
        if not 0.0 <= self.jitter < 1.0:
            raise ValueError("jitter is a fraction in [0, 1)")

    @property
    def max_attempts(self) -> int:
        return len(self.schedule)

    def next_delay(self, attempts_made: int, *, retry_after: float | None = None) -> float | None:
        """Seconds to wait before the next attempt, or ``None`` to dead-letter.

        ``attempts_made`` is how many attempts have already been made (0 before the first).
        ``retry_after`` (from :func:`parse_retry_after`) raises the delay to at least that.
        """
        if attempts_made < 0:
            raise ValueError("attempts_made cannot be negative")
        if attempts_made >= len(self.schedule):
            return None
        nominal = self.schedule[attempts_made]
        delay = nominal * (1.0 + self.rng.uniform(-self.jitter, self.jitter))
        if retry_after is not None:
            delay = max(delay, min(retry_after, MAX_RETRY_AFTER_SECONDS))
        return delay


def parse_retry_after(
    value: str | None, now: datetime, *, max_seconds: float = MAX_RETRY_AFTER_SECONDS
) -> float | None:
    """Parse a ``Retry-After`` value (RFC 9110 §10.2.3) into seconds from ``now``.

    Accepts delta-seconds (ASCII digits) and an HTTP-date; a date in the past gives ``0.0``.
    The result is capped at ``max_seconds``. Anything else (empty, negative, fractional,
    garbage) gives ``None``: the header is then ignored.
    """
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        digits = text.lstrip("0") or "0"
        if len(digits) > 15:  # far beyond any cap; avoid huge-int parsing
            return max_seconds
        return min(float(int(digits)), max_seconds)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)  # HTTP-dates are always GMT
    seconds = (when - now).total_seconds()
    return min(max(seconds, 0.0), max_seconds)

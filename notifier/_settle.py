"""What one attempt does to its message: the state machine that webhook messages and e-mail
alerts share (pending until delivered, dead-lettered or superseded)."""

from __future__ import annotations

from datetime import datetime, timedelta

from notifier._alerts import AlertMessage
from notifier._models import WebhookMessage
from notifier._retry import RetryPolicy

PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"


def settle(
    message: WebhookMessage | AlertMessage,
    *,
    worker: str,
    delivered: bool,
    give_up: bool,
    policy: RetryPolicy,
    now: datetime,
    retry_after: float | None = None,
) -> tuple[str, datetime | None]:
    """Record an attempt's result on ``message`` (locked by the caller); returns the attempt's
    outcome (delivered, retry, dead or superseded) and the next attempt's time, if any.

    ``give_up``: the failure is permanent (dead now, whatever the schedule says)."""
    if message.status != PENDING:
        return "superseded", None  # delivered or dead-lettered by another attempt
    if delivered:
        message.status = DELIVERED
        message.delivered_at = now
        return "delivered", None
    if message.claimed_by not in (worker, None):
        return "superseded", None  # our lease expired and another worker took over
    if give_up:
        message.status = DEAD
        return "dead", None
    message.round_attempts += 1
    delay = policy.next_delay(message.round_attempts, retry_after=retry_after)
    if delay is None:
        message.status = DEAD
        return "dead", None
    next_attempt = now + timedelta(seconds=delay)
    message.next_attempt_at = next_attempt
    return "retry", next_attempt


def release(message: WebhookMessage | AlertMessage, *, worker: str) -> bool:
    """Give up ``worker``'s lease on ``message``; False when another worker holds it now."""
    if message.claimed_by not in (worker, None):  # None: redelivered by hand meanwhile
        return False
    message.claimed_until = None
    message.claimed_by = None
    return True

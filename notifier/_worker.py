"""The delivery worker: claims due messages, signs and POSTs them, records each attempt.

Claiming
    A message is *due* when it is pending, its ``next_attempt_at`` has passed, it is not
    leased (``claimed_until`` empty or past), its endpoint is enabled, no earlier message
    (lower ``seq``) of the same match for the same endpoint is still pending (ordering), and
    the endpoint has no delivery in flight (its ``busy_until`` lease: one delivery per
    endpoint at a time, so a slow endpoint only ever ties up itself). A claim leases the
    message and its endpoint; a worker that dies mid-delivery leaves leases that expire, and
    the message is claimed again: delivery is *at least once* and receivers de-duplicate on
    ``webhook-id``.

    PostgreSQL: the endpoints are locked ``FOR UPDATE SKIP LOCKED`` and the message rows
    ``FOR UPDATE OF webhook_messages SKIP LOCKED`` in the claim transaction, so any number of
    workers in any number of processes claim disjoint work. SQLite: the claim transaction
    begins with ``BEGIN IMMEDIATE`` (one writer at a time), which makes the claim atomic
    across processes; run one worker per database.

Concurrency
    Up to ``max_concurrency`` deliveries run at once, each to a different endpoint. A delivery
    that finishes wakes the loop, which claims the endpoint's next message at once.

Waking
    :meth:`DeliveryWorker.wake` (called after a commit that enqueued events) makes the loop
    claim immediately; otherwise it sleeps until the earliest scheduled attempt or the poll
    interval, whichever comes first.

Example::

    worker = DeliveryWorker(transaction=db.transaction, box=box, config=WorkerConfig(
        allow_http=False, allow_private=False))
    task = asyncio.create_task(worker.run())
    ...
    worker.wake()          # after committing a change that enqueued events
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import httpx
import structlog
from sqlalchemy import Select, and_, bindparam, exists, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from crypto import parse_ed25519_signing_key, parse_webhook_secret, signature_header
from notifier._db import UTCDateTime
from notifier._models import DeliveryAttempt, MessageStatus, WebhookEndpoint, WebhookMessage
from notifier._retry import ErrorKind, Outcome, RetryPolicy, classify_response, parse_retry_after
from notifier._sealing import SealedSecretError, SecretBox
from notifier._settle import release, settle
from notifier._ssrf import UnsafeWebhookURL
from notifier._transport import DEFAULT_TIMEOUT_SECONDS, build_webhook_client, classify_exception

TransactionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Now = Callable[[], datetime]

USER_AGENT = "verwijsindex-webhooks/1"
DISABLED_GONE = "gone"
"""``disabled_reason`` when a receiver answered 410 Gone."""
DISABLED_SECRET_UNREADABLE = "secret-unreadable"  # noqa: S105 -- a reason code, not a secret
"""``disabled_reason`` when the endpoint's sealed secret cannot be opened with the keys held."""

log = structlog.get_logger("notifier.worker")


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class WorkerConfig:
    allow_http: bool
    allow_private: bool
    allow_loopback: bool = False
    timeout_seconds: float = DEFAULT_TIMEOUT_SECONDS
    poll_interval_seconds: float = 1.0
    lease_seconds: float = DEFAULT_TIMEOUT_SECONDS + 15.0
    max_concurrency: int = 32
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.lease_seconds <= self.timeout_seconds:
            raise ValueError("the lease must outlast the request timeout")
        if self.max_concurrency < 1 or self.poll_interval_seconds <= 0:
            raise ValueError("max_concurrency and poll_interval_seconds must be positive")


def secret_context(endpoint_id: str, column: str) -> str:
    """Associated data that binds a sealed value to its endpoint and column."""
    return f"webhook-endpoint:{endpoint_id}:{column}"


@dataclass(frozen=True, kw_only=True)
class _Job:
    seq: int
    public_id: str
    endpoint_id: str
    url: str
    payload: bytes
    secrets: list[bytes]
    signing_keys: list[str]
    round_attempts: int


class DeliveryWorker:
    """Delivers webhook messages until cancelled. See the module docstring."""

    def __init__(
        self,
        *,
        transaction: TransactionFactory,
        box: SecretBox,
        config: WorkerConfig,
        client: httpx.AsyncClient | None = None,
        name: str | None = None,
        now: Now = _utcnow,
        on_attempt: Callable[[str, float], None] | None = None,
    ) -> None:
        self._on_attempt = on_attempt
        """Told each recorded attempt's result and latency in seconds (operators' metrics)."""
        self._transaction = transaction
        self._box = box
        self._config = config
        self._client = client
        self._owns_client = client is None
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._now = now
        self._wake = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._busy: set[str] = set()
        self._log = log.bind(worker=self.name)
        self._due = self._due_query(restricted=False)
        self._due_locked = self._due_query(restricted=True).with_for_update(
            of=WebhookMessage, skip_locked=True
        )

    def wake(self) -> None:
        """Claim now: call after committing a transaction that enqueued events."""
        self._wake.set()

    # --- the loop ------------------------------------------------------------------------

    async def run(self) -> None:
        """Deliver until cancelled; in-flight deliveries are cancelled with it (their leases
        expire and they are retried)."""
        client = self._client or build_webhook_client(
            allow_http=self._config.allow_http,
            allow_private=self._config.allow_private,
            allow_loopback=self._config.allow_loopback,
            timeout=self._config.timeout_seconds,
        )
        self._client = client
        self._log.info("webhook_worker_started")
        try:
            while True:
                self._wake.clear()
                wait = self._config.poll_interval_seconds
                capacity = self._config.max_concurrency - len(self._tasks)
                claimed = 0
                if capacity > 0:
                    try:
                        jobs, next_due = await self._claim(capacity)
                    except asyncio.CancelledError:
                        raise
                    except Exception as exc:
                        self._log.error("webhook_claim_failed", error_type=type(exc).__name__)
                        jobs, next_due = [], None
                    for job in jobs:
                        self._start(job)
                    claimed = len(jobs)
                    if next_due is not None:
                        until = (next_due - self._now()).total_seconds()
                        wait = min(wait, max(until, 0.0))
                if claimed and claimed == capacity:
                    continue  # there may be more due work; claim again when a slot frees
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
        finally:
            for task in list(self._tasks):
                task.cancel()
            for task in list(self._tasks):
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if self._owns_client:
                await client.aclose()
                self._client = None
            self._log.info("webhook_worker_stopped")

    def _start(self, job: _Job) -> None:
        self._busy.add(job.endpoint_id)
        task = asyncio.create_task(self._deliver(job), name=f"webhook-{job.public_id}")
        self._tasks.add(task)

        def done(finished: asyncio.Task[None]) -> None:
            self._tasks.discard(finished)
            self._busy.discard(job.endpoint_id)
            self._wake.set()

        task.add_done_callback(done)

    # --- claiming ------------------------------------------------------------------------

    def _due_query(self, *, restricted: bool) -> Select[WebhookMessage, WebhookEndpoint]:
        """Due messages, oldest first; ``:now`` bound at run time (built once, reused).

        ``restricted`` adds ``endpoint_id IN :endpoints`` (PostgreSQL's second pass over the
        endpoints it managed to lock).
        """
        m = WebhookMessage
        earlier = aliased(WebhookMessage)
        now = bindparam("now", type_=UTCDateTime())
        conditions = [
            m.status == MessageStatus.PENDING,
            m.next_attempt_at <= now,
            or_(m.claimed_until.is_(None), m.claimed_until <= now),
            WebhookEndpoint.enabled.is_(True),
            ~exists().where(
                and_(
                    earlier.endpoint_id == m.endpoint_id,
                    earlier.ordering_key == m.ordering_key,
                    earlier.status == MessageStatus.PENDING,
                    earlier.seq < m.seq,
                )
            ),
            or_(WebhookEndpoint.busy_until.is_(None), WebhookEndpoint.busy_until <= now),
        ]
        if restricted:
            conditions.append(m.endpoint_id.in_(bindparam("endpoints", expanding=True)))
        return (
            select(m, WebhookEndpoint)
            .join(WebhookEndpoint, WebhookEndpoint.id == m.endpoint_id)
            .where(*conditions)
            .order_by(m.seq)
            .limit(4 * self._config.max_concurrency)
        )

    async def _claim(self, capacity: int) -> tuple[list[_Job], datetime | None]:
        now = self._now()
        async with self._transaction() as session:
            postgres = session.get_bind().dialect.name == "postgresql"
            rows = (await session.execute(self._due, {"now": now})).all()
            if postgres and rows:
                wanted = list(dict.fromkeys(row[0].endpoint_id for row in rows))
                locked = list(
                    (
                        await session.scalars(
                            select(WebhookEndpoint.id)
                            .where(WebhookEndpoint.id.in_(wanted))
                            .with_for_update(skip_locked=True)
                        )
                    ).all()
                )
                rows = (
                    (
                        await session.execute(self._due_locked, {"now": now, "endpoints": locked})
                    ).all()
                    if locked
                    else []
                )
            chosen: dict[str, tuple[WebhookMessage, WebhookEndpoint]] = {}
            for message, endpoint in rows:
                if message.endpoint_id in chosen or message.endpoint_id in self._busy:
                    continue
                if len(chosen) < capacity:
                    chosen[message.endpoint_id] = (message, endpoint)
            jobs: list[_Job] = []
            if chosen:
                lease = now + timedelta(seconds=self._config.lease_seconds)
                await session.execute(
                    update(WebhookMessage)
                    .where(WebhookMessage.seq.in_([m.seq for m, _ in chosen.values()]))
                    .values(claimed_until=lease, claimed_by=self.name)
                )
                await session.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id.in_(list(chosen)))
                    .values(busy_until=lease)
                )
                for message, endpoint in chosen.values():
                    try:
                        jobs.append(self._job(message, endpoint, now))
                    except (SealedSecretError, ValueError) as exc:
                        # A secret that no longer opens (key material lost or replaced) must
                        # not stall every other endpoint: disable this one, visibly.
                        self._log.error(
                            "webhook_secret_unreadable",
                            endpoint_id=endpoint.id,
                            error_type=type(exc).__name__,
                        )
                        endpoint.enabled = False
                        endpoint.disabled_reason = DISABLED_SECRET_UNREADABLE
                        endpoint.busy_until = None
                        message.claimed_until = None
                        message.claimed_by = None
            next_due = None
            if not jobs and not self._tasks:
                # Idle: sleep until the earliest scheduled retry (or the poll interval).
                # While deliveries run, each one that finishes wakes the loop anyway.
                next_due = await session.scalar(
                    select(func.min(WebhookMessage.next_attempt_at)).where(
                        WebhookMessage.status == MessageStatus.PENDING,
                        WebhookMessage.next_attempt_at > now,
                    )
                )
        return jobs, next_due

    def _job(self, message: WebhookMessage, endpoint: WebhookEndpoint, now: datetime) -> _Job:
        secrets = [
            parse_webhook_secret(
                self._box.open(
                    endpoint.secret_sealed, context=secret_context(endpoint.id, "secret")
                )
            )
        ]
        if (
            endpoint.previous_secret_sealed is not None
            and endpoint.previous_secret_expires_at is not None
            and endpoint.previous_secret_expires_at > now
        ):
            secrets.append(
                parse_webhook_secret(
                    self._box.open(
                        endpoint.previous_secret_sealed,
                        context=secret_context(endpoint.id, "previous_secret"),
                    )
                )
            )
        signing_keys = []
        if endpoint.signing_key_sealed is not None:
            signing_keys.append(
                self._box.open(
                    endpoint.signing_key_sealed, context=secret_context(endpoint.id, "signing_key")
                )
            )
        return _Job(
            seq=message.seq,
            public_id=message.public_id,
            endpoint_id=endpoint.id,
            url=endpoint.url,
            payload=message.payload.encode("utf-8"),
            secrets=secrets,
            signing_keys=signing_keys,
            round_attempts=message.round_attempts,
        )

    # --- delivering ----------------------------------------------------------------------

    async def _deliver(self, job: _Job) -> None:
        assert self._client is not None
        timestamp = int(time.time())
        headers = {
            "content-type": "application/json",
            "user-agent": USER_AGENT,
            "webhook-id": job.public_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(
                msg_id=job.public_id,
                timestamp=timestamp,
                body=job.payload,
                secrets=job.secrets,
                ed25519_keys=[parse_ed25519_signing_key(k) for k in job.signing_keys],
            ),
        }
        attempted_at = self._now()
        started = time.perf_counter()
        status: int | None = None
        error: ErrorKind | None = None
        retry_after: float | None = None
        try:
            async with self._client.stream(
                "POST", job.url, content=job.payload, headers=headers
            ) as response:
                status = response.status_code
                retry_after = parse_retry_after(response.headers.get("retry-after"), self._now())
        except (httpx.HTTPError, UnsafeWebhookURL) as exc:
            error = classify_exception(exc) or ErrorKind.PROTOCOL
        latency_ms = round((time.perf_counter() - started) * 1000)
        outcome = classify_response(status, error)
        try:
            await self._record(
                job,
                attempted_at=attempted_at,
                status=status,
                error=error,
                retry_after=retry_after,
                latency_ms=latency_ms,
                outcome=outcome,
            )
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The lease expires and the message is tried again: at least once.
            self._log.error(
                "webhook_record_failed", message_id=job.public_id, error_type=type(exc).__name__
            )

    async def _record(
        self,
        job: _Job,
        *,
        attempted_at: datetime,
        status: int | None,
        error: ErrorKind | None,
        retry_after: float | None,
        latency_ms: int,
        outcome: Outcome,
    ) -> None:
        now = self._now()
        async with self._transaction() as session:
            query = select(WebhookMessage).where(WebhookMessage.seq == job.seq)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update()
            message = await session.scalar(query)
            if message is None:  # the endpoint was deleted meanwhile
                return
            message.attempts += 1
            message.last_status_code = status
            message.last_error = error.value if error is not None else None
            message.last_attempt_at = attempted_at
            if (
                outcome is Outcome.DISABLE_ENDPOINT
                and message.status == MessageStatus.PENDING
                and message.claimed_by in (self.name, None)
            ):
                await session.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == job.endpoint_id)
                    .values(enabled=False, disabled_reason=DISABLED_GONE, updated_at=now)
                )
                message.next_attempt_at = now
                result, next_attempt = "endpoint-disabled", None
            else:
                result, next_attempt = settle(
                    message,
                    worker=self.name,
                    delivered=outcome is Outcome.DELIVERED,
                    give_up=False,
                    policy=self._config.policy,
                    now=now,
                    retry_after=retry_after,
                )
            if release(message, worker=self.name):
                await session.execute(
                    update(WebhookEndpoint)
                    .where(WebhookEndpoint.id == job.endpoint_id)
                    .values(busy_until=None)
                )
            session.add(
                DeliveryAttempt(
                    message_seq=job.seq,
                    endpoint_id=job.endpoint_id,
                    attempt=message.attempts,
                    attempted_at=attempted_at,
                    status_code=status,
                    latency_ms=latency_ms,
                    error=error.value if error is not None else None,
                    outcome=result,
                    next_attempt_at=next_attempt,
                )
            )
        if self._on_attempt is not None:
            self._on_attempt(result, latency_ms / 1000)
        self._log.info(
            "webhook_attempt",
            message_id=job.public_id,
            endpoint_id=job.endpoint_id,
            status=status,
            error=error.value if error is not None else None,
            outcome=result,
            duration_ms=latency_ms,
        )

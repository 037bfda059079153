"""The alert worker: claims due e-mail alerts, looks up their recipients, sends them over SMTP.

Claiming
    Like the webhook worker's: due alerts (pending, ``next_attempt_at`` passed, not leased) are
    leased in one transaction (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, ``BEGIN IMMEDIATE``
    on SQLite). In the same transaction the :data:`AddressBook` names each alert's
    professional and address; an alert whose professional switched alerts off, is inactive or
    has no address (or whose registration is gone) is *suppressed* and never sent. A worker
    that dies mid-send leaves leases that expire: the alert is sent again, at least once, with
    the same ``Message-ID``.

Sending
    One SMTP session per claimed batch: connect, STARTTLS (required unless configured
    otherwise; the relay's certificate is verified), AUTH when a user name is set, one message
    per alert. Outcomes follow SMTP's reply classes (RFC 5321 §4.2.1): accepted (2xx) is
    delivered; a permanent refusal (5xx) of the sender, recipient or message makes the alert
    dead at once; everything else (no connection, timeout, TLS or authentication failure, 4xx)
    is retried on the webhooks' schedule and dead after its last attempt. Each attempt is
    recorded with its reply code and error kind, never the address or the text.

What an alert says: :func:`render_alert` -- a Dutch text, then English, that there is
something to see and the portal's address. Nothing about the youth, the match or the
professional.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime
from enum import StrEnum

import aiosmtplib
import structlog
from sqlalchemy import bindparam, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from notifier._alerts import AlertAttempt, AlertMessage, AlertStatus, AlertTopic
from notifier._db import UTCDateTime
from notifier._retry import RetryPolicy
from notifier._settle import release, settle

TransactionFactory = Callable[[], AbstractAsyncContextManager[AsyncSession]]
Now = Callable[[], datetime]

log = structlog.get_logger("notifier.mail")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class MailSecurity(StrEnum):
    STARTTLS = "starttls"
    TLS = "tls"
    NONE = "none"


@dataclass(frozen=True)
class Recipient:
    """Who an alert's registration belongs to, and where to send it (``address`` None: do
    not send; ``reason`` says why)."""

    professional_id: str | None
    address: str | None
    reason: str | None = None


AddressBook = Callable[[AsyncSession, Sequence[str]], Awaitable[dict[str, Recipient]]]
"""Looks up registration ids; a registration left out of the answer is gone."""


@dataclass(frozen=True, kw_only=True)
class MailConfig:
    host: str
    port: int
    sender: str
    portal_url: str
    security: MailSecurity = MailSecurity.STARTTLS
    username: str | None = field(default=None, repr=False)
    password: str | None = field(default=None, repr=False)
    ca_file: str | None = None
    timeout_seconds: float = 30.0
    poll_interval_seconds: float = 1.0
    lease_seconds: float = 120.0
    batch_size: int = 20
    policy: RetryPolicy = field(default_factory=RetryPolicy)

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.poll_interval_seconds <= 0:
            raise ValueError("batch_size and poll_interval_seconds must be positive")
        if self.lease_seconds <= self.timeout_seconds:
            raise ValueError("the lease must outlast the SMTP timeout")

    def tls_context(self) -> ssl.SSLContext | None:
        if self.security is MailSecurity.NONE:
            return None
        context = ssl.create_default_context(cafile=self.ca_file)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        return context


# --- the text ---------------------------------------------------------------------------

_TEXTS: dict[AlertTopic, tuple[str, str, str]] = {
    AlertTopic.NEW_MATCH: (
        "Verwijsindex: er is een nieuwe match",
        "Er is een nieuwe match in de verwijsindex. Log in om te zien:",
        "There is a new match in the referral index. Sign in to see it:",
    ),
    AlertTopic.PARTICIPANT_JOINED: (
        "Verwijsindex: een nieuwe deelnemer in een match",
        "Er is een professional bij een van uw matches gekomen. Log in om te zien:",
        "Another professional has joined one of your matches. Sign in to see it:",
    ),
    AlertTopic.NEW_FAMILY_MATCH: (
        "Verwijsindex: er is een nieuwe gezinsmatch",
        "Er is een nieuwe gezinsmatch in de verwijsindex. Log in om te zien:",
        "There is a new family match in the referral index. Sign in to see it:",
    ),
    AlertTopic.COORDINATION: (
        "Verwijsindex: de afstemming vraagt uw aandacht",
        "De afstemming bij een van uw matches vraagt uw aandacht. Log in om te zien:",
        "The coordination of one of your matches needs your attention. Sign in to see it:",
    ),
    AlertTopic.INFORM_DUE: (
        "Verwijsindex: tijd om te informeren",
        "Bij een van uw registraties is het tijd om de betrokkenen te informeren."
        " Log in om te zien:",
        "It is time to inform those concerned about one of your registrations. Sign in to see it:",
    ),
    AlertTopic.EXPIRING: (
        "Verwijsindex: een registratie loopt binnenkort af",
        "Een van uw registraties loopt binnenkort af. Log in om te zien:",
        "One of your registrations ends soon. Sign in to see it:",
    ),
    AlertTopic.OTHER: (
        "Verwijsindex: er is een nieuwe melding",
        "Er is een nieuwe melding voor u in de verwijsindex. Log in om te zien:",
        "There is a new notification for you in the referral index. Sign in to see it:",
    ),
}

_FOOTER_NL = (
    "Dit bericht bevat bewust geen gegevens over de jongere. U krijgt het omdat\n"
    "e-mailmeldingen voor u aan staan; u kunt ze uitzetten in het portaal."
)
_FOOTER_EN = (
    "This message deliberately contains no details about the youth. You receive it\n"
    "because e-mail alerts are on for you; you can switch them off in the portal."
)


def alert_texts(topic: str) -> tuple[str, str, str]:
    """(subject, Dutch line, English line) of a topic; an unknown topic reads as OTHER."""
    try:
        return _TEXTS[AlertTopic(topic)]
    except ValueError:
        return _TEXTS[AlertTopic.OTHER]


def render_alert(
    topic: str, *, message_id: str, sender: str, recipient: str, portal_url: str, now: datetime
) -> EmailMessage:
    """The e-mail of one alert: Dutch first, English second, the portal's link, nothing else."""
    subject, dutch, english = alert_texts(topic)
    domain = sender.rpartition("@")[2] or "verwijsindex.invalid"
    message = EmailMessage()
    message["From"] = sender
    message["To"] = recipient
    message["Subject"] = subject
    message["Date"] = format_datetime(now)
    message["Message-ID"] = f"<{message_id}@{domain}>"
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no auto-replies
    message["Content-Language"] = "nl, en"
    message.set_content(
        f"{dutch}\n{portal_url}\n\n{_FOOTER_NL}\n\n-- \n\n{english}\n{portal_url}\n\n{_FOOTER_EN}\n"
    )
    return message


# --- classifying an attempt ------------------------------------------------------------------


@dataclass(frozen=True)
class _Result:
    reply_code: int | None
    error: str | None
    """None when accepted; else timeout, connection, tls, auth, deferred (4xx), rejected (5xx),
    protocol."""

    @property
    def delivered(self) -> bool:
        return self.error is None

    @property
    def permanent(self) -> bool:
        return self.error == "rejected"


_ACCEPTED = _Result(250, None)


def classify_smtp_error(exc: BaseException) -> _Result:
    """The kind of a failed SMTP step, and its reply code where the relay answered."""
    if isinstance(exc, aiosmtplib.SMTPRecipientsRefused) and exc.recipients:
        return classify_smtp_error(exc.recipients[0])
    if isinstance(exc, aiosmtplib.SMTPAuthenticationError):
        return _Result(exc.code, "auth")
    if isinstance(exc, aiosmtplib.SMTPTimeoutError | TimeoutError):
        return _Result(None, "timeout")
    if isinstance(exc, aiosmtplib.SMTPNotSupported | ssl.SSLError):
        return _Result(None, "tls")
    if isinstance(exc, aiosmtplib.SMTPConnectError | aiosmtplib.SMTPServerDisconnected):
        return _Result(None, "connection")
    if isinstance(exc, aiosmtplib.SMTPResponseException):
        code = exc.code if 100 <= exc.code <= 599 else None
        if code is not None and 500 <= code <= 599:
            return _Result(code, "rejected")
        if code is not None and 400 <= code <= 499:
            return _Result(code, "deferred")
        return _Result(code, "protocol")
    if isinstance(exc, ConnectionError | OSError):
        return _Result(None, "connection")
    return _Result(None, "protocol")


# --- the worker ---------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class _Job:
    seq: int
    public_id: str
    organisation_id: str
    topic: str
    address: str = field(repr=False)


class AlertWorker:
    """Sends e-mail alerts until cancelled. See the module docstring."""

    def __init__(
        self,
        *,
        transaction: TransactionFactory,
        config: MailConfig,
        address_book: AddressBook,
        name: str | None = None,
        now: Now = _utcnow,
    ) -> None:
        self._transaction = transaction
        self._config = config
        self._address_book = address_book
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._now = now
        self._wake = asyncio.Event()
        self._log = log.bind(worker=self.name)
        m = AlertMessage
        now_param = bindparam("now", type_=UTCDateTime())
        self._due = (
            select(m)
            .where(
                m.status == AlertStatus.PENDING,
                m.next_attempt_at <= now_param,
                or_(m.claimed_until.is_(None), m.claimed_until <= now_param),
            )
            .order_by(m.seq)
            .limit(config.batch_size)
        )

    def wake(self) -> None:
        """Claim now: call after committing a transaction that enqueued alerts."""
        self._wake.set()

    async def run(self) -> None:
        """Send until cancelled; an alert being sent when cancelled is sent again later."""
        self._log.info("alert_worker_started")
        try:
            while True:
                self._wake.clear()
                wait = self._config.poll_interval_seconds
                try:
                    jobs, next_due = await self._claim()
                    if jobs:
                        await self._send(jobs)
                        continue  # there may be more due work
                except asyncio.CancelledError:
                    raise
                except Exception as exc:
                    self._log.error("alert_round_failed", error_type=type(exc).__name__)
                    next_due = None
                if next_due is not None:
                    wait = min(wait, max((next_due - self._now()).total_seconds(), 0.0))
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(wait):
                        await self._wake.wait()
        finally:
            self._log.info("alert_worker_stopped")

    async def run_once(self) -> int:
        """Claim and send one batch; the number of alerts sent or tried (for tests and tools)."""
        jobs, _ = await self._claim()
        if jobs:
            await self._send(jobs)
        return len(jobs)

    async def _claim(self) -> tuple[list[_Job], datetime | None]:
        now = self._now()
        async with self._transaction() as session:
            query = self._due
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update(skip_locked=True)
            messages = list((await session.scalars(query, {"now": now})).all())
            if not messages:
                next_due = await session.scalar(
                    select(func.min(AlertMessage.next_attempt_at)).where(
                        AlertMessage.status == AlertStatus.PENDING,
                        AlertMessage.next_attempt_at > now,
                    )
                )
                return [], next_due
            recipients = await self._address_book(
                session, sorted({m.registration_id for m in messages})
            )
            lease = now + timedelta(seconds=self._config.lease_seconds)
            jobs: list[_Job] = []
            for message in messages:
                recipient = recipients.get(message.registration_id)
                if recipient is not None:
                    message.professional_id = recipient.professional_id
                if recipient is None or recipient.address is None:
                    message.status = AlertStatus.SUPPRESSED
                    message.last_error = (
                        recipient.reason if recipient is not None else "no-recipient"
                    ) or "no-address"
                    message.claimed_until = None
                    message.claimed_by = None
                    continue
                message.claimed_until = lease
                message.claimed_by = self.name
                jobs.append(
                    _Job(
                        seq=message.seq,
                        public_id=message.public_id,
                        organisation_id=message.organisation_id,
                        topic=message.topic,
                        address=recipient.address,
                    )
                )
        return jobs, None

    def _client(self) -> aiosmtplib.SMTP:
        c = self._config
        return aiosmtplib.SMTP(
            hostname=c.host,
            port=c.port,
            username=c.username,
            password=c.password,
            timeout=c.timeout_seconds,
            use_tls=c.security is MailSecurity.TLS,
            start_tls=True if c.security is MailSecurity.STARTTLS else False,
            tls_context=c.tls_context(),
            validate_certs=c.security is not MailSecurity.NONE,
        )

    async def _send(self, jobs: list[_Job]) -> None:
        client = self._client()
        started = time.perf_counter()
        attempted_at = self._now()
        try:
            await client.connect()  # EHLO, STARTTLS, AUTH
        except Exception as exc:
            failure = classify_smtp_error(exc)
            latency = round((time.perf_counter() - started) * 1000)
            for job in jobs:
                await self._record_safely(job, failure, attempted_at, latency)
            return
        try:
            broken: _Result | None = None
            for job in jobs:
                attempted_at = self._now()
                started = time.perf_counter()
                if broken is None:
                    result = await self._send_one(client, job, attempted_at)
                    if result.error in ("connection", "timeout", "protocol"):
                        broken = result  # the session is gone: the rest fail the same way
                else:
                    result = broken
                latency = round((time.perf_counter() - started) * 1000)
                await self._record_safely(job, result, attempted_at, latency)
        finally:
            with contextlib.suppress(Exception):
                await client.quit()

    async def _send_one(self, client: aiosmtplib.SMTP, job: _Job, now: datetime) -> _Result:
        message = render_alert(
            job.topic,
            message_id=job.public_id,
            sender=self._config.sender,
            recipient=job.address,
            portal_url=self._config.portal_url,
            now=now,
        )
        try:
            await client.send_message(message)
        except Exception as exc:
            return classify_smtp_error(exc)
        return _ACCEPTED

    async def _record_safely(
        self, job: _Job, result: _Result, attempted_at: datetime, latency_ms: int
    ) -> None:
        try:
            await self._record(job, result, attempted_at, latency_ms)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            # The lease expires and the alert is sent again: at least once.
            self._log.error(
                "alert_record_failed", alert_id=job.public_id, error_type=type(exc).__name__
            )

    async def _record(
        self, job: _Job, result: _Result, attempted_at: datetime, latency_ms: int
    ) -> None:
        now = self._now()
        async with self._transaction() as session:
            query = select(AlertMessage).where(AlertMessage.seq == job.seq)
            if session.get_bind().dialect.name == "postgresql":
                query = query.with_for_update()
            message = await session.scalar(query)
            if message is None:
                return
            message.attempts += 1
            message.last_reply_code = result.reply_code
            message.last_error = result.error
            message.last_attempt_at = attempted_at
            outcome, next_attempt = settle(
                message,
                worker=self.name,
                delivered=result.delivered,
                give_up=result.permanent,
                policy=self._config.policy,
                now=now,
            )
            release(message, worker=self.name)
            session.add(
                AlertAttempt(
                    message_seq=job.seq,
                    organisation_id=job.organisation_id,
                    attempt=message.attempts,
                    attempted_at=attempted_at,
                    reply_code=result.reply_code,
                    latency_ms=latency_ms,
                    error=result.error,
                    outcome=outcome,
                    next_attempt_at=next_attempt,
                )
            )
        self._log.info(
            "alert_attempt",
            alert_id=job.public_id,
            reply_code=result.reply_code,
            error=result.error,
            outcome=outcome,
            duration_ms=latency_ms,
        )

"""The index's wiring of the e-mail alerts (:mod:`notifier`'s :class:`~notifier.AlertWorker`):
the mail settings, the address book the worker asks, each professional's switch and the
organisation's delivery log. Each public method is one unit of work.

Alerts are written by :func:`notifier.enqueue_many` in the transaction of the change, one per
event that names a registration, when a mail relay is configured
(``VERWIJSINDEX_SMTP_HOST``); the worker looks up the registration's professional when it
sends, so a professional who switched alerts off (or was deactivated) gets none, including
those already queued.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from notifier import (
    AlertLog,
    AlertMessage,
    AlertWorker,
    MailConfig,
    MailSecurity,
    Recipient,
)
from verwijsindex.alerts import repository as repo
from verwijsindex.errors import Forbidden, NotFound
from verwijsindex.settings import Settings
from verwijsindex.storage import Database
from verwijsindex.webhooks.service import OutboxWorkers, each_call_in, retry_policy


@dataclass(frozen=True)
class AlertPreference:
    professional_id: str
    enabled: bool
    has_address: bool


async def address_book(
    session: AsyncSession, registration_ids: Sequence[str]
) -> dict[str, Recipient]:
    """The worker's look-up: each registration's professional and address, or why none."""
    found: dict[str, Recipient] = {}
    for (
        registration_id,
        professional_id,
        email,
        active,
        enabled,
    ) in await repo.recipients_of_registrations(session, registration_ids):
        if not active:
            found[registration_id] = Recipient(professional_id, None, "inactive")
        elif not enabled:
            found[registration_id] = Recipient(professional_id, None, "opted-out")
        elif not email or "@" not in email:
            found[registration_id] = Recipient(professional_id, None, "no-address")
        else:
            found[registration_id] = Recipient(professional_id, email)
    return found


class Alerts:
    """E-mail alerts of the index: configuration, worker, switches, delivery log."""

    def __init__(self, *, settings: Settings, database: Database) -> None:
        self._settings = settings
        self._database = database
        self._log = AlertLog()
        self._workers: OutboxWorkers[AlertWorker] = OutboxWorkers(database)
        # The organisation's delivery log, each call one unit of work (the database is
        # looked up when a call is made: the configuration alone needs none).
        self.messages = each_call_in(lambda: database.read(), self._log.messages)
        self.attempts = each_call_in(lambda: database.read(), self._log.attempts)

    @property
    def enabled(self) -> bool:
        return self._settings.alerts_enabled

    def mail_config(self) -> MailConfig:
        s = self._settings
        assert s.smtp_host is not None
        return MailConfig(
            host=s.smtp_host,
            port=s.smtp_port,
            sender=s.smtp_from,
            portal_url=s.resolved_portal_url,
            security=MailSecurity(s.smtp_security.value),
            username=s.smtp_username,
            password=s.smtp_password.get_secret_value() if s.smtp_password else None,
            ca_file=str(s.smtp_ca_file) if s.smtp_ca_file is not None else None,
            timeout_seconds=s.smtp_timeout_seconds,
            poll_interval_seconds=s.webhook_poll_interval_seconds,
            lease_seconds=s.smtp_timeout_seconds * 4,
            policy=retry_policy(s),
        )

    def new_worker(self, *, name: str | None = None) -> AlertWorker:
        """A worker on this database; :meth:`after_commit` wakes it."""
        return self._workers.add(
            AlertWorker(
                transaction=self._database.transaction,
                config=self.mail_config(),
                address_book=address_book,
                name=name,
            )
        )

    def after_commit(self, info: Mapping[str, Any]) -> None:
        """``Database.on_commit`` hook: alerts were enqueued (the outbox's one flag)."""
        self._workers.wake(info)

    async def run_workers(self, count: int = 1) -> None:
        await self._workers.run(self.new_worker, count)

    # --- a professional's switch ----------------------------------------------------------

    async def _professional(
        self,
        session: AsyncSession,
        *,
        organisation_id: str,
        professional_id: str,
        acting: str | None,
    ) -> AlertPreference:
        professional = await repo.professional_in_organisation(
            session, organisation_id=organisation_id, professional_id=professional_id
        )
        if professional is None:
            raise NotFound("professional not found")
        if acting is not None and acting != professional_id:
            raise Forbidden("a professional may only change their own alerts")
        return AlertPreference(
            professional_id=professional.id,
            enabled=professional.alerts_enabled,
            has_address=bool(professional.email),
        )

    async def preference(
        self, *, organisation_id: str, professional_id: str, acting: str | None
    ) -> AlertPreference:
        """``acting``: the professional who asks (None: the organisation's admin)."""
        async with self._database.read() as session:
            return await self._professional(
                session,
                organisation_id=organisation_id,
                professional_id=professional_id,
                acting=acting,
            )

    async def set_preference(
        self, *, organisation_id: str, professional_id: str, acting: str | None, enabled: bool
    ) -> AlertPreference:
        async with self._database.transaction() as session:
            current = await self._professional(
                session,
                organisation_id=organisation_id,
                professional_id=professional_id,
                acting=acting,
            )
            await repo.set_alerts_enabled(session, professional_id=professional_id, enabled=enabled)
        return AlertPreference(
            professional_id=current.professional_id,
            enabled=enabled,
            has_address=current.has_address,
        )

    # --- the organisation's delivery log (its messages and attempts: see __init__) -------------

    async def redeliver(self, *, organisation_id: str, alert_id: str) -> AlertMessage:
        async with self._database.transaction() as session:
            return await self._log.redeliver(
                session,
                organisation_id=organisation_id,
                alert_id=alert_id,
                now=datetime.now(UTC),  # scheduling is wall-clock time, as in the outbox
            )

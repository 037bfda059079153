"""Personal e-mail alerts: one row per outbox event addressed to a registration.

An alert is the e-mail counterpart of a webhook message and lives in the same outbox: when
:func:`notifier.enqueue_many` writes an event whose data names a ``registration_id``, it also
writes one :class:`AlertMessage` for that registration, in the same insert round and the same
transaction (when the session's unit of work has alerts on, :data:`ALERTS`). Which
professional that is, whether they still want alerts and their address are looked up when
the alert is sent (:mod:`notifier._mail`), so switching alerts off holds for alerts already
queued, and no address is copied into the outbox.

What an alert says depends only on its *topic* (:func:`alert_topic`): never a name, BSN,
birth date, match or registration id; only that there is something to see in the portal.
Event types added later alert with the generic text unless listed in
:data:`QUIET_EVENT_TYPES`. A producer that sends one event to every participant but addresses
only some of them (a coordination proposal, a family match's newcomer) marks the other copies
``Event(alerts=False)``: those are webhooks only.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import BigInteger, ForeignKey, Index, Integer, String, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from notifier._db import NotifierBase
from notifier._errors import AlertNotFound

DELIVERABLE_KEY = "notifier.deliverable"
"""The same key as :data:`notifier.DELIVERABLE` (defined here too: the outbox imports this
module)."""

ALERTS = "notifier.alerts"
"""Key in ``session.info`` (set for every session of a deployment with a mail relay): events
enqueued in this session also write their e-mail alerts."""


class AlertStatus(StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    """The relay accepted the message."""
    DEAD = "dead"
    """The schedule ran out, or the relay refused the message for good (5xx)."""
    SUPPRESSED = "suppressed"
    """Not sent: the professional switched alerts off, is inactive, has no address, or the
    registration is gone. ``last_error`` says which."""


_PENDING = AlertStatus.PENDING.value


class AlertTopic(StrEnum):
    NEW_MATCH = "new-match"
    PARTICIPANT_JOINED = "participant-joined"
    NEW_FAMILY_MATCH = "new-family-match"
    COORDINATION = "coordination"
    INFORM_DUE = "inform-due"
    EXPIRING = "expiring"
    OTHER = "other"


QUIET_EVENT_TYPES = frozenset(
    {
        "registration.ended",
        "registration.earlier_involvement",
        "match.participant_left",
        "match.closed",
        "family_match.participant_left",
        "family_match.closed",
        "coordination.accepted",
        "coordination.declined",
        "coordination.de_escalated",
        "coordination.closed",
        "coordination.confirmed",
    }
)
"""Events that name a registration but send no e-mail: nothing for the professional to do
(the portal and the webhooks show them). A declined or de-escalated coordination that leads to
a new proposal alerts through that ``coordination.proposed``."""


def alert_topic(event_type: str, data: Mapping[str, Any]) -> AlertTopic | None:
    """The topic of the alert for the registration that ``data`` names, or None for none."""
    if "registration_id" not in data or event_type in QUIET_EVENT_TYPES:
        return None
    if event_type == "match.created":
        return AlertTopic.NEW_MATCH
    if event_type == "match.participant_joined":
        # The newcomer's own copy: for them the match is new.
        if data.get("participant_registration_id") == data["registration_id"]:
            return AlertTopic.NEW_MATCH
        return AlertTopic.PARTICIPANT_JOINED
    if event_type.startswith("family_match."):
        return AlertTopic.NEW_FAMILY_MATCH
    if event_type.startswith("coordination."):
        return AlertTopic.COORDINATION
    if event_type == "registration.inform_due":
        return AlertTopic.INFORM_DUE
    if event_type == "registration.expiring":
        return AlertTopic.EXPIRING
    return AlertTopic.OTHER


def alert_row(
    *,
    event_id: str,
    event_type: str,
    organisation_id: str,
    data: Mapping[str, Any],
    created_at: datetime,
    due: datetime,
) -> dict[str, Any] | None:
    """The row of one event's alert for a Core insert, or None when the event alerts nobody."""
    topic = alert_topic(event_type, data)
    if topic is None:
        return None
    return {
        "public_id": "alr_" + os.urandom(16).hex(),
        "organisation_id": organisation_id,
        "registration_id": str(data["registration_id"]),
        "professional_id": None,
        "event_id": event_id,
        "event_type": event_type,
        "topic": topic.value,
        "status": _PENDING,
        "attempts": 0,
        "round_attempts": 0,
        "next_attempt_at": due,
        "created_at": created_at,
    }


class AlertMessage(NotifierBase):
    """One e-mail alert for the professional of one registration. ``public_id`` is the
    message's ``Message-ID``, the same on every attempt, so a mailbox can drop a repeat."""

    __tablename__ = "alert_messages"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    organisation_id: Mapped[str] = mapped_column(String(36))
    registration_id: Mapped[str] = mapped_column(String(36))
    professional_id: Mapped[str | None] = mapped_column(String(36))
    """Filled in when the alert is first sent (or suppressed)."""
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(40))
    topic: Mapped[str] = mapped_column(String(24))
    status: Mapped[str] = mapped_column(String(12), default=AlertStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    round_attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_reply_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(20))
    last_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_alert_messages_due", "status", "next_attempt_at"),
        Index("ix_alert_messages_org_status", "organisation_id", "status", "seq"),
    )


class AlertAttempt(NotifierBase):
    """One SMTP attempt: reply code, latency, error kind, what happens next. Never an address
    or the message."""

    __tablename__ = "alert_delivery_attempts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    message_seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("alert_messages.seq", ondelete="CASCADE"),
    )
    organisation_id: Mapped[str] = mapped_column(String(36))
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime]
    reply_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))
    next_attempt_at: Mapped[datetime | None]

    __table_args__ = (Index("ix_alert_delivery_attempts_message", "message_seq", "id"),)


class AlertLog:
    """An organisation's alerts and their attempts, as its admin sees them (never an address
    or a text), and sending one again. Queries are scoped to the organisation: another
    organisation's alert is not found."""

    async def messages(
        self,
        session: AsyncSession,
        *,
        organisation_id: str,
        status: AlertStatus | None = None,
        professional_id: str | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> list[AlertMessage]:
        """Newest first."""
        query = (
            select(AlertMessage)
            .where(AlertMessage.organisation_id == organisation_id)
            .order_by(AlertMessage.seq.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(AlertMessage.status == status)
        if professional_id is not None:
            query = query.where(AlertMessage.professional_id == professional_id)
        if before_seq is not None:
            query = query.where(AlertMessage.seq < before_seq)
        return list((await session.scalars(query)).all())

    async def message(
        self, session: AsyncSession, *, organisation_id: str, alert_id: str
    ) -> AlertMessage:
        message = await session.scalar(
            select(AlertMessage).where(AlertMessage.public_id == alert_id)
        )
        if message is None or message.organisation_id != organisation_id:
            raise AlertNotFound("alert not found")
        return message

    async def attempts(
        self, session: AsyncSession, *, organisation_id: str, alert_id: str
    ) -> list[AlertAttempt]:
        """The attempts of one alert, newest first."""
        message = await self.message(session, organisation_id=organisation_id, alert_id=alert_id)
        rows = await session.scalars(
            select(AlertAttempt)
            .where(AlertAttempt.message_seq == message.seq)
            .order_by(AlertAttempt.id.desc())
        )
        return list(rows.all())

    async def redeliver(
        self, session: AsyncSession, *, organisation_id: str, alert_id: str, now: datetime
    ) -> AlertMessage:
        """Send an alert again (same ``Message-ID``) on a fresh schedule; a suppressed alert
        is looked up again, so one whose professional switched alerts back on is sent."""
        message = await self.message(session, organisation_id=organisation_id, alert_id=alert_id)
        message.status = AlertStatus.PENDING
        message.round_attempts = 0
        message.next_attempt_at = now
        message.claimed_until = None
        message.claimed_by = None
        await session.flush()
        session.info[DELIVERABLE_KEY] = True
        return message

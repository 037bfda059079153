"""The transactional outbox: events are rows written in the caller's transaction.

``enqueue`` never commits: the event lands if and only if the change that caused it does.
It also fans the event out, in the same transaction, to one :class:`WebhookMessage` per
enabled endpoint of the organisation, and, when the session has alerts on, to one e-mail
:class:`~notifier._alerts.AlertMessage` for the registration the event names. Fan-out at
enqueue time makes every message exist exactly once (no second pass that could run twice or
not at all) and fixes the order of an endpoint's messages by their ``seq``; an endpoint
registered later receives only later events.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, cast

from sqlalchemy import Index, String, Table, Text, bindparam, insert, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from notifier._alerts import ALERTS, DELIVERABLE_KEY, AlertMessage, alert_row
from notifier._db import NotifierBase
from notifier._models import MessageStatus, WebhookEndpoint, WebhookMessage


class EventType(StrEnum):
    MATCH_CREATED = "match.created"
    MATCH_PARTICIPANT_JOINED = "match.participant_joined"
    MATCH_PARTICIPANT_LEFT = "match.participant_left"
    MATCH_CLOSED = "match.closed"
    REGISTRATION_ENDED = "registration.ended"
    REGISTRATION_INFORM_DUE = "registration.inform_due"
    REGISTRATION_EXPIRING = "registration.expiring"
    REGISTRATION_EARLIER_INVOLVEMENT = "registration.earlier_involvement"
    FAMILY_MATCH_CREATED = "family_match.created"
    FAMILY_MATCH_PARTICIPANT_JOINED = "family_match.participant_joined"
    FAMILY_MATCH_PARTICIPANT_LEFT = "family_match.participant_left"
    FAMILY_MATCH_CLOSED = "family_match.closed"
    COORDINATION_PROPOSED = "coordination.proposed"
    COORDINATION_ACCEPTED = "coordination.accepted"
    COORDINATION_DECLINED = "coordination.declined"
    COORDINATION_HANDED_OVER = "coordination.handed_over"
    COORDINATION_ESCALATED = "coordination.escalated"
    COORDINATION_DE_ESCALATED = "coordination.de_escalated"
    COORDINATION_CLOSED = "coordination.closed"
    COORDINATION_REMINDER = "coordination.reminder"
    COORDINATION_CONFIRMED = "coordination.confirmed"


class OutboxEvent(NotifierBase):
    __tablename__ = "outbox_events"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    event_type: Mapped[str] = mapped_column(String(40))
    organisation_id: Mapped[str] = mapped_column(String(36))
    match_id: Mapped[str | None] = mapped_column(String(36))
    payload: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_outbox_events_org_created", "organisation_id", "created_at"),)


_ALLOWED_DATA_KEYS = frozenset(
    {
        "match_id",
        "registration_id",
        "participant_registration_id",
        "reason",
        "family_match_id",
        "scope",
        "participant_region",
    }
)


@dataclass(frozen=True)
class Event:
    """One event for one organisation, as :func:`enqueue_many` takes it."""

    event_type: EventType
    organisation_id: str
    data: dict[str, Any]
    occurred_at: datetime
    match_id: str | None = None
    alerts: bool = True
    """False when this copy is for the organisation's systems only: the event is not addressed
    to the professional of the registration it names (another participant's coordination
    proposal, say), so it writes no e-mail alert whatever its type."""


async def enqueue(
    session: AsyncSession,
    *,
    event_type: EventType,
    organisation_id: str,
    data: dict[str, Any],
    occurred_at: datetime,
    match_id: str | None = None,
) -> str:
    """Add one event for one organisation to the outbox in the session's transaction.

    The payload is thin by construction: only ids, the event type and an end reason.
    """
    (event_id,) = await enqueue_many(
        session, [Event(event_type, organisation_id, data, occurred_at, match_id)]
    )
    return event_id


_INSERT_EVENTS = insert(cast(Table, OutboxEvent.__table__))
_INSERT_ALERTS = insert(cast(Table, AlertMessage.__table__))

# Built once: every registration that makes a match fans its events out through this query.
_ENABLED_ENDPOINTS = (
    select(WebhookEndpoint.organisation_id, WebhookEndpoint.id)
    .where(
        WebhookEndpoint.organisation_id.in_(bindparam("organisations", expanding=True)),
        WebhookEndpoint.enabled.is_(True),
    )
    .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
)


def new_event_id() -> str:
    """A new outbox event's id."""
    return f"msg_{uuid.uuid4().hex}"


def outbox_row(event: Event, event_id: str) -> dict[str, Any]:
    """The ``outbox_events`` row of ``event`` by column name, as :func:`enqueue_many` writes
    it (the payload is the webhook's body: type, timestamp and the thin data)."""
    body = {
        "type": str(event.event_type),
        "timestamp": event.occurred_at.isoformat().replace("+00:00", "Z"),
        "data": event.data,
    }
    return {
        "id": event_id,
        "event_type": str(event.event_type),
        "organisation_id": event.organisation_id,
        "match_id": event.match_id,
        "payload": json.dumps(body, separators=(",", ":"), sort_keys=True),
        "created_at": event.occurred_at,
    }


async def enqueue_many(session: AsyncSession, events: Sequence[Event]) -> list[str]:
    """Add events to the outbox in the session's transaction, in the given order, with one
    query for the organisations' enabled endpoints and one insert per table, whatever their
    number. Returns the event ids."""
    for event in events:
        unknown = set(event.data) - _ALLOWED_DATA_KEYS
        if unknown:
            raise ValueError(f"payload keys not allowed in a thin event: {sorted(unknown)}")
    if not events:
        return []
    organisations = sorted({e.organisation_id for e in events})
    rows = await session.execute(_ENABLED_ENDPOINTS, {"organisations": organisations})
    endpoints: dict[str, list[str]] = {}
    for organisation_id, endpoint_id in rows.all():
        endpoints.setdefault(organisation_id, []).append(endpoint_id)
    # Scheduling is wall-clock time: "immediately" means now, whatever clock stamped the event.
    due = datetime.now(UTC)
    ids: list[str] = []
    event_rows: list[dict[str, Any]] = []
    messages: list[WebhookMessage] = []
    alerts_on = bool(session.info.get(ALERTS))
    alert_rows: list[dict[str, Any]] = []
    for event in events:
        event_id = new_event_id()
        ids.append(event_id)
        if alerts_on and event.alerts:
            alert = alert_row(
                event_id=event_id,
                event_type=str(event.event_type),
                organisation_id=event.organisation_id,
                data=event.data,
                created_at=event.occurred_at,
                due=due,
            )
            if alert is not None:
                alert_rows.append(alert)
        row = outbox_row(event, event_id)
        payload = row["payload"]
        event_rows.append(row)
        messages.extend(
            WebhookMessage(
                public_id=f"msg_{uuid.uuid4().hex}",
                endpoint_id=endpoint_id,
                organisation_id=event.organisation_id,
                event_id=event_id,
                event_type=str(event.event_type),
                ordering_key=event.match_id,
                payload=payload,
                status=MessageStatus.PENDING,
                attempts=0,
                round_attempts=0,
                next_attempt_at=due,
                created_at=event.occurred_at,
            )
            for endpoint_id in endpoints.get(event.organisation_id, [])
        )
    # The events with one Core insert: the ORM's unit of work costs more than the insert.
    await session.execute(_INSERT_EVENTS, event_rows)
    if alert_rows:
        # One alert per event that names a registration: one row per match participant.
        await session.execute(_INSERT_ALERTS, alert_rows)
        mark_deliverable(session)
    if messages:
        # One flush in the order of the events, so each endpoint's ``seq`` follows that order.
        session.add_all(messages)
        await session.flush()
        mark_deliverable(session)
    return ids


DELIVERABLE = DELIVERABLE_KEY
"""Key in ``session.info``: this unit of work made messages due for delivery. The unit of work
that owns the session reads it after commit and wakes the delivery workers."""


def mark_deliverable(session: AsyncSession) -> None:
    """Note in the session that messages became due, so its unit of work wakes the workers
    once the transaction has committed (never before: a worker would not see them yet)."""
    session.info[DELIVERABLE] = True

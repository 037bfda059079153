"""Tables of the sending side: endpoints, messages (one per endpoint and event), attempts.

Fan-out happens in :func:`notifier._outbox.enqueue`, in the transaction of the change: the
outbox event and one :class:`WebhookMessage` per enabled endpoint of the organisation are
written together, so every message exists exactly once and only if the change committed.
The worker then only ever reads and updates messages.

Secrets are stored sealed (see :mod:`notifier._sealing`); the database alone cannot sign.
Attempts record status, timing and an error kind -- never a request or response body.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import (
    BigInteger,
    Boolean,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from notifier._db import NotifierBase


class MessageStatus(StrEnum):
    PENDING = "pending"
    """Waiting for its next attempt (or in flight while ``claimed_until`` is in the future)."""
    DELIVERED = "delivered"
    DEAD = "dead"
    """The schedule ran out; visible to the organisation, can be redelivered by hand."""


class WebhookEndpoint(NotifierBase):
    __tablename__ = "webhook_endpoints"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    organisation_id: Mapped[str] = mapped_column(String(36), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    description: Mapped[str] = mapped_column(String(500), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    disabled_reason: Mapped[str | None] = mapped_column(String(40))
    secret_sealed: Mapped[str] = mapped_column(Text)
    previous_secret_sealed: Mapped[str | None] = mapped_column(Text)
    previous_secret_expires_at: Mapped[datetime | None]
    signing_key_sealed: Mapped[str | None] = mapped_column(Text)
    public_key: Mapped[str | None] = mapped_column(String(80))
    busy_until: Mapped[datetime | None]
    """Set while a delivery to this endpoint is in flight (a lease, like a message's)."""
    created_at: Mapped[datetime]
    updated_at: Mapped[datetime]


class WebhookMessage(NotifierBase):
    """One event for one endpoint. ``public_id`` is the ``webhook-id``, stable across retries."""

    __tablename__ = "webhook_messages"

    seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    public_id: Mapped[str] = mapped_column(String(40), unique=True)
    endpoint_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    organisation_id: Mapped[str] = mapped_column(String(36))
    event_id: Mapped[str] = mapped_column(String(40))
    event_type: Mapped[str] = mapped_column(String(40))
    ordering_key: Mapped[str | None] = mapped_column(String(36))
    """The match id: messages of one match to one endpoint are delivered in ``seq`` order."""
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(12), default=MessageStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts made in all, for numbering the delivery log."""
    round_attempts: Mapped[int] = mapped_column(Integer, default=0)
    """Attempts made on the current schedule; a redelivery by hand starts a new one."""
    next_attempt_at: Mapped[datetime]
    claimed_until: Mapped[datetime | None]
    claimed_by: Mapped[str | None] = mapped_column(String(64))
    last_status_code: Mapped[int | None] = mapped_column(Integer)
    last_error: Mapped[str | None] = mapped_column(String(20))
    last_attempt_at: Mapped[datetime | None]
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_webhook_messages_due", "status", "next_attempt_at"),
        Index("ix_webhook_messages_order", "endpoint_id", "ordering_key", "seq"),
        Index("ix_webhook_messages_org_status", "organisation_id", "status", "seq"),
    )


class DeliveryAttempt(NotifierBase):
    """One HTTP attempt. No bodies: status, latency, error kind and what happens next."""

    __tablename__ = "webhook_delivery_attempts"

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    message_seq: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"),
        ForeignKey("webhook_messages.seq", ondelete="CASCADE"),
    )
    endpoint_id: Mapped[str] = mapped_column(
        String(36), ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    attempt: Mapped[int] = mapped_column(Integer)
    attempted_at: Mapped[datetime]
    status_code: Mapped[int | None] = mapped_column(Integer)
    latency_ms: Mapped[int] = mapped_column(Integer)
    error: Mapped[str | None] = mapped_column(String(20))
    outcome: Mapped[str] = mapped_column(String(20))
    next_attempt_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_webhook_delivery_attempts_endpoint", "endpoint_id", "id"),
        Index("ix_webhook_delivery_attempts_message", "message_seq"),
    )

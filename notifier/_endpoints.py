"""Webhook endpoints of an organisation: register, read, change, rotate, inspect, redeliver.

Every query is scoped to the calling organisation: another organisation's endpoint or message
is reported as not found. Secrets are generated here, returned once and stored sealed.

Example::

    service = EndpointService(box=box, allow_http=False, allow_private=False)
    created = await service.create(session, organisation_id=org, url="https://...",
                                   description="", ed25519=False)
    created.secret      # "whsec_...": show once
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import generate_ed25519_signing_key, generate_webhook_secret
from notifier._errors import EndpointNotFound, MessageNotFound
from notifier._models import DeliveryAttempt, MessageStatus, WebhookEndpoint, WebhookMessage
from notifier._outbox import mark_deliverable
from notifier._sealing import SealedSecretError, SecretBox
from notifier._ssrf import validate_webhook_url
from notifier._worker import Now, secret_context

MAX_OVERLAP_SECONDS = 7 * 24 * 3600


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, kw_only=True)
class CreatedEndpoint:
    endpoint: WebhookEndpoint
    secret: str
    """The ``whsec_`` secret, in clear text this once."""
    public_key: str | None
    """The ``whpk_`` key that verifies ``v1a`` signatures, when Ed25519 was asked for."""


class EndpointService:
    """Endpoint management on behalf of one organisation at a time."""

    def __init__(
        self,
        *,
        box: SecretBox,
        allow_http: bool,
        allow_private: bool,
        allow_loopback: bool = False,
        now: Now = _utcnow,
    ) -> None:
        self._box = box
        self._allow_http = allow_http
        self._allow_private = allow_private
        self._allow_loopback = allow_loopback
        self._now = now

    def _check_url(self, url: str) -> None:
        validate_webhook_url(
            url,
            allow_http=self._allow_http,
            allow_private=self._allow_private,
            allow_loopback=self._allow_loopback,
        )

    async def create(
        self,
        session: AsyncSession,
        *,
        organisation_id: str,
        url: str,
        description: str = "",
        ed25519: bool = False,
    ) -> CreatedEndpoint:
        self._check_url(url)
        now = self._now()
        endpoint_id = f"ep_{uuid.uuid4().hex}"
        secret = generate_webhook_secret()
        public_key: str | None = None
        signing_key_sealed: str | None = None
        if ed25519:
            pair = generate_ed25519_signing_key()
            public_key = pair.public_key
            signing_key_sealed = self._box.seal(
                pair.signing_key, context=secret_context(endpoint_id, "signing_key")
            )
        endpoint = WebhookEndpoint(
            id=endpoint_id,
            organisation_id=organisation_id,
            url=url,
            description=description,
            enabled=True,
            disabled_reason=None,
            secret_sealed=self._box.seal(secret, context=secret_context(endpoint_id, "secret")),
            previous_secret_sealed=None,
            previous_secret_expires_at=None,
            signing_key_sealed=signing_key_sealed,
            public_key=public_key,
            created_at=now,
            updated_at=now,
        )
        session.add(endpoint)
        await session.flush()
        return CreatedEndpoint(endpoint=endpoint, secret=secret, public_key=public_key)

    async def list_endpoints(
        self, session: AsyncSession, *, organisation_id: str
    ) -> list[WebhookEndpoint]:
        rows = await session.scalars(
            select(WebhookEndpoint)
            .where(WebhookEndpoint.organisation_id == organisation_id)
            .order_by(WebhookEndpoint.created_at, WebhookEndpoint.id)
        )
        return list(rows.all())

    async def get(
        self, session: AsyncSession, *, organisation_id: str, endpoint_id: str
    ) -> WebhookEndpoint:
        endpoint = await session.get(WebhookEndpoint, endpoint_id)
        if endpoint is None or endpoint.organisation_id != organisation_id:
            raise EndpointNotFound("webhook endpoint not found")
        return endpoint

    async def update(
        self,
        session: AsyncSession,
        *,
        organisation_id: str,
        endpoint_id: str,
        url: str | None = None,
        description: str | None = None,
        enabled: bool | None = None,
    ) -> WebhookEndpoint:
        endpoint = await self.get(session, organisation_id=organisation_id, endpoint_id=endpoint_id)
        if url is not None:
            self._check_url(url)
            endpoint.url = url
        if description is not None:
            endpoint.description = description
        if enabled is not None:
            endpoint.enabled = enabled
            endpoint.disabled_reason = None if enabled else "disabled-by-organisation"
            if enabled:
                mark_deliverable(session)  # its pending messages may go now
        endpoint.updated_at = self._now()
        await session.flush()
        return endpoint

    async def delete(
        self, session: AsyncSession, *, organisation_id: str, endpoint_id: str
    ) -> None:
        endpoint = await self.get(session, organisation_id=organisation_id, endpoint_id=endpoint_id)
        # Explicit deletes: SQLite only cascades with foreign keys on, and order matters.
        await session.execute(
            delete(DeliveryAttempt).where(DeliveryAttempt.endpoint_id == endpoint.id)
        )
        await session.execute(
            delete(WebhookMessage).where(WebhookMessage.endpoint_id == endpoint.id)
        )
        await session.delete(endpoint)
        await session.flush()

    async def rotate_secret(
        self,
        session: AsyncSession,
        *,
        organisation_id: str,
        endpoint_id: str,
        overlap_seconds: int,
    ) -> tuple[WebhookEndpoint, str]:
        """Make a new secret current; the old one keeps signing for ``overlap_seconds``."""
        if not 0 <= overlap_seconds <= MAX_OVERLAP_SECONDS:
            raise ValueError("overlap_seconds out of range")
        endpoint = await self.get(session, organisation_id=organisation_id, endpoint_id=endpoint_id)
        now = self._now()
        try:
            current: str | None = self._box.open(
                endpoint.secret_sealed, context=secret_context(endpoint.id, "secret")
            )
        except SealedSecretError:
            current = None  # unreadable (its key is gone): nothing to overlap with
        secret = generate_webhook_secret()
        if overlap_seconds > 0 and current is not None:
            endpoint.previous_secret_sealed = self._box.seal(
                current, context=secret_context(endpoint.id, "previous_secret")
            )
            endpoint.previous_secret_expires_at = now + timedelta(seconds=overlap_seconds)
        else:
            endpoint.previous_secret_sealed = None
            endpoint.previous_secret_expires_at = None
        endpoint.secret_sealed = self._box.seal(
            secret, context=secret_context(endpoint.id, "secret")
        )
        endpoint.updated_at = now
        await session.flush()
        return endpoint, secret

    async def attempts(
        self,
        session: AsyncSession,
        *,
        organisation_id: str,
        endpoint_id: str,
        before_id: int | None = None,
        limit: int = 100,
    ) -> list[tuple[DeliveryAttempt, WebhookMessage]]:
        """The delivery log of an endpoint, newest first."""
        await self.get(session, organisation_id=organisation_id, endpoint_id=endpoint_id)
        query = (
            select(DeliveryAttempt, WebhookMessage)
            .join(WebhookMessage, WebhookMessage.seq == DeliveryAttempt.message_seq)
            .where(DeliveryAttempt.endpoint_id == endpoint_id)
            .order_by(DeliveryAttempt.id.desc())
            .limit(limit)
        )
        if before_id is not None:
            query = query.where(DeliveryAttempt.id < before_id)
        rows = await session.execute(query)
        return [(attempt, message) for attempt, message in rows.all()]

    async def messages(
        self,
        session: AsyncSession,
        *,
        organisation_id: str,
        status: MessageStatus | None = None,
        endpoint_id: str | None = None,
        before_seq: int | None = None,
        limit: int = 100,
    ) -> list[WebhookMessage]:
        """The organisation's messages, newest first."""
        query = (
            select(WebhookMessage)
            .where(WebhookMessage.organisation_id == organisation_id)
            .order_by(WebhookMessage.seq.desc())
            .limit(limit)
        )
        if status is not None:
            query = query.where(WebhookMessage.status == status)
        if endpoint_id is not None:
            query = query.where(WebhookMessage.endpoint_id == endpoint_id)
        if before_seq is not None:
            query = query.where(WebhookMessage.seq < before_seq)
        return list((await session.scalars(query)).all())

    async def redeliver(
        self, session: AsyncSession, *, organisation_id: str, message_id: str
    ) -> WebhookMessage:
        """Send a message again on a fresh schedule, with the same ``webhook-id``."""
        message = await session.scalar(
            select(WebhookMessage).where(WebhookMessage.public_id == message_id)
        )
        if message is None or message.organisation_id != organisation_id:
            raise MessageNotFound("webhook message not found")
        message.status = MessageStatus.PENDING
        message.round_attempts = 0
        message.next_attempt_at = self._now()
        message.claimed_until = None
        message.claimed_by = None
        await session.flush()
        mark_deliverable(session)
        return message

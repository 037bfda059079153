"""``/v1/webhook-endpoints`` and ``/v1/webhook-messages``: an organisation's webhooks.

Only an ``org-admin`` key may use these; other roles get 403, another organisation's endpoint
or message is 404. Secrets are shown once, in the response that creates them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from notifier import DeliveryAttempt, MessageStatus, WebhookEndpoint, WebhookMessage
from verwijsindex.http.deps import Ctx, require_role
from verwijsindex.http.pagination import SeqCursor, decode_seq_cursor
from verwijsindex.http.schemas import WRITE_PROBLEMS, problem_responses
from verwijsindex.organisations.models import Role
from verwijsindex.organisations.service import Principal

router = APIRouter(tags=["webhooks"])

_PROBLEMS = problem_responses(*WRITE_PROBLEMS)

_ID = Annotated[str, Path(max_length=64)]


OrgAdmin = Annotated[Principal, require_role(Role.ORG_ADMIN)]


# --- bodies -------------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EndpointCreate(_Strict):
    url: str = Field(
        max_length=2048,
        description="https URL that receives the POSTs. Checked against the SSRF rules now and"
        " again before every delivery.",
    )
    description: str = Field(default="", max_length=500)
    ed25519: bool = Field(
        default=False,
        description="Also sign with a new Ed25519 key (v1a); its whpk_ public key is returned",
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"url": "https://hooks.example.org/verwijsindex"}]},
    )


class EndpointPatch(_Strict):
    url: str | None = Field(default=None, max_length=2048)
    description: str | None = Field(default=None, max_length=500)
    enabled: bool | None = Field(
        default=None, description="false pauses deliveries; true resumes them (also after 410)"
    )


class SecretRotate(_Strict):
    overlap_seconds: int = Field(
        default=86_400,
        ge=0,
        le=7 * 86_400,
        description="How long the previous secret keeps signing next to the new one",
    )


class EndpointOut(BaseModel):
    id: str
    url: str
    description: str
    enabled: bool
    disabled_reason: str | None = Field(
        description="'gone' after the receiver answered 410; 'disabled-by-organisation';"
        " 'secret-unreadable' when the stored secret no longer opens with the keys held"
    )
    ed25519_public_key: str | None
    previous_secret_expires_at: datetime | None = Field(
        description="While set and in the future, deliveries carry the old signature too"
    )
    created_at: datetime
    updated_at: datetime


class EndpointCreated(EndpointOut):
    secret: str = Field(description="whsec_… signing secret. Shown once; store it now.")


class EndpointList(BaseModel):
    items: list[EndpointOut]


class SecretRotated(BaseModel):
    id: str
    secret: str = Field(description="The new whsec_… secret. Shown once.")
    previous_secret_expires_at: datetime | None


class AttemptOut(BaseModel):
    id: int
    message_id: str = Field(description="The webhook-id of the message")
    event_type: str
    attempt: int
    attempted_at: datetime
    status_code: int | None
    latency_ms: int
    error: Literal["timeout", "connection", "protocol", "unsafe-address"] | None
    outcome: str = Field(
        description="delivered, retry, dead, endpoint-disabled or superseded (a lease ran out)"
    )
    next_attempt_at: datetime | None


class AttemptPage(BaseModel):
    items: list[AttemptOut]
    next_cursor: str | None


class MessageOut(BaseModel):
    id: str = Field(description="The webhook-id, the same on every attempt")
    endpoint_id: str
    event_type: str
    status: Literal["pending", "delivered", "dead"]
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


class MessagePage(BaseModel):
    items: list[MessageOut]
    next_cursor: str | None


# --- conversions --------------------------------------------------------------------------


def _endpoint_out(endpoint: WebhookEndpoint) -> EndpointOut:
    return EndpointOut(
        id=endpoint.id,
        url=endpoint.url,
        description=endpoint.description,
        enabled=endpoint.enabled,
        disabled_reason=endpoint.disabled_reason,
        ed25519_public_key=endpoint.public_key,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
        created_at=endpoint.created_at,
        updated_at=endpoint.updated_at,
    )


def _message_out(message: WebhookMessage) -> MessageOut:
    pending = message.status == MessageStatus.PENDING
    return MessageOut(
        id=message.public_id,
        endpoint_id=message.endpoint_id,
        event_type=message.event_type,
        status=message.status,  # type: ignore[arg-type]
        attempts=message.attempts,
        next_attempt_at=message.next_attempt_at if pending else None,
        last_attempt_at=message.last_attempt_at,
        last_status_code=message.last_status_code,
        last_error=message.last_error,
        created_at=message.created_at,
        delivered_at=message.delivered_at,
    )


def _attempt_out(attempt: DeliveryAttempt, message: WebhookMessage) -> AttemptOut:
    return AttemptOut(
        id=attempt.id,
        message_id=message.public_id,
        event_type=message.event_type,
        attempt=attempt.attempt,
        attempted_at=attempt.attempted_at,
        status_code=attempt.status_code,
        latency_ms=attempt.latency_ms,
        error=attempt.error,  # type: ignore[arg-type]
        outcome=attempt.outcome,
        next_attempt_at=attempt.next_attempt_at,
    )


# --- endpoints ----------------------------------------------------------------------------


@router.post(
    "/v1/webhook-endpoints",
    status_code=201,
    response_model=EndpointCreated,
    responses=_PROBLEMS,
    summary="Register a webhook endpoint",
)
async def create_endpoint(
    body: EndpointCreate, ctx: Ctx, admin: OrgAdmin, response: Response
) -> EndpointCreated:
    """Returns the signing secret once. 422 ``unsafe-webhook-url`` (with a ``reason``) when
    the URL breaks the SSRF rules."""
    created = await ctx.webhooks.create_endpoint(
        organisation_id=admin.organisation_id,
        url=body.url,
        description=body.description,
        ed25519=body.ed25519,
    )
    out = _endpoint_out(created.endpoint)
    response.headers["Location"] = f"/v1/webhook-endpoints/{out.id}"
    return EndpointCreated(**out.model_dump(), secret=created.secret)


@router.get(
    "/v1/webhook-endpoints",
    response_model=EndpointList,
    responses=_PROBLEMS,
    summary="List the organisation's webhook endpoints",
)
async def list_endpoints(ctx: Ctx, admin: OrgAdmin) -> EndpointList:
    endpoints = await ctx.webhooks.list_endpoints(organisation_id=admin.organisation_id)
    return EndpointList(items=[_endpoint_out(e) for e in endpoints])


@router.get(
    "/v1/webhook-endpoints/{endpoint_id}",
    response_model=EndpointOut,
    responses=_PROBLEMS,
    summary="Read a webhook endpoint (never its secret)",
)
async def get_endpoint(endpoint_id: _ID, ctx: Ctx, admin: OrgAdmin) -> EndpointOut:
    endpoint = await ctx.webhooks.endpoint(
        organisation_id=admin.organisation_id, endpoint_id=endpoint_id
    )
    return _endpoint_out(endpoint)


@router.patch(
    "/v1/webhook-endpoints/{endpoint_id}",
    response_model=EndpointOut,
    responses=_PROBLEMS,
    summary="Change the URL or description, or disable/enable a webhook endpoint",
)
async def update_endpoint(
    endpoint_id: _ID, body: EndpointPatch, ctx: Ctx, admin: OrgAdmin
) -> EndpointOut:
    endpoint = await ctx.webhooks.update_endpoint(
        organisation_id=admin.organisation_id,
        endpoint_id=endpoint_id,
        url=body.url,
        description=body.description,
        enabled=body.enabled,
    )
    return _endpoint_out(endpoint)


@router.delete(
    "/v1/webhook-endpoints/{endpoint_id}",
    status_code=204,
    responses=_PROBLEMS,
    summary="Delete a webhook endpoint, its messages and its delivery log",
)
async def delete_endpoint(endpoint_id: _ID, ctx: Ctx, admin: OrgAdmin) -> Response:
    await ctx.webhooks.delete_endpoint(
        organisation_id=admin.organisation_id, endpoint_id=endpoint_id
    )
    return Response(status_code=204)


@router.post(
    "/v1/webhook-endpoints/{endpoint_id}/rotate-secret",
    response_model=SecretRotated,
    responses=_PROBLEMS,
    summary="Replace the signing secret; the old one keeps signing during the overlap",
)
async def rotate_secret(
    endpoint_id: _ID, body: SecretRotate, ctx: Ctx, admin: OrgAdmin
) -> SecretRotated:
    """During the overlap every delivery carries two ``v1`` signatures (space-separated):
    one with the new secret and one with the previous."""
    endpoint, secret = await ctx.webhooks.rotate_secret(
        organisation_id=admin.organisation_id,
        endpoint_id=endpoint_id,
        overlap_seconds=body.overlap_seconds,
    )
    return SecretRotated(
        id=endpoint.id,
        secret=secret,
        previous_secret_expires_at=endpoint.previous_secret_expires_at,
    )


@router.get(
    "/v1/webhook-endpoints/{endpoint_id}/deliveries",
    response_model=AttemptPage,
    responses=_PROBLEMS,
    summary="The delivery log of an endpoint, newest first (never bodies)",
)
async def list_deliveries(
    endpoint_id: _ID,
    ctx: Ctx,
    admin: OrgAdmin,
    cursor: SeqCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AttemptPage:
    before = decode_seq_cursor(cursor)
    rows = await ctx.webhooks.deliveries(
        organisation_id=admin.organisation_id,
        endpoint_id=endpoint_id,
        before_id=before,
        limit=limit + 1,
    )
    page = rows[:limit]
    items = [_attempt_out(a, m) for a, m in page]
    next_cursor = str(page[-1][0].id) if len(rows) > limit else None
    return AttemptPage(items=items, next_cursor=next_cursor)


# --- messages -----------------------------------------------------------------------------


@router.get(
    "/v1/webhook-messages",
    response_model=MessagePage,
    responses=_PROBLEMS,
    summary="The organisation's webhook messages, newest first; status=dead for dead letters",
)
async def list_messages(
    ctx: Ctx,
    admin: OrgAdmin,
    status: Literal["pending", "delivered", "dead"] | None = None,
    endpoint_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: SeqCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MessagePage:
    before = decode_seq_cursor(cursor)
    rows = await ctx.webhooks.messages(
        organisation_id=admin.organisation_id,
        status=MessageStatus(status) if status is not None else None,
        endpoint_id=endpoint_id,
        before_seq=before,
        limit=limit + 1,
    )
    page = rows[:limit]
    items = [_message_out(m) for m in page]
    next_cursor = str(page[-1].seq) if len(rows) > limit else None
    return MessagePage(items=items, next_cursor=next_cursor)


@router.post(
    "/v1/webhook-messages/{message_id}/redeliver",
    status_code=202,
    response_model=MessageOut,
    responses=_PROBLEMS,
    summary="Send a message again (same webhook-id) on a fresh retry schedule",
)
async def redeliver(message_id: _ID, ctx: Ctx, admin: OrgAdmin) -> MessageOut:
    message = await ctx.webhooks.redeliver(
        organisation_id=admin.organisation_id, message_id=message_id
    )
    return _message_out(message)

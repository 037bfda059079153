"""``/v1/professionals/{id}/alerts`` (a professional's switch) and ``/v1/alert-messages`` (the
organisation's e-mail alerts and their delivery log, for its org-admin).

The switch: a ``professional`` key acting for that very professional (``X-Professional-Id``),
or the organisation's ``org-admin`` key. Another professional of the same organisation: 403;
a professional of another organisation: 404. Nothing here shows an e-mail address or an
alert's text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Header, Path, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from notifier import AlertAttempt, AlertMessage, AlertStatus
from verwijsindex.alerts.service import AlertPreference
from verwijsindex.http.deps import Ctx, PrincipalDep, get_professional_caller, require_role
from verwijsindex.http.pagination import SeqCursor, decode_seq_cursor
from verwijsindex.http.problems import ApiProblem
from verwijsindex.http.schemas import WRITE_PROBLEMS, problem_responses
from verwijsindex.organisations.models import Role
from verwijsindex.organisations.service import Principal

router = APIRouter(tags=["alerts"])

_PROBLEMS = problem_responses(*WRITE_PROBLEMS)
_ID = Annotated[str, Path(max_length=64)]
OrgAdmin = Annotated[Principal, require_role(Role.ORG_ADMIN)]


class AlertSwitch(BaseModel):
    enabled: bool = Field(strict=True, description="false: no e-mail alerts for this professional")

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"enabled": False}]})


class AlertPreferenceOut(BaseModel):
    professional_id: str
    enabled: bool
    has_address: bool = Field(description="Whether the professional has an e-mail address")


class AlertOut(BaseModel):
    id: str = Field(description="The alert's id, also the e-mail's Message-ID")
    professional_id: str | None = Field(
        description="Filled in when the alert was first sent or suppressed"
    )
    event_type: str
    topic: str = Field(
        description="What the e-mail says: new-match, participant-joined, new-family-match,"
        " coordination, inform-due, expiring or other"
    )
    status: Literal["pending", "delivered", "dead", "suppressed"]
    attempts: int
    next_attempt_at: datetime | None
    last_attempt_at: datetime | None
    last_reply_code: int | None
    last_error: str | None = Field(
        description="Of the last attempt: timeout, connection, tls, auth, deferred (4xx),"
        " rejected (5xx), protocol; of a suppressed alert: opted-out, inactive, no-address,"
        " no-recipient"
    )
    created_at: datetime
    delivered_at: datetime | None


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None


class AlertAttemptOut(BaseModel):
    id: int
    attempt: int
    attempted_at: datetime
    reply_code: int | None
    latency_ms: int
    error: str | None
    outcome: str = Field(description="delivered, retry, dead or superseded (a lease ran out)")
    next_attempt_at: datetime | None


class AlertAttemptList(BaseModel):
    items: list[AlertAttemptOut]


def _preference_out(preference: AlertPreference) -> AlertPreferenceOut:
    return AlertPreferenceOut(
        professional_id=preference.professional_id,
        enabled=preference.enabled,
        has_address=preference.has_address,
    )


def _alert_out(alert: AlertMessage) -> AlertOut:
    return AlertOut(
        id=alert.public_id,
        professional_id=alert.professional_id,
        event_type=alert.event_type,
        topic=alert.topic,
        status=alert.status,  # type: ignore[arg-type]
        attempts=alert.attempts,
        next_attempt_at=alert.next_attempt_at if alert.status == AlertStatus.PENDING else None,
        last_attempt_at=alert.last_attempt_at,
        last_reply_code=alert.last_reply_code,
        last_error=alert.last_error,
        created_at=alert.created_at,
        delivered_at=alert.delivered_at,
    )


def _attempt_out(attempt: AlertAttempt) -> AlertAttemptOut:
    return AlertAttemptOut(
        id=attempt.id,
        attempt=attempt.attempt,
        attempted_at=attempt.attempted_at,
        reply_code=attempt.reply_code,
        latency_ms=attempt.latency_ms,
        error=attempt.error,
        outcome=attempt.outcome,
        next_attempt_at=attempt.next_attempt_at,
    )


async def _switch_caller(
    request: Request, principal: Principal, x_professional_id: str | None
) -> tuple[str, str | None]:
    """(organisation, acting professional or None for the org-admin) of a switch request."""
    if principal.role is Role.ORG_ADMIN:
        return principal.organisation_id, None
    if principal.role is not Role.PROFESSIONAL:
        raise ApiProblem(403, "forbidden-role", "this API key's role may not do this")
    caller = await get_professional_caller(request, x_professional_id)
    return caller.principal.organisation_id, caller.actor.professional_id


_ProfessionalHeader = Annotated[
    str | None,
    Header(
        description="A professional key: the acting professional, who must be the one in the"
        " path. Not used with an org-admin key."
    ),
]


@router.get(
    "/v1/professionals/{professional_id}/alerts",
    response_model=AlertPreferenceOut,
    responses=_PROBLEMS,
    summary="Whether a professional gets e-mail alerts",
)
async def get_alerts(
    professional_id: _ID,
    request: Request,
    ctx: Ctx,
    principal: PrincipalDep,
    x_professional_id: _ProfessionalHeader = None,
) -> AlertPreferenceOut:
    organisation_id, acting = await _switch_caller(request, principal, x_professional_id)
    preference = await ctx.alerts.preference(
        organisation_id=organisation_id, professional_id=professional_id, acting=acting
    )
    return _preference_out(preference)


@router.put(
    "/v1/professionals/{professional_id}/alerts",
    response_model=AlertPreferenceOut,
    responses=_PROBLEMS,
    summary="Switch a professional's e-mail alerts on or off",
)
async def put_alerts(
    professional_id: _ID,
    body: AlertSwitch,
    request: Request,
    ctx: Ctx,
    principal: PrincipalDep,
    x_professional_id: _ProfessionalHeader = None,
) -> AlertPreferenceOut:
    """Off holds at once, also for alerts already queued: they are suppressed when due."""
    organisation_id, acting = await _switch_caller(request, principal, x_professional_id)
    preference = await ctx.alerts.set_preference(
        organisation_id=organisation_id,
        professional_id=professional_id,
        acting=acting,
        enabled=body.enabled,
    )
    return _preference_out(preference)


@router.get(
    "/v1/alert-messages",
    response_model=AlertPage,
    responses=_PROBLEMS,
    summary="The organisation's e-mail alerts, newest first; status=dead for dead letters",
)
async def list_alerts(
    ctx: Ctx,
    admin: OrgAdmin,
    status: Literal["pending", "delivered", "dead", "suppressed"] | None = None,
    professional_id: Annotated[str | None, Query(max_length=64)] = None,
    cursor: SeqCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AlertPage:
    rows = await ctx.alerts.messages(
        organisation_id=admin.organisation_id,
        status=AlertStatus(status) if status is not None else None,
        professional_id=professional_id,
        before_seq=decode_seq_cursor(cursor),
        limit=limit + 1,
    )
    page = rows[:limit]
    next_cursor = str(page[-1].seq) if len(rows) > limit else None
    return AlertPage(items=[_alert_out(a) for a in page], next_cursor=next_cursor)


@router.get(
    "/v1/alert-messages/{alert_id}/deliveries",
    response_model=AlertAttemptList,
    responses=_PROBLEMS,
    summary="The SMTP attempts of one alert, newest first (never an address or a text)",
)
async def list_alert_deliveries(alert_id: _ID, ctx: Ctx, admin: OrgAdmin) -> AlertAttemptList:
    attempts = await ctx.alerts.attempts(organisation_id=admin.organisation_id, alert_id=alert_id)
    return AlertAttemptList(items=[_attempt_out(a) for a in attempts])


@router.post(
    "/v1/alert-messages/{alert_id}/redeliver",
    status_code=202,
    response_model=AlertOut,
    responses=_PROBLEMS,
    summary="Send an alert again (same Message-ID) on a fresh retry schedule",
)
async def redeliver_alert(alert_id: _ID, ctx: Ctx, admin: OrgAdmin) -> AlertOut:
    """A suppressed alert is looked up again: sent if its professional wants alerts now."""
    alert = await ctx.alerts.redeliver(organisation_id=admin.organisation_id, alert_id=alert_id)
    return _alert_out(alert)

"""Consent events, the exchange gate and organisations' encryption keys.

The index decides who takes part in a match (current participation in an open match) and
hands those organisation ids to :mod:`consent`; callers outside the match get 404.

Every route about a youth's consent or an exchange is in the access log (docs/access-log.md):
its subject is the match (the youth), ``reference`` the consent event or exchange; writes
record inside their transaction, reads through :func:`record_read`, refusals through the
error handlers. The encryption-key routes hold no personal data and are not logged.
"""

from __future__ import annotations

import base64
import binascii
import json
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from consent import (
    AgeBand,
    ConsentEventRow,
    DataCategory,
    Direction,
    EventKind,
    Exchange,
    GrantorRole,
    LegalGround,
    Method,
    Party,
    Purpose,
    to_consent_record,
    to_fhir_consent,
)
from consent._service import to_event
from crypto import exchange_info
from verwijsindex.accesslog import Operation
from verwijsindex.consents.service import ConsentEventRequest, ExchangeRequest
from verwijsindex.http.access import access_context, audited
from verwijsindex.http.deps import Ctx, ProfessionalDep, require_role
from verwijsindex.http.problems import ApiProblem
from verwijsindex.http.schemas import WRITE_PROBLEMS, problem_responses
from verwijsindex.http.timestamps import CalendarDate, UtcDatetime
from verwijsindex.organisations.models import Role
from verwijsindex.organisations.service import Principal

router = APIRouter(tags=["consent and exchange"])

_PROBLEMS = problem_responses(*WRITE_PROBLEMS, 404, 409, 410)
_MatchId = Annotated[str, Path(max_length=64)]
_Id = Annotated[str, Path(max_length=64)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- schemas ------------------------------------------------------------------------------


class ConsentCreate(_Strict):
    counterpart_organisation_id: str = Field(max_length=64)
    event: EventKind
    grantor: GrantorRole
    purpose: Purpose
    data_categories: list[DataCategory] = Field(min_length=1, max_length=5)
    direction: Direction = Field(
        description="Seen from the caller's organisation: outgoing = it may disclose to the"
        " counterpart; incoming = the counterpart may disclose to it; both."
    )
    subject_birth_date: CalendarDate = Field(
        description="The youth's birth date, used for the age band and never stored"
    )
    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None
    method: Method
    evidence_hash: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="Lowercase hex SHA-256 of the signed form or recording the organisation keeps",
    )


class ConsentOut(BaseModel):
    id: str
    match_id: str
    ledger_index: int
    organisation_id: str
    counterpart_organisation_id: str
    recorded_by: str
    event: EventKind
    grantor: GrantorRole
    purpose: Purpose
    data_categories: list[DataCategory]
    direction: Direction
    age_band: AgeBand
    method: Method
    valid_from: datetime | None
    valid_until: datetime | None
    evidence_hash: str | None
    recorded_at: datetime


class DecisionOut(BaseModel):
    sender_organisation_id: str
    recipient_organisation_id: str
    purpose: Purpose
    data_category: DataCategory
    allowed: bool
    consent_reference: list[str]
    missing: list[Party]
    refused_by: list[GrantorRole]
    age_band: AgeBand | None
    explanation: str


class ConsentList(BaseModel):
    events: list[ConsentOut]
    state: list[DecisionOut] = Field(
        description="The folded decision for every sender → recipient, purpose and data"
        " category some event speaks about, at the time of the request"
    )


class EncryptionKeyIn(_Strict):
    public_key: str = Field(description="Base64 of the raw 32-byte X25519 public key")


class EncryptionKeyOut(BaseModel):
    key_id: str
    organisation_id: str
    public_key: str
    created_at: datetime


class LegalGroundIn(_Strict):
    code: LegalGround
    justification: str = Field(max_length=4000)


class ExchangeCreate(_Strict):
    recipient_organisation_id: str = Field(max_length=64)
    purpose: Purpose
    data_category: DataCategory
    enc: str = Field(description="Base64 HPKE encapsulated key (32 bytes)")
    ciphertext: str = Field(description="Base64 HPKE ciphertext")
    legal_ground: LegalGroundIn | None = None
    consent_reference: list[str] | None = Field(
        default=None,
        description="The consent reference the sender bound in the HPKE info (from"
        " GET …/consents/decision); 409 when it is no longer the current decision",
    )
    recipient_key_id: str | None = Field(
        default=None, description="The recipient key sealed to; 409 when it was rotated"
    )


class ExchangeCreated(BaseModel):
    id: str
    ledger_index: int
    consent_reference: list[str]
    flagged_for_review: bool
    recipient_key_id: str
    created_at: datetime


class ExchangeSummary(BaseModel):
    id: str
    match_id: str
    sender_organisation_id: str
    recipient_organisation_id: str
    purpose: Purpose
    data_category: DataCategory
    legal_ground: LegalGround | None
    flagged_for_review: bool
    ledger_index: int
    created_at: datetime
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    deleted_at: datetime | None
    deletion_reason: str | None


class ExchangeInfo(BaseModel):
    match_id: str
    consent_reference: list[str]
    sender_org: str
    recipient_org: str


class ExchangeOut(ExchangeSummary):
    recipient_key_id: str
    enc: str
    ciphertext: str
    info: ExchangeInfo = Field(description="The parameters of crypto.exchange_info")
    info_b64: str = Field(description="The exact HPKE info bytes, base64")


class ExchangeInbox(BaseModel):
    items: list[ExchangeSummary]


# --- helpers ------------------------------------------------------------------------------


def _b64(value: bytes) -> str:
    return base64.b64encode(value).decode("ascii")


def _unb64(value: str, field: str) -> bytes:
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise ApiProblem(
            422,
            "validation-error",
            "the request does not match the schema",
            extra={"errors": [{"field": field, "problem": "invalid base64"}]},
        ) from None


def _consent_out(row: ConsentEventRow) -> ConsentOut:
    event = to_event(row)
    return ConsentOut(
        id=event.id,
        match_id=row.match_id,
        ledger_index=row.ledger_index,
        organisation_id=event.organisation_id,
        counterpart_organisation_id=event.counterpart_organisation_id,
        recorded_by=row.recorded_by,
        event=event.kind,
        grantor=event.grantor,
        purpose=event.purpose,
        data_categories=sorted(event.data_categories),
        direction=event.direction,
        age_band=event.age_band,
        method=event.method,
        valid_from=event.valid_from,
        valid_until=event.valid_until,
        evidence_hash=event.evidence_hash,
        recorded_at=event.recorded_at,
    )


def _summary(e: Exchange) -> ExchangeSummary:
    return ExchangeSummary(
        id=e.id,
        match_id=e.match_id,
        sender_organisation_id=e.sender_organisation_id,
        recipient_organisation_id=e.recipient_organisation_id,
        purpose=Purpose(e.purpose),
        data_category=DataCategory(e.data_category),
        legal_ground=None if e.legal_ground is None else LegalGround(e.legal_ground),
        flagged_for_review=e.flagged_for_review,
        ledger_index=e.ledger_index,
        created_at=e.created_at,
        delivered_at=e.delivered_at,
        acknowledged_at=e.acknowledged_at,
        deleted_at=e.deleted_at,
        deletion_reason=e.deletion_reason,
    )


OrgAdminDep = Annotated[Principal, require_role(Role.ORG_ADMIN)]
OrgSystemDep = Annotated[Principal, require_role(Role.PROFESSIONAL, Role.ORG_ADMIN)]


# --- consent events -----------------------------------------------------------------------


@router.post(
    "/v1/matches/{match_id}/consents",
    status_code=201,
    response_model=ConsentOut,
    responses=_PROBLEMS,
    summary="Record a consent event (given, refused or withdrawn)",
    dependencies=[audited(Operation.CONSENT_RECORD, ref_type="match", ref_param="match_id")],
)
async def record_consent(
    match_id: _MatchId, body: ConsentCreate, ctx: Ctx, caller: ProfessionalDep, request: Request
) -> ConsentOut:
    """The birth date gives the youth's age band and is not stored. The event is appended to
    the consent ledger in the same transaction; a refusal or withdrawal makes undelivered
    ciphertext it no longer covers unavailable at once."""
    row = await ctx.match_consents.record(
        access_context(request),
        caller.actor,
        match_id,
        ConsentEventRequest(
            counterpart_organisation_id=body.counterpart_organisation_id,
            kind=body.event,
            grantor=body.grantor,
            purpose=body.purpose,
            data_categories=body.data_categories,
            direction=body.direction,
            subject_birth_date=body.subject_birth_date,
            method=body.method,
            valid_from=body.valid_from,
            valid_until=body.valid_until,
            evidence_hash=body.evidence_hash,
        ),
    )
    return _consent_out(row)


def _decision_out(
    sender: str, recipient: str, purpose: Purpose, category: DataCategory, d: Any
) -> DecisionOut:
    return DecisionOut(
        sender_organisation_id=sender,
        recipient_organisation_id=recipient,
        purpose=purpose,
        data_category=category,
        allowed=d.allowed,
        consent_reference=list(d.consent_reference),
        missing=list(d.missing),
        refused_by=list(d.refused_by),
        age_band=d.age_band,
        explanation=d.explanation,
    )


@router.get(
    "/v1/matches/{match_id}/consents",
    response_model=ConsentList,
    responses=_PROBLEMS,
    summary="Consent events of a match and the folded state per direction",
    dependencies=[audited(Operation.CONSENT_LIST, ref_type="match", ref_param="match_id")],
)
async def list_consents(
    match_id: _MatchId, ctx: Ctx, caller: ProfessionalDep, request: Request
) -> ConsentList:
    rows, states = await ctx.match_consents.events(
        access_context(request), organisation_id=caller.actor.organisation_id, match_id=match_id
    )
    return ConsentList(
        events=[_consent_out(r) for r in rows],
        state=[
            _decision_out(s.sender, s.recipient, s.purpose, s.category, s.decision) for s in states
        ],
    )


@router.get(
    "/v1/matches/{match_id}/consents/decision",
    response_model=DecisionOut,
    responses=_PROBLEMS,
    summary="Whether the caller's organisation may send now, and the consent reference to seal to",
    dependencies=[audited(Operation.CONSENT_DECISION, ref_type="match", ref_param="match_id")],
)
async def consent_decision(
    match_id: _MatchId,
    ctx: Ctx,
    caller: ProfessionalDep,
    request: Request,
    recipient_organisation_id: Annotated[str, Query(max_length=64)],
    purpose: Purpose,
    data_category: DataCategory,
) -> DecisionOut:
    sender = caller.actor.organisation_id
    decision = await ctx.match_consents.decision(
        access_context(request),
        sender=sender,
        match_id=match_id,
        recipient=recipient_organisation_id,
        purpose=purpose,
        category=data_category,
    )
    return _decision_out(sender, recipient_organisation_id, purpose, data_category, decision)


_EXPORT = audited(Operation.CONSENT_EXPORT, ref_type="consent", ref_param="consent_id")


async def _exported_event(
    ctx: Ctx, consent_id: str, organisation_id: str, request: Request
) -> ConsentEventRow:
    """The consent event to export, if the organisation takes part in its match; recorded."""
    return await ctx.match_consents.exported_event(
        access_context(request), organisation_id=organisation_id, consent_id=consent_id
    )


@router.get(
    "/v1/consents/{consent_id}/fhir",
    responses={
        200: {"content": {"application/fhir+json": {}}, "description": "FHIR R5 Consent"},
        **_PROBLEMS,
    },
    summary="Export a consent event as an HL7 FHIR R5 Consent resource",
    dependencies=[_EXPORT],
)
async def consent_fhir(
    consent_id: _Id, ctx: Ctx, caller: ProfessionalDep, request: Request
) -> JSONResponse:
    """The youth is referenced by the match (``match:<id>``), never by BSN or pseudonym."""
    now = ctx.clock.now()
    row = await _exported_event(ctx, consent_id, caller.actor.organisation_id, request)
    resource = to_fhir_consent(to_event(row), subject_ref=f"match:{row.match_id}", at=now)
    return JSONResponse(resource, media_type="application/fhir+json")


@router.get(
    "/v1/consents/{consent_id}/record",
    response_model=dict[str, Any],
    responses=_PROBLEMS,
    summary="A consent event as an ISO/IEC TS 27560-shaped consent record",
    dependencies=[_EXPORT],
)
async def consent_record(
    consent_id: _Id, ctx: Ctx, caller: ProfessionalDep, request: Request
) -> dict[str, Any]:
    row = await _exported_event(ctx, consent_id, caller.actor.organisation_id, request)
    return to_consent_record(to_event(row), subject_ref=f"match:{row.match_id}")


# --- encryption keys ----------------------------------------------------------------------


def _key_out(key: Any) -> EncryptionKeyOut:
    return EncryptionKeyOut(
        key_id=key.id,
        organisation_id=key.organisation_id,
        public_key=_b64(bytes(key.public_key)),
        created_at=key.created_at,
    )


@router.put(
    "/v1/organisations/me/encryption-key",
    response_model=EncryptionKeyOut,
    responses={201: {"model": EncryptionKeyOut}, **_PROBLEMS},
    summary="Register or rotate the organisation's X25519 public key (org-admin)",
)
async def put_encryption_key(
    body: EncryptionKeyIn, ctx: Ctx, principal: OrgAdminDep, response: Response
) -> EncryptionKeyOut:
    """201 for a new key (the previous one is retired and kept); 200 when it is already
    the current key."""
    raw = _unb64(body.public_key, "public_key")
    key, created = await ctx.match_consents.register_key(
        organisation_id=principal.organisation_id, public_key=raw
    )
    out = _key_out(key)
    response.status_code = 201 if created else 200
    return out


@router.get(
    "/v1/organisations/{organisation_id}/encryption-key",
    response_model=EncryptionKeyOut,
    responses=_PROBLEMS,
    summary="The current public key of an organisation that shares an open match with yours",
)
async def get_encryption_key(
    organisation_id: _Id, ctx: Ctx, principal: OrgSystemDep
) -> EncryptionKeyOut:
    key = await ctx.match_consents.key_of(
        caller_organisation_id=principal.organisation_id, organisation_id=organisation_id
    )
    return _key_out(key)


# --- exchanges ----------------------------------------------------------------------------


@router.post(
    "/v1/matches/{match_id}/exchanges",
    status_code=201,
    response_model=ExchangeCreated,
    responses=_PROBLEMS,
    summary="Send encrypted content to another participant (the exchange gate)",
    dependencies=[audited(Operation.EXCHANGE_CREATE, ref_type="match", ref_param="match_id")],
)
async def create_exchange(
    match_id: _MatchId, body: ExchangeCreate, ctx: Ctx, caller: ProfessionalDep, request: Request
) -> ExchangeCreated:
    """Allowed only when the folded consent covers sender → recipient, purpose and data
    category now, or with a legal ground and a written justification (flagged for audit).
    Otherwise 403 ``…/consent-required`` with ``missing`` and ``refused_by``."""
    enc = _unb64(body.enc, "enc")
    ciphertext = _unb64(body.ciphertext, "ciphertext")
    exchange = await ctx.match_consents.send(
        access_context(request),
        caller.actor,
        match_id,
        ExchangeRequest(
            recipient_organisation_id=body.recipient_organisation_id,
            purpose=body.purpose,
            category=body.data_category,
            enc=enc,
            ciphertext=ciphertext,
            legal_ground=None
            if body.legal_ground is None
            else (body.legal_ground.code.value, body.legal_ground.justification),
            consent_reference=body.consent_reference,
            recipient_key_id=body.recipient_key_id,
        ),
    )
    return ExchangeCreated(
        id=exchange.id,
        ledger_index=exchange.ledger_index,
        consent_reference=json.loads(exchange.consent_reference),
        flagged_for_review=exchange.flagged_for_review,
        recipient_key_id=exchange.recipient_key_id,
        created_at=exchange.created_at,
    )


@router.get(
    "/v1/exchanges",
    response_model=ExchangeInbox,
    responses=_PROBLEMS,
    summary="The inbox of the caller's organisation",
    dependencies=[audited(Operation.EXCHANGE_LIST)],
)
async def inbox(
    ctx: Ctx,
    caller: ProfessionalDep,
    request: Request,
    include_done: bool = False,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> ExchangeInbox:
    """Exchanges whose ciphertext is still available; ``include_done`` adds acknowledged,
    withdrawn and expired ones (metadata only)."""
    rows = await ctx.match_consents.inbox(
        access_context(request),
        organisation_id=caller.actor.organisation_id,
        include_done=include_done,
        limit=limit,
    )
    return ExchangeInbox(items=[_summary(e) for e in rows])


def _audited_exchange(operation: Operation) -> Any:
    return audited(operation, ref_type="exchange", ref_param="exchange_id")


@router.get(
    "/v1/exchanges/{exchange_id}",
    response_model=ExchangeOut,
    responses=_PROBLEMS,
    summary="Fetch one exchange's ciphertext (recipient only)",
    dependencies=[_audited_exchange(Operation.EXCHANGE_READ)],
)
async def get_exchange(
    exchange_id: _Id, ctx: Ctx, caller: ProfessionalDep, request: Request
) -> ExchangeOut:
    """410 when the ciphertext is gone: acknowledged, past retention, or the consent it
    rested on was withdrawn or refused before delivery."""
    e = await ctx.match_consents.fetch(
        access_context(request),
        organisation_id=caller.actor.organisation_id,
        exchange_id=exchange_id,
    )
    summary = _summary(e)
    assert e.enc is not None and e.ciphertext is not None
    enc, ciphertext = bytes(e.enc), bytes(e.ciphertext)
    reference: list[str] = json.loads(e.consent_reference)
    info = ExchangeInfo(
        match_id=e.match_id,
        consent_reference=reference,
        sender_org=e.sender_organisation_id,
        recipient_org=e.recipient_organisation_id,
    )
    key_id = e.recipient_key_id
    info_bytes = exchange_info(
        match_id=info.match_id,
        consent_reference=info.consent_reference,
        sender_org=info.sender_org,
        recipient_org=info.recipient_org,
    )
    return ExchangeOut(
        **summary.model_dump(),
        recipient_key_id=key_id,
        enc=_b64(enc),
        ciphertext=_b64(ciphertext),
        info=info,
        info_b64=_b64(info_bytes),
    )


@router.post(
    "/v1/exchanges/{exchange_id}/acknowledge",
    response_model=ExchangeSummary,
    responses=_PROBLEMS,
    summary="Acknowledge receipt; the ciphertext is deleted",
    dependencies=[_audited_exchange(Operation.EXCHANGE_ACKNOWLEDGE)],
)
async def acknowledge_exchange(
    exchange_id: _Id, ctx: Ctx, caller: ProfessionalDep, request: Request
) -> ExchangeSummary:
    e = await ctx.match_consents.acknowledge(
        access_context(request),
        organisation_id=caller.actor.organisation_id,
        exchange_id=exchange_id,
    )
    return _summary(e)

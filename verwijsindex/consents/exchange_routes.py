"""The exchange gate and organisations' encryption keys: encrypted content sent from one
participant of a match to another, where consent (or a recorded legal ground) allows it.
Every exchange route is in the access log, as the consent routes are
(:mod:`verwijsindex.consents.routes`); the encryption-key routes hold no personal data and
are not logged."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response

from consent import DataCategory, Exchange, LegalGround, Purpose
from crypto import exchange_info
from verwijsindex.accesslog import Operation
from verwijsindex.consents.routes import PROBLEMS, MatchId, PathId
from verwijsindex.consents.schemas import (
    EncryptionKeyIn,
    EncryptionKeyOut,
    ExchangeCreate,
    ExchangeCreated,
    ExchangeInbox,
    ExchangeInfo,
    ExchangeOut,
    ExchangeSummary,
)
from verwijsindex.consents.service import ExchangeRequest
from verwijsindex.http.access import access_context, audited
from verwijsindex.http.deps import Ctx, ProfessionalDep, require_role
from verwijsindex.http.problems import ApiProblem
from verwijsindex.organisations.models import Role
from verwijsindex.organisations.service import Principal

router = APIRouter(tags=["consent and exchange"])


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
    responses={201: {"model": EncryptionKeyOut}, **PROBLEMS},
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
    responses=PROBLEMS,
    summary="The current public key of an organisation that shares an open match with yours",
)
async def get_encryption_key(
    organisation_id: PathId, ctx: Ctx, principal: OrgSystemDep
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
    responses=PROBLEMS,
    summary="Send encrypted content to another participant (the exchange gate)",
    dependencies=[audited(Operation.EXCHANGE_CREATE, ref_type="match", ref_param="match_id")],
)
async def create_exchange(
    match_id: MatchId, body: ExchangeCreate, ctx: Ctx, caller: ProfessionalDep, request: Request
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
    responses=PROBLEMS,
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
    responses=PROBLEMS,
    summary="Fetch one exchange's ciphertext (recipient only)",
    dependencies=[_audited_exchange(Operation.EXCHANGE_READ)],
)
async def get_exchange(
    exchange_id: PathId, ctx: Ctx, caller: ProfessionalDep, request: Request
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
    responses=PROBLEMS,
    summary="Acknowledge receipt; the ciphertext is deleted",
    dependencies=[_audited_exchange(Operation.EXCHANGE_ACKNOWLEDGE)],
)
async def acknowledge_exchange(
    exchange_id: PathId, ctx: Ctx, caller: ProfessionalDep, request: Request
) -> ExchangeSummary:
    e = await ctx.match_consents.acknowledge(
        access_context(request),
        organisation_id=caller.actor.organisation_id,
        exchange_id=exchange_id,
    )
    return _summary(e)

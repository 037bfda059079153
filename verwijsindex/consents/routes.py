"""Consent events: recording, listing, the folded decision and the exports; the exchange
gate and the encryption keys are in :mod:`verwijsindex.consents.exchange_routes`, the bodies
in :mod:`verwijsindex.consents.schemas`.

The index decides who takes part in a match (current participation in an open match) and
hands those organisation ids to :mod:`consent`; callers outside the match get 404.

Every route about a youth's consent or an exchange is in the access log (docs/access-log.md):
its subject is the match (the youth), ``reference`` the consent event or exchange; writes
record inside their transaction, reads through :func:`record_read`, refusals through the
error handlers.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import JSONResponse

from consent import ConsentEventRow, DataCategory, Purpose, to_consent_record, to_fhir_consent
from consent._service import to_event
from verwijsindex.accesslog import Operation
from verwijsindex.consents.schemas import ConsentCreate, ConsentList, ConsentOut, DecisionOut
from verwijsindex.consents.service import ConsentEventRequest
from verwijsindex.http.access import access_context, audited
from verwijsindex.http.deps import Ctx, ProfessionalDep
from verwijsindex.http.schemas import WRITE_PROBLEMS, problem_responses

router = APIRouter(tags=["consent and exchange"])

PROBLEMS = problem_responses(*WRITE_PROBLEMS, 404, 409, 410)
MatchId = Annotated[str, Path(max_length=64)]
PathId = Annotated[str, Path(max_length=64)]


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


# --- consent events -----------------------------------------------------------------------


@router.post(
    "/v1/matches/{match_id}/consents",
    status_code=201,
    response_model=ConsentOut,
    responses=PROBLEMS,
    summary="Record a consent event (given, refused or withdrawn)",
    dependencies=[audited(Operation.CONSENT_RECORD, ref_type="match", ref_param="match_id")],
)
async def record_consent(
    match_id: MatchId, body: ConsentCreate, ctx: Ctx, caller: ProfessionalDep, request: Request
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
    responses=PROBLEMS,
    summary="Consent events of a match and the folded state per direction",
    dependencies=[audited(Operation.CONSENT_LIST, ref_type="match", ref_param="match_id")],
)
async def list_consents(
    match_id: MatchId, ctx: Ctx, caller: ProfessionalDep, request: Request
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
    responses=PROBLEMS,
    summary="Whether the caller's organisation may send now, and the consent reference to seal to",
    dependencies=[audited(Operation.CONSENT_DECISION, ref_type="match", ref_param="match_id")],
)
async def consent_decision(
    match_id: MatchId,
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
        **PROBLEMS,
    },
    summary="Export a consent event as an HL7 FHIR R5 Consent resource",
    dependencies=[_EXPORT],
)
async def consent_fhir(
    consent_id: PathId, ctx: Ctx, caller: ProfessionalDep, request: Request
) -> JSONResponse:
    """The youth is referenced by the match (``match:<id>``), never by BSN or pseudonym."""
    now = ctx.clock.now()
    row = await _exported_event(ctx, consent_id, caller.actor.organisation_id, request)
    resource = to_fhir_consent(to_event(row), subject_ref=f"match:{row.match_id}", at=now)
    return JSONResponse(resource, media_type="application/fhir+json")


@router.get(
    "/v1/consents/{consent_id}/record",
    response_model=dict[str, Any],
    responses=PROBLEMS,
    summary="A consent event as an ISO/IEC TS 27560-shaped consent record",
    dependencies=[_EXPORT],
)
async def consent_record(
    consent_id: PathId, ctx: Ctx, caller: ProfessionalDep, request: Request
) -> dict[str, Any]:
    row = await _exported_event(ctx, consent_id, caller.actor.organisation_id, request)
    return to_consent_record(to_event(row), subject_ref=f"match:{row.match_id}")

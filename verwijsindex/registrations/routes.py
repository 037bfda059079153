"""``/v1/registrations``: register a concern, read, list and withdraw."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal

import pydantic_core
from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import ValidationError
from starlette.types import Receive, Scope, Send

from verwijsindex.accesslog import Operation
from verwijsindex.context import AppContext
from verwijsindex.errors import VerwijsindexError
from verwijsindex.http.access import access_context, audited, begin_operation
from verwijsindex.http.deps import (
    Ctx,
    ProfessionalCaller,
    ProfessionalDep,
    app_context,
    bind_caller,
    cached_professional_caller,
)
from verwijsindex.http.pagination import KeysetCursor, decode_cursor, encode_cursor
from verwijsindex.http.participation import organisation_ref, professional_contact
from verwijsindex.http.problems import PROBLEM_BASE, exception_handler, status_for
from verwijsindex.http.schemas import (
    READ_PROBLEMS,
    WRITE_PROBLEMS,
    EarlierInvolvementList,
    EarlierInvolvementOut,
    InformingCreate,
    InformingOut,
    InformingState,
    ParentIn,
    RegistrationBatch,
    RegistrationBatchResult,
    RegistrationCreate,
    RegistrationOut,
    RegistrationPage,
    RegistrationRenew,
    RegistrationWithdraw,
    problem_responses,
)
from verwijsindex.registrations.duties import InformingInput
from verwijsindex.registrations.index import ParentTokens, RegistrationRequest
from verwijsindex.registrations.models import Registration, RegistrationInforming, RegistrationRow
from verwijsindex.registrations.service import BatchItem

router = APIRouter(prefix="/v1/registrations", tags=["registrations"])

_PROBLEMS = problem_responses(*READ_PROBLEMS)
_WRITE_PROBLEMS = problem_responses(*WRITE_PROBLEMS, 409)
_RATE_LIMITED = problem_responses(429)
_RATE_LIMITED[429]["headers"] = {
    "Retry-After": {
        "description": "Seconds until the limit's window ends",
        "schema": {"type": "integer"},
    }
}
_UNAVAILABLE = problem_responses(503)
_CREATE_PROBLEMS = {**_WRITE_PROBLEMS, **_RATE_LIMITED, **_UNAVAILABLE}


def parent_bsns(parents: Sequence[ParentIn]) -> tuple[str, ...]:
    """The parents named by BSN (the direct path)."""
    return tuple(p.bsn for p in parents if p.bsn is not None)


def parent_tokens(parents: Sequence[ParentIn]) -> tuple[ParentTokens, ...]:
    """The parents named by subject token (the blind path)."""
    return tuple(
        ParentTokens(p.subject_token, tuple(p.earlier_subject_tokens))
        for p in parents
        if p.subject_token is not None
    )


def to_out(
    registration: Registration | RegistrationRow,
    match_id: str | None,
    family_match_id: str | None = None,
) -> RegistrationOut:
    return RegistrationOut.model_validate(
        registration_fields(registration, match_id, family_match_id)
    )


def _registration_response(
    registration: Registration | RegistrationRow,
    match_id: str | None,
    family_match_id: str | None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    """A registration as the JSON of :class:`RegistrationOut`, serialised once here from
    plain values rather than built as the route's ``response_model`` (which documents it)
    and validated: the create route is the busiest, the read and renew routes do the same.
    tests/verwijsindex/registrations/test_reads.py holds the bodies to the model."""
    return Response(
        content=pydantic_core.to_json(registration_fields(registration, match_id, family_match_id)),
        status_code=status_code,
        media_type="application/json",
        headers=headers,
    )


def registration_fields(
    registration: Registration | RegistrationRow,
    match_id: str | None,
    family_match_id: str | None = None,
) -> dict[str, object]:
    """The fields of :class:`RegistrationOut`, in its order, as plain values: serialised with
    ``pydantic_core.to_json`` they give the same JSON as the model, without building and
    validating one (the batch route answers a thousand at once)."""
    return {
        "id": registration.id,
        # Plain strings (a status or reason may be a StrEnum member): the same JSON, and
        # serialised without looking up an enum's value.
        "status": str(registration.status),
        "created_at": registration.created_at,
        "expires_at": registration.ends_at,
        "ended_at": registration.ended_at,
        "end_reason": None if registration.end_reason is None else str(registration.end_reason),
        "match_id": match_id,
        "family_match_id": family_match_id,
        "organisation_id": registration.organisation_id,
        "professional_id": registration.professional_id,
        "municipality": registration.municipality,
    }


@router.post(
    "",
    status_code=201,
    response_model=RegistrationOut,
    responses={
        200: {"model": RegistrationOut, "description": "Already registered"},
        **_CREATE_PROBLEMS,
    },
    summary="Register involvement with a youth",
    dependencies=[audited(Operation.REGISTRATION_CREATE)],
)
async def create_registration(
    body: RegistrationCreate, caller: ProfessionalDep, request: Request
) -> Response:
    """201 for a new registration; 200 with the existing one when this professional already
    has an active registration for this youth. The BSN and birth date are never stored.
    The youth is named by ``bsn`` (direct path) or by ``subject_token`` (blind path: the
    index never sees the BSN; 409 ``blind-path-closed`` while the blind path is not open,
    409 ``subject-token-outdated`` when the tokens do not cover the key service's key
    versions). 503 ``keyservice-unavailable`` when the index's key service cannot be used.
    429 with ``Retry-After`` when the professional's or organisation's rate limit is reached."""
    return await _register_one(app_context(request), request, caller, body)


async def _register_one(
    ctx: AppContext, request: Request, caller: ProfessionalCaller, body: RegistrationCreate
) -> Response:
    outcome = await ctx.registrations.register(
        access_context(request),
        RegistrationRequest(
            actor=caller.actor,
            bsn=body.bsn,
            birth_date=body.birth_date,
            municipality=body.municipality,
            parents=parent_bsns(body.parents),
            term=body.term,
            subject_token=body.subject_token,
            earlier_subject_tokens=tuple(body.earlier_subject_tokens),
            parent_tokens=parent_tokens(body.parents),
        ),
    )
    return _registration_response(
        outcome.registration,
        outcome.match_id,
        outcome.family_match_id,
        status_code=201 if outcome.created else 200,
        headers={"Location": f"/v1/registrations/{outcome.registration.id}"},
    )


async def create_registration_direct(
    scope: Scope, body: object, receive: Receive, send: Send
) -> bool:
    """``POST /v1/registrations`` answered without FastAPI's routing and dependency
    resolution, when the request needs nothing but the common case: its JSON body matches
    :class:`RegistrationCreate` and :func:`cached_professional_caller` admits the caller.
    Returns False, having done nothing, for any other request, which then takes the route
    above (it answers the refusals). Same state, same work, same response, and an error is
    answered by the application's own exception handler, as on the route (ADR 0011)."""
    if not isinstance(body, dict):
        return False
    authorization = professional_id = None
    for name, value in scope["headers"]:
        if name == b"authorization":
            if authorization is None:
                authorization = value.decode("latin-1")
        elif name == b"x-professional-id" and professional_id is None:
            professional_id = value.decode("latin-1")
    app = scope["app"]
    ctx: AppContext = app.state.ctx
    caller = cached_professional_caller(ctx, authorization, professional_id)
    if caller is None:
        return False
    try:
        payload = RegistrationCreate.model_validate(body)
    except ValidationError:
        return False
    request = Request(scope, receive, send)
    begin_operation(request, Operation.REGISTRATION_CREATE)
    bind_caller(request, caller.principal, caller.actor.professional_id)
    try:
        response = await _register_one(ctx, request, caller, payload)
    except Exception as exc:
        handler = exception_handler(app, exc)
        if handler is None:
            raise
        response = await handler(request, exc)
    await response(scope, receive, send)
    return True


@router.post(
    ":batch",
    response_model=RegistrationBatchResult,
    responses={**_WRITE_PROBLEMS, **_UNAVAILABLE},
    summary="Register up to 1,000 youths in one request",
    dependencies=[audited(Operation.REGISTRATION_CREATE)],
)
async def create_registrations_batch(
    body: RegistrationBatch, ctx: Ctx, caller: ProfessionalDep, request: Request
) -> Response:
    """Each item is handled exactly as ``POST /v1/registrations`` would, in the given order,
    in one transaction: the same validation, idempotency, match rules and rate limits. Invalid
    items are reported per item (``status`` 422/403 with a problem) and do not stop the valid
    ones. Items over the professional's or organisation's rate limits get ``status`` 429
    (problem ``rate-limited``) and nothing about the youth; an organisation with a bulk-import
    grant (``verwijsindex admin grant-bulk-import``) counts its items against the grant
    instead. Every registered item is recorded in the access log like a single registration."""
    outcomes = await ctx.registrations.register_batch(
        access_context(request),
        caller.actor,
        [
            BatchItem(
                bsn=item.bsn,
                birth_date=item.birth_date,
                municipality=item.municipality,
                professional_id=item.professional_id,
                parents=parent_bsns(item.parents),
                term=item.term,
                subject_token=item.subject_token,
                earlier_subject_tokens=tuple(item.earlier_subject_tokens),
                parent_tokens=parent_tokens(item.parents),
            )
            for item in body.items
        ],
    )
    results: list[dict[str, object]] = []
    created = existing = 0
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, VerwijsindexError):
            results.append(_item_problem(index, status_for(outcome), outcome.code, outcome.detail))
            continue
        if outcome.created:
            created += 1
        else:
            existing += 1
        results.append(
            {
                "index": index,
                "status": 201 if outcome.created else 200,
                "registration": registration_fields(
                    outcome.registration, outcome.match_id, outcome.family_match_id
                ),
                "problem": None,
            }
        )
    # The fields of ``RegistrationBatchResult`` (the documented ``response_model``) as plain
    # values, serialised once: building and validating a thousand result models costs several
    # times their serialisation. tests/verwijsindex/registrations/test_batch.py holds the body
    # to the model.
    result = {
        "created": created,
        "existing": existing,
        "failed": len(results) - created - existing,
        "results": results,
    }
    return Response(content=pydantic_core.to_json(result), media_type="application/json")


def _item_problem(index: int, status: int, code: str, detail: str) -> dict[str, object]:
    """A failed item as the fields of :class:`BatchItemResult` (see the batch route)."""
    return {
        "index": index,
        "status": status,
        "registration": None,
        "problem": {"type": PROBLEM_BASE + code, "status": status, "detail": detail},
    }


@router.get(
    "",
    response_model=RegistrationPage,
    responses=_PROBLEMS,
    summary="List the organisation's registrations",
    dependencies=[audited(Operation.REGISTRATION_LIST)],
)
async def list_registrations(
    ctx: Ctx,
    caller: ProfessionalDep,
    request: Request,
    status: Literal["active", "withdrawn", "ended"] | None = None,
    professional_id: str | None = None,
    cursor: KeysetCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> Response:
    """The registrations of the caller's organisation, oldest first."""
    page, more = await ctx.registrations.page(
        access_context(request),
        organisation_id=caller.actor.organisation_id,
        status=status,
        professional_id=professional_id,
        after=decode_cursor(cursor),
        limit=limit,
    )
    last = page[-1][0] if more else None
    out = RegistrationPage(
        items=[to_out(registration, match, family) for registration, match, family in page],
        next_cursor=None if last is None else encode_cursor(last.created_at, last.id),
    )
    return Response(content=out.model_dump_json(), media_type="application/json")


@router.get(
    "/{registration_id}",
    response_model=RegistrationOut,
    responses=_PROBLEMS,
    summary="Read one registration of the organisation",
    dependencies=[
        audited(Operation.REGISTRATION_READ, ref_type="registration", ref_param="registration_id")
    ],
)
async def get_registration(
    registration_id: Annotated[str, Path(max_length=64)],
    ctx: Ctx,
    caller: ProfessionalDep,
    request: Request,
) -> Response:
    registration, match_id, family_match_id = await ctx.registrations.get(
        access_context(request),
        organisation_id=caller.actor.organisation_id,
        registration_id=registration_id,
    )
    return _registration_response(registration, match_id, family_match_id)


@router.post(
    "/{registration_id}/withdraw",
    response_model=RegistrationOut,
    responses=_WRITE_PROBLEMS,
    summary="Withdraw a registration",
    dependencies=[
        audited(
            Operation.REGISTRATION_WITHDRAW, ref_type="registration", ref_param="registration_id"
        )
    ],
)
async def withdraw_registration(
    registration_id: Annotated[str, Path(max_length=64)],
    body: RegistrationWithdraw,
    ctx: Ctx,
    caller: ProfessionalDep,
    request: Request,
) -> RegistrationOut:
    """End the registration now. A withdrawn registration never matches again; a match left
    with fewer than two participants is closed."""
    registration = await ctx.registrations.withdraw(
        access_context(request),
        actor=caller.actor,
        registration_id=registration_id,
        reason=body.reason,
    )
    return to_out(registration, None)


def _informing_out(record: RegistrationInforming) -> InformingOut:
    informed = [
        who
        for who, yes in (("youth", record.youth_informed), ("parents", record.parents_informed))
        if yes
    ]
    return InformingOut.model_validate(
        {
            "id": record.id,
            "status": str(record.status),
            "informed": informed,
            "informed_on": None if record.informed_on is None else record.informed_on.isoformat(),
            "reason": None if record.reason is None else str(record.reason),
            "revisit_on": None if record.revisit_on is None else record.revisit_on.isoformat(),
            "professional_id": record.professional_id,
            "recorded_at": record.recorded_at,
        }
    )


@router.post(
    "/{registration_id}/informing",
    status_code=201,
    response_model=InformingOut,
    responses=_WRITE_PROBLEMS,
    summary="Record informing the youth and/or parents, or why it is postponed",
    dependencies=[
        audited(Operation.INFORMING_RECORD, ref_type="registration", ref_param="registration_id")
    ],
)
async def record_informing(
    registration_id: Annotated[str, Path(max_length=64)],
    body: InformingCreate,
    ctx: Ctx,
    caller: ProfessionalDep,
    request: Request,
) -> InformingOut:
    """The duty to inform (Jeugdwet art. 7.1.4.3): ``informed`` with who and the day, or
    ``postponed`` with a coded reason and the day to look again. The latest record is the
    registration's state; the index reminds (``registration.inform_due``) when nothing is
    recorded within the covenant's ``inform_within`` or a postponement's day has come. Only
    the registering organisation, only while the registration is active."""
    record = await ctx.registrations.record_informing(
        access_context(request),
        actor=caller.actor,
        registration_id=registration_id,
        given=InformingInput(
            status=body.status,
            youth="youth" in body.informed,
            parents="parents" in body.informed,
            informed_on=body.informed_on,
            reason=body.reason,
            revisit_on=body.revisit_on,
        ),
    )
    return _informing_out(record)


@router.get(
    "/{registration_id}/informing",
    response_model=InformingState,
    responses=_PROBLEMS,
    summary="Read a registration's informing records",
    dependencies=[
        audited(Operation.INFORMING_READ, ref_type="registration", ref_param="registration_id")
    ],
)
async def read_informing(
    registration_id: Annotated[str, Path(max_length=64)],
    ctx: Ctx,
    caller: ProfessionalDep,
    request: Request,
) -> InformingState:
    """Only the registering organisation sees them."""
    records = await ctx.registrations.informing(
        access_context(request),
        organisation_id=caller.actor.organisation_id,
        registration_id=registration_id,
    )
    out = [_informing_out(r) for r in records]
    return InformingState(current=out[-1] if out else None, records=out)


@router.post(
    "/{registration_id}/renew",
    response_model=RegistrationOut,
    responses=_WRITE_PROBLEMS,
    summary="Renew a registration's term before it ends",
    dependencies=[
        audited(Operation.REGISTRATION_RENEW, ref_type="registration", ref_param="registration_id")
    ],
)
async def renew_registration(
    registration_id: Annotated[str, Path(max_length=64)],
    body: RegistrationRenew,
    ctx: Ctx,
    caller: ProfessionalDep,
    request: Request,
) -> Response:
    """A new term from now while the worry continues: at most two years and never past the
    23rd birthday, computed from the birth date presented again (it is not stored); the BSN
    must be the registration's youth's. 409 when the registration has ended."""
    registration, match_id, family_match_id = await ctx.registrations.renew(
        access_context(request),
        actor=caller.actor,
        registration_id=registration_id,
        bsn=body.bsn,
        birth_date=body.birth_date,
        term=body.term,
    )
    return _registration_response(registration, match_id, family_match_id)


@router.get(
    "/{registration_id}/earlier-involvement",
    response_model=EarlierInvolvementList,
    responses=_PROBLEMS,
    summary="Other organisations' earlier involvement with the registration's youth",
    dependencies=[
        audited(
            Operation.EARLIER_INVOLVEMENT_READ, ref_type="registration", ref_param="registration_id"
        )
    ],
)
async def read_earlier_involvement(
    registration_id: Annotated[str, Path(max_length=64)],
    ctx: Ctx,
    caller: ProfessionalDep,
    request: Request,
) -> EarlierInvolvementList:
    """Where the municipality's covenant switched earlier involvement on: other
    organisations whose registration of the same youth ended within the covenant's retention
    (organisation, sector, contact, end date). Empty otherwise."""
    found = await ctx.registrations.earlier_involvement(
        access_context(request),
        organisation_id=caller.actor.organisation_id,
        registration_id=registration_id,
    )
    return EarlierInvolvementList(
        items=[
            EarlierInvolvementOut(
                organisation=organisation_ref(e),
                professional=professional_contact(e),
                ended_at=e.ended_at,
            )
            for e in found
        ]
    )

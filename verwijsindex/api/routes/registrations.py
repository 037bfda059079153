"""``/v1/registrations``: register a concern, read, list and withdraw."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response
from sqlalchemy.ext.asyncio import AsyncSession

import crypto
from verwijsindex.accesslog import Operation, Subject
from verwijsindex.api.access import access_context, audited
from verwijsindex.api.deps import Ctx, ProfessionalDep
from verwijsindex.api.errors import PROBLEM_BASE, status_for
from verwijsindex.api.pagination import decode_cursor, encode_cursor
from verwijsindex.api.schemas import (
    READ_PROBLEMS,
    WRITE_PROBLEMS,
    BatchItemProblem,
    BatchItemResult,
    RegistrationBatch,
    RegistrationBatchResult,
    RegistrationCreate,
    RegistrationOut,
    RegistrationPage,
    RegistrationWithdraw,
    problem_responses,
)
from verwijsindex.domain import repository as repo
from verwijsindex.domain.models import Registration
from verwijsindex.domain.service import Actor, RegistrationRequest
from verwijsindex.errors import NotFound, VerwijsindexError

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
_CREATE_PROBLEMS = {**_WRITE_PROBLEMS, **_RATE_LIMITED}


def to_out(registration: Registration, match_id: str | None) -> RegistrationOut:
    return RegistrationOut(
        id=registration.id,
        status=registration.status,  # type: ignore[arg-type]
        created_at=registration.created_at,
        expires_at=registration.ends_at,
        ended_at=registration.ended_at,
        end_reason=registration.end_reason,
        match_id=match_id,
        organisation_id=registration.organisation_id,
        professional_id=registration.professional_id,
        municipality=registration.municipality,
    )


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
    body: RegistrationCreate,
    ctx: Ctx,
    caller: ProfessionalDep,
    response: Response,
    request: Request,
) -> RegistrationOut:
    """201 for a new registration; 200 with the existing one when this professional already
    has an active registration for this youth. The BSN and birth date are never stored.
    429 with ``Retry-After`` when the professional's or organisation's rate limit is reached."""
    access = access_context(request)

    async def work(session: AsyncSession) -> tuple[RegistrationOut, bool]:
        await ctx.abuse.check_registration_rate(
            session,
            organisation_id=caller.actor.organisation_id,
            professional_id=caller.actor.professional_id,
        )
        result = await ctx.registrations.register(
            session,
            actor=caller.actor,
            bsn=body.bsn,
            birth_date=body.birth_date,
            municipality=body.municipality,
        )
        await ctx.abuse.after_registration(
            session, registration=result.registration, created=result.created
        )
        subject = ctx.keys.access_log_subject(crypto.parse_bsn(body.bsn))
        await ctx.access_log.record(
            session,
            access,
            operation=Operation.REGISTRATION_CREATE,
            subject=Subject.person(subject),
        )
        return to_out(result.registration, result.match_id), result.created

    out, created = await ctx.writes.run(work)
    ctx.webhooks.wake()
    response.status_code = 201 if created else 200
    response.headers["Location"] = f"/v1/registrations/{out.id}"
    return out


@router.post(
    ":batch",
    response_model=RegistrationBatchResult,
    responses=_WRITE_PROBLEMS,
    summary="Register up to 1,000 youths in one request",
    dependencies=[audited(Operation.REGISTRATION_CREATE)],
)
async def create_registrations_batch(
    body: RegistrationBatch, ctx: Ctx, caller: ProfessionalDep, request: Request
) -> RegistrationBatchResult:
    """Each item is handled exactly as ``POST /v1/registrations`` would, in the given order,
    in one transaction: the same validation, idempotency and match rules. Invalid items are
    reported per item (``status`` 422/403 with a problem) and do not stop the valid ones.
    Every registered item is recorded in the access log like a single registration."""
    access = access_context(request)
    org = caller.actor.organisation_id
    named = {i.professional_id for i in body.items if i.professional_id is not None}
    async with ctx.database.read() as session:
        allowed = await repo.active_professionals_of_organisation(
            session, organisation_id=org, professional_ids=named
        )
    results: list[BatchItemResult | None] = [None] * len(body.items)
    requests: list[RegistrationRequest] = []
    positions: list[int] = []
    for index, item in enumerate(body.items):
        professional = item.professional_id or caller.actor.professional_id
        if item.professional_id is not None and item.professional_id not in allowed:
            results[index] = _item_problem(
                index,
                403,
                "professional-not-in-organisation",
                "the professional is unknown, inactive or of another organisation",
            )
            continue
        positions.append(index)
        requests.append(
            RegistrationRequest(
                actor=Actor(organisation_id=org, professional_id=professional),
                bsn=item.bsn,
                birth_date=item.birth_date,
                municipality=item.municipality,
            )
        )

    async def work(session: AsyncSession) -> list[BatchItemResult]:
        outcomes = await ctx.registrations.register_many(session, requests)
        out: list[BatchItemResult] = []
        subjects: list[Subject] = []
        per_professional: dict[str, list[Registration]] = {}
        for index, request_item, outcome in zip(positions, requests, outcomes, strict=True):
            if isinstance(outcome, VerwijsindexError):
                out.append(_item_problem(index, status_for(outcome), outcome.code, outcome.detail))
            else:
                if outcome.created:
                    per_professional.setdefault(outcome.registration.professional_id, []).append(
                        outcome.registration
                    )
                pseudonym = ctx.keys.access_log_subject(crypto.parse_bsn(request_item.bsn))
                subjects.append(Subject.person(pseudonym))
                out.append(
                    BatchItemResult(
                        index=index,
                        status=201 if outcome.created else 200,
                        registration=to_out(outcome.registration, outcome.match_id),
                    )
                )
        for created in per_professional.values():
            await ctx.abuse.after_registration(
                session, registration=created[0], created=True, count=len(created)
            )
        if subjects:
            await ctx.access_log.record_many(
                session, access, operation=Operation.REGISTRATION_CREATE, subjects=subjects
            )
        return out

    for result in await ctx.writes.run(work) if requests else []:
        results[result.index] = result
    ctx.webhooks.wake()
    final = [r for r in results if r is not None]
    return RegistrationBatchResult(
        created=sum(r.status == 201 for r in final),
        existing=sum(r.status == 200 for r in final),
        failed=sum(r.status >= 400 for r in final),
        results=final,
    )


def _item_problem(index: int, status: int, code: str, detail: str) -> BatchItemResult:
    return BatchItemResult(
        index=index,
        status=status,
        problem=BatchItemProblem(type=PROBLEM_BASE + code, status=status, detail=detail),
    )


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
    cursor: str | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> RegistrationPage:
    """The registrations of the caller's organisation, oldest first."""
    after = decode_cursor(cursor)
    async with ctx.database.transaction() as session:
        rows = await repo.list_registrations(
            session,
            organisation_id=caller.actor.organisation_id,
            status=status,
            professional_id=professional_id,
            after=after,
            limit=limit + 1,
        )
        page = rows[:limit]
        matches = await repo.open_match_ids_of_registrations(session, [r.id for r in page])
        await ctx.access_log.record_many(
            session,
            access_context(request),
            operation=Operation.REGISTRATION_LIST,
            subjects=[Subject.registration(r.id) for r in page],
        )
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return RegistrationPage(
        items=[to_out(r, matches.get(r.id)) for r in page], next_cursor=next_cursor
    )


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
) -> RegistrationOut:
    async with ctx.database.transaction() as session:
        registration = await repo.get_registration_of_organisation(
            session,
            registration_id=registration_id,
            organisation_id=caller.actor.organisation_id,
        )
        if registration is None:
            raise NotFound("registration not found")
        matches = await repo.open_match_ids_of_registrations(session, [registration.id])
        await ctx.access_log.record(
            session,
            access_context(request),
            operation=Operation.REGISTRATION_READ,
            subject=Subject.registration(registration.id),
        )
    return to_out(registration, matches.get(registration.id))


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
    async with ctx.database.transaction() as session:
        registration = await ctx.registrations.withdraw(
            session, actor=caller.actor, registration_id=registration_id, reason=body.reason
        )
        await ctx.abuse.after_withdrawal(session, registration=registration)
        await ctx.access_log.record(
            session,
            access_context(request),
            operation=Operation.REGISTRATION_WITHDRAW,
            subject=Subject.registration(registration.id),
            reason=body.reason,
        )
        out = to_out(registration, None)
    ctx.webhooks.wake()
    return out

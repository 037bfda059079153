"""``/v1/registrations``: register a concern, read, list and withdraw."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response

from verwijsindex.api.deps import Ctx, ProfessionalDep
from verwijsindex.api.errors import PROBLEM_MEDIA_TYPE
from verwijsindex.api.pagination import decode_cursor, encode_cursor
from verwijsindex.api.schemas import (
    Problem,
    RegistrationCreate,
    RegistrationOut,
    RegistrationPage,
    RegistrationWithdraw,
)
from verwijsindex.domain import repository as repo
from verwijsindex.domain.models import Registration
from verwijsindex.errors import NotFound

router = APIRouter(prefix="/v1/registrations", tags=["registrations"])

_PROBLEMS: dict[int | str, dict[str, object]] = {
    s: {"model": Problem, "content": {PROBLEM_MEDIA_TYPE: {}}} for s in (401, 403, 404, 409, 422)
}


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
    responses={200: {"model": RegistrationOut, "description": "Already registered"}, **_PROBLEMS},
    summary="Register involvement with a youth",
)
async def create_registration(
    body: RegistrationCreate, ctx: Ctx, caller: ProfessionalDep, response: Response
) -> RegistrationOut:
    """201 for a new registration; 200 with the existing one when this professional already
    has an active registration for this youth. The BSN and birth date are never stored."""
    async with ctx.database.transaction() as session:
        result = await ctx.registrations.register(
            session,
            actor=caller.actor,
            bsn=body.bsn,
            birth_date=body.birth_date,
            municipality=body.municipality,
        )
        out = to_out(result.registration, result.match_id)
    ctx.webhooks.wake()
    response.status_code = 201 if result.created else 200
    response.headers["Location"] = f"/v1/registrations/{out.id}"
    return out


@router.get("", response_model=RegistrationPage, responses=_PROBLEMS)
async def list_registrations(
    ctx: Ctx,
    caller: ProfessionalDep,
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
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if len(rows) > limit else None
    return RegistrationPage(
        items=[to_out(r, matches.get(r.id)) for r in page], next_cursor=next_cursor
    )


@router.get("/{registration_id}", response_model=RegistrationOut, responses=_PROBLEMS)
async def get_registration(
    registration_id: Annotated[str, Path(max_length=64)], ctx: Ctx, caller: ProfessionalDep
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
    return to_out(registration, matches.get(registration.id))


@router.post("/{registration_id}/withdraw", response_model=RegistrationOut, responses=_PROBLEMS)
async def withdraw_registration(
    registration_id: Annotated[str, Path(max_length=64)],
    body: RegistrationWithdraw,
    ctx: Ctx,
    caller: ProfessionalDep,
) -> RegistrationOut:
    """End the registration now. A withdrawn registration never matches again; a match left
    with fewer than two participants is closed."""
    async with ctx.database.transaction() as session:
        registration = await ctx.registrations.withdraw(
            session, actor=caller.actor, registration_id=registration_id, reason=body.reason
        )
        out = to_out(registration, None)
    ctx.webhooks.wake()
    return out

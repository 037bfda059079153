"""``/v1/family-matches``: the family matches the caller's organisation takes part in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from verwijsindex.accesslog import Operation
from verwijsindex.http.access import access_context, audited
from verwijsindex.http.deps import Ctx, ProfessionalDep
from verwijsindex.http.pagination import KeysetCursor, PageLimit
from verwijsindex.http.participation import (
    ListStatus,
    organisation_page,
    organisation_ref,
    professional_contact,
)
from verwijsindex.http.schemas import (
    READ_PROBLEMS,
    FamilyMatchOut,
    FamilyMatchPage,
    FamilyMatchSummary,
    FamilyParticipantOut,
    problem_responses,
)

router = APIRouter(prefix="/v1/family-matches", tags=["family matches"])

_PROBLEMS = problem_responses(*READ_PROBLEMS)


@router.get(
    "",
    response_model=FamilyMatchPage,
    responses=_PROBLEMS,
    summary="List the family matches the organisation takes part in",
    dependencies=[audited(Operation.FAMILY_MATCH_LIST)],
)
async def list_family_matches(
    ctx: Ctx,
    caller: ProfessionalDep,
    request: Request,
    status: ListStatus = "open",
    cursor: KeysetCursor = None,
    limit: PageLimit = 100,
) -> FamilyMatchPage:
    """Open family matches by default; ``status=closed`` or ``all`` for history within
    retention."""
    page, next_cursor = await organisation_page(
        ctx.family_matches.page, request, caller.actor.organisation_id, status, cursor, limit
    )
    return FamilyMatchPage(
        items=[
            FamilyMatchSummary(
                id=f.id, status=f.status, created_at=f.created_at, closed_at=f.closed_at
            )
            for f in page
        ],
        next_cursor=next_cursor,
    )


@router.get(
    "/{family_match_id}",
    response_model=FamilyMatchOut,
    responses=_PROBLEMS,
    summary="Read a family match: the professionals involved with the family",
    dependencies=[
        audited(Operation.FAMILY_MATCH_READ, ref_type="family_match", ref_param="family_match_id")
    ],
)
async def get_family_match(
    family_match_id: Annotated[str, Path(max_length=64)],
    ctx: Ctx,
    caller: ProfessionalDep,
    request: Request,
) -> Response:
    """The organisations and professionals involved with the family: the caller's own
    registrations with their ids, every other professional once without registration id or
    date — never which child, never which parent. 404 when the caller's organisation never
    took part."""
    organisation_id = caller.actor.organisation_id
    family = await ctx.family_matches.get(
        access_context(request), organisation_id=organisation_id, family_match_id=family_match_id
    )
    out = FamilyMatchOut(
        id=family.id,
        status=family.status,
        created_at=family.created_at,
        closed_at=family.closed_at,
        participants=[
            FamilyParticipantOut(
                registration_id=p.registration_id or None,
                organisation=organisation_ref(p),
                professional=professional_contact(p),
                registered_at=p.registered_at if p.organisation_id == organisation_id else None,
                joined_at=p.joined_at,
                left_at=p.left_at,
            )
            for p in family.participants
        ],
    )
    return Response(content=out.model_dump_json(), media_type="application/json")

"""``/v1/matches``: the matches the caller's organisation takes part in."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response

from verwijsindex.accesslog import Operation
from verwijsindex.coordination.schemas import CoordinationOut
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
    MatchOut,
    MatchPage,
    MatchSummary,
    ParticipantOut,
    problem_responses,
)

router = APIRouter(prefix="/v1/matches", tags=["matches"])

_PROBLEMS = problem_responses(*READ_PROBLEMS)


@router.get(
    "",
    response_model=MatchPage,
    responses=_PROBLEMS,
    summary="List the matches the organisation takes part in",
    dependencies=[audited(Operation.MATCH_LIST)],
)
async def list_matches(
    ctx: Ctx,
    caller: ProfessionalDep,
    request: Request,
    status: ListStatus = "open",
    cursor: KeysetCursor = None,
    limit: PageLimit = 100,
) -> MatchPage:
    """Open matches by default; ``status=closed`` or ``all`` for history within retention."""
    page, next_cursor = await organisation_page(
        ctx.matches.page, request, caller.actor.organisation_id, status, cursor, limit
    )
    return MatchPage(
        items=[
            MatchSummary(
                id=m.id,
                status=m.status,
                created_at=m.created_at,
                closed_at=m.closed_at,
                scope="cross_region" if m.cross_region else "regional",
            )
            for m in page
        ],
        next_cursor=next_cursor,
    )


@router.get(
    "/{match_id}",
    response_model=MatchOut,
    responses=_PROBLEMS,
    summary="Read a match: the participants' organisations and contact details",
    dependencies=[audited(Operation.MATCH_READ, ref_type="match", ref_param="match_id")],
)
async def get_match(
    match_id: Annotated[str, Path(max_length=64)],
    ctx: Ctx,
    caller: ProfessionalDep,
    request: Request,
) -> Response:
    """Each participant's organisation and professional contact details — nothing about the
    youth. 404 when the caller's organisation does not take part."""
    match = await ctx.matches.get(
        access_context(request), organisation_id=caller.actor.organisation_id, match_id=match_id
    )
    # Serialised once here rather than validated again against ``response_model`` (which
    # documents it): the busiest read.
    out = MatchOut(
        id=match.id,
        status=match.status,
        created_at=match.created_at,
        closed_at=match.closed_at,
        participants=[
            ParticipantOut(
                registration_id=p.registration_id,
                organisation=organisation_ref(p),
                professional=professional_contact(p) if p.contact_shared else None,
                registered_at=p.registered_at,
                joined_at=p.joined_at,
                left_at=p.left_at,
                region=p.region,
            )
            for p in match.participants
        ],
        coordination=CoordinationOut.of(match.coordination) if match.coordination else None,
        scope="cross_region" if match.cross_region else "regional",
    )
    return Response(content=out.model_dump_json(), media_type="application/json")

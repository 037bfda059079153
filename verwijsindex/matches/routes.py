"""``/v1/matches``: the matches the caller's organisation takes part in."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Request, Response

from verwijsindex.accesslog import Operation
from verwijsindex.coordination.schemas import CoordinationOut
from verwijsindex.http.access import access_context, audited
from verwijsindex.http.deps import Ctx, ProfessionalDep
from verwijsindex.http.pagination import KeysetCursor, decode_cursor, encode_cursor
from verwijsindex.http.schemas import (
    READ_PROBLEMS,
    MatchOut,
    MatchPage,
    MatchSummary,
    OrganisationRef,
    ParticipantOut,
    ProfessionalContact,
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
    status: Literal["open", "closed", "all"] = "open",
    cursor: KeysetCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MatchPage:
    """Open matches by default; ``status=closed`` or ``all`` for history within retention."""
    page, more = await ctx.matches.page(
        access_context(request),
        organisation_id=caller.actor.organisation_id,
        status=None if status == "all" else status,
        after=decode_cursor(cursor),
        limit=limit,
    )
    next_cursor = encode_cursor(page[-1].created_at, page[-1].id) if more else None
    return MatchPage(
        items=[
            MatchSummary(
                id=m.id,
                status=m.status,
                created_at=m.created_at,
                closed_at=m.closed_at,
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
                organisation=OrganisationRef(
                    id=p.organisation_id,
                    name=p.organisation_name,
                    sector=p.organisation_sector,
                ),
                professional=ProfessionalContact(
                    name=p.professional_name,
                    email=p.professional_email,
                    phone=p.professional_phone,
                ),
                registered_at=p.registered_at,
                joined_at=p.joined_at,
                left_at=p.left_at,
            )
            for p in match.participants
        ],
        coordination=CoordinationOut.of(match.coordination) if match.coordination else None,
    )
    return Response(content=out.model_dump_json(), media_type="application/json")

"""Coordination of a match: participants and the municipality-admin act and read it."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Body, Path, Query, Request

from verwijsindex.accesslog import Operation
from verwijsindex.coordination.schemas import (
    CoordinationActionIn,
    HistoryActor,
    HistoryItemOut,
    HistoryOut,
    MatchCoordinationList,
    MatchCoordinationOut,
)
from verwijsindex.coordination.service import ActionInput
from verwijsindex.coordination.state import CoordinationStatus
from verwijsindex.http.access import access_context, audited
from verwijsindex.http.deps import CoordinationCallerDep, Ctx
from verwijsindex.http.schemas import READ_PROBLEMS, WRITE_PROBLEMS, problem_responses

router = APIRouter(tags=["coordination"])

MatchId = Annotated[str, Path(max_length=64)]
_READ = problem_responses(*READ_PROBLEMS)
_WRITE = problem_responses(*WRITE_PROBLEMS, 409)


@router.post(
    "/v1/matches/{match_id}/coordination/{action}",
    response_model=MatchCoordinationOut,
    responses=_WRITE,
    summary="Act on a match's coordination",
    dependencies=[audited(Operation.COORDINATION_ACT, ref_type="match", ref_param="match_id")],
)
async def act(
    match_id: MatchId,
    action: Annotated[
        str,
        Path(
            max_length=32,
            description="accept, decline, handover, escalate, close, confirm (participants);"
            " assign, de-escalate, escalate, close (the municipality-admin)",
            examples=["confirm"],
        ),
    ],
    ctx: Ctx,
    caller: CoordinationCallerDep,
    request: Request,
    body: Annotated[CoordinationActionIn | None, Body()] = None,
) -> MatchCoordinationOut:
    """The coordination after the action. `confirm` (no body) is the accepted coordinator's
    confirmation that the professionals agreed who does what: the status stays `accepted`,
    `agreed_at` is set and the coordination deadline no longer applies. An unknown action or
    a match the caller has no part in is 404; an action this caller may not take now is 403
    (`coordination-actor-not-allowed`); one the state does not allow is 409
    (`coordination-transition-not-allowed`); a reason outside the codes is 422."""
    given = body or CoordinationActionIn()
    summary = await ctx.coordination.act(
        access_context(request),
        caller,
        match_id,
        action,
        ActionInput(reason=given.reason, organisation_id=given.organisation_id),
    )
    return MatchCoordinationOut.of(summary)


@router.get(
    "/v1/matches/{match_id}/coordination",
    response_model=MatchCoordinationOut,
    responses=_READ,
    summary="Read a match's coordination",
    dependencies=[audited(Operation.COORDINATION_READ, ref_type="match", ref_param="match_id")],
)
async def read(
    match_id: MatchId, ctx: Ctx, caller: CoordinationCallerDep, request: Request
) -> MatchCoordinationOut:
    """For the participants (also after they left) and the municipality-admin of the
    match's municipality."""
    summary = await ctx.coordination.read(access_context(request), caller, match_id)
    return MatchCoordinationOut.of(summary)


@router.get(
    "/v1/matches/{match_id}/coordination/history",
    response_model=HistoryOut,
    responses=_READ,
    summary="Who did what and when in a match's coordination (never content)",
    dependencies=[audited(Operation.COORDINATION_HISTORY, ref_type="match", ref_param="match_id")],
)
async def history(
    match_id: MatchId, ctx: Ctx, caller: CoordinationCallerDep, request: Request
) -> HistoryOut:
    items = await ctx.coordination.history(access_context(request), caller, match_id)
    return HistoryOut(
        items=[
            HistoryItemOut(
                at=i.at,
                action=i.action,
                actor=HistoryActor(role=i.actor_role, organisation_id=i.actor_organisation_id),
                reason=i.reason,
                target_organisation_id=i.target_organisation_id,
                status=i.status,
                level=i.level,
                coordinator_organisation_id=i.coordinator_organisation_id,
            )
            for i in items
        ]
    )


@router.get(
    "/v1/municipalities/{code}/coordinations",
    response_model=MatchCoordinationList,
    responses=_READ,
    summary="The coordinations of the municipality's matches (procesregie)",
    dependencies=[audited(Operation.COORDINATION_LIST)],
)
async def of_municipality(
    code: Annotated[
        str, Path(pattern="^[0-9]{4}$", description="CBS municipality code", examples=["0363"])
    ],
    ctx: Ctx,
    caller: CoordinationCallerDep,
    request: Request,
    status: Literal["proposed", "accepted", "escalated", "closed", "all"] = "escalated",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> MatchCoordinationList:
    """The municipality-admin of that municipality only (403 otherwise): match ids with
    status, level, coordinator and deadline, oldest match first; `escalated` by default."""
    found = await ctx.coordination.of_municipality(
        access_context(request),
        caller,
        code,
        status=None if status == "all" else CoordinationStatus(status),
        limit=limit,
    )
    return MatchCoordinationList(items=[MatchCoordinationOut.of(s) for s in found])

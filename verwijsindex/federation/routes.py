"""The routes between a region and the hub. No API key: each request is signed with the
region's key for its direction (``webhook-id``, ``webhook-timestamp``, ``webhook-signature``
and ``X-Federation-Region``); 401 otherwise.

* a region serves ``POST /federation/v1/reports`` (the hub's callback);
* the hub serves ``POST /hub/v1/submissions`` and ``POST /hub/v1/catch-up``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from verwijsindex.errors import NotFound
from verwijsindex.federation.schemas import (
    CatchUpResult,
    Reports,
    ReportsResult,
    Submission,
    SubmissionResult,
)
from verwijsindex.http.deps import Ctx
from verwijsindex.http.schemas import problem_responses

_SIGNED = [
    {"name": h, "in": "header", "required": True, "schema": {"type": "string"}}
    for h in ("webhook-id", "webhook-timestamp", "webhook-signature", "X-Federation-Region")
]
_PROBLEMS = problem_responses(400, 401, 404, 413, 415, 422)


def _body(model: Any) -> dict[str, Any]:
    return {
        "parameters": _SIGNED,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": model.model_json_schema()}},
        },
    }


region_router = APIRouter(prefix="/federation/v1", tags=["federation"])
hub_router = APIRouter(prefix="/hub/v1", tags=["hub"])


@region_router.post(
    "/reports",
    response_model=ReportsResult,
    responses=_PROBLEMS,
    summary="The hub reports cross-region matches (signed with the region's key)",
    openapi_extra=_body(Reports),
)
async def receive_reports(ctx: Ctx, request: Request) -> ReportsResult:
    """Each message is a match's whole state with a version; a version this region holds
    already changes nothing, so a redelivery is harmless. 404 when the index is not a
    federated region."""
    if ctx.federation is None:
        raise NotFound("not a federated region")
    applied = await ctx.federation.receive_reports(request.headers, await request.body())
    return ReportsResult(applied=applied)


@hub_router.post(
    "/submissions",
    response_model=SubmissionResult,
    responses=_PROBLEMS,
    summary="A region hands off new and ended registrations (signed with its key)",
    openapi_extra=_body(Submission),
)
async def receive_submissions(ctx: Ctx, request: Request) -> SubmissionResult:
    """Applied in order in one transaction; an item whose idempotency key the hub has seen
    is counted as a duplicate and changes nothing."""
    if ctx.hub is None:
        raise NotFound("not a hub")
    applied, duplicates = await ctx.hub.receive(request.headers, await request.body())
    return SubmissionResult(applied=applied, duplicates=duplicates)


@hub_router.post(
    "/catch-up",
    response_model=CatchUpResult,
    responses=_PROBLEMS,
    summary="A region that was away asks for its pending reports now (signed)",
    openapi_extra={
        "parameters": _SIGNED,
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        },
    },
)
async def catch_up(ctx: Ctx, request: Request) -> CatchUpResult:
    """Ends the hub's back-off for the region and wakes its delivery."""
    if ctx.hub is None:
        raise NotFound("not a hub")
    pending = await ctx.hub.catch_up(request.headers, await request.body())
    return CatchUpResult(pending=pending)

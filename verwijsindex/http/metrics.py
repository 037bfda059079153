"""``GET /metrics``: the operators' metrics in the Prometheus text format, on the API port.

Answered only with ``Authorization: Bearer <VERWIJSINDEX_METRICS_TOKEN>`` when that is set:
401 without it or with another token, 404 when it is not set (interface.md). Not in the
OpenAPI document: it is the operators' endpoint, not the API's."""

from __future__ import annotations

import hmac

from fastapi import APIRouter, Request
from fastapi.responses import Response

from verwijsindex.http.deps import Ctx
from verwijsindex.http.problems import ApiProblem
from verwijsindex.metrics import CONTENT_TYPE, render

router = APIRouter()

_BEARER = "bearer "


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, ctx: Ctx) -> Response:
    token = ctx.settings.metrics_token
    if token is None:
        raise ApiProblem(404, "not-found", "not found")
    header = request.headers.get("authorization", "")
    presented = header[len(_BEARER) :].strip() if header.lower().startswith(_BEARER) else ""
    if not hmac.compare_digest(presented.encode(), token.get_secret_value().encode()):
        raise ApiProblem(
            401,
            "unauthorized",
            "the metrics token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    gauges = await ctx.operations.read()
    return Response(render(gauges), media_type=CONTENT_TYPE)

"""``GET /v1/statistics``: counts per month and sector of a municipality, under disclosure
control (docs/statistics.md). For an ``auditor``, or the ``municipality-admin`` of that
municipality. Counts only: nothing here is personal data, so no access-log record is made."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response

from verwijsindex.http.deps import Ctx, PrincipalDep
from verwijsindex.http.problems import ApiProblem
from verwijsindex.http.schemas import READ_PROBLEMS, problem_responses
from verwijsindex.organisations.models import Role
from verwijsindex.organisations.service import Principal
from verwijsindex.statistics.schemas import StatisticsDocument, csv_text, document
from verwijsindex.statistics.service import Reader

router = APIRouter(prefix="/v1/statistics", tags=["statistics"])

_PROBLEMS = problem_responses(*READ_PROBLEMS)
_MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"


_READERS = (Role.AUDITOR, Role.MUNICIPALITY_ADMIN)


def _reader(principal: Principal) -> Reader:
    if principal.role not in _READERS:
        raise ApiProblem(
            403,
            "forbidden-role",
            "only an auditor or the municipality-admin of the municipality may read its statistics",
        )
    return Reader(role=principal.role, organisation_id=principal.organisation_id)


def _wants_csv(request: Request, format_: str | None) -> bool:
    if format_ is not None:
        return format_ == "csv"
    accept = request.headers.get("accept", "")
    return "text/csv" in accept and "application/json" not in accept


@router.get(
    "",
    response_model=StatisticsDocument,
    response_model_by_alias=True,
    responses={
        **_PROBLEMS,
        200: {
            "description": "The figures as JSON, or as CSV (`Accept: text/csv` or `format=csv`)",
            "content": {"text/csv": {"schema": {"type": "string"}}},
        },
    },
    summary="Figures of a municipality per month and sector",
)
async def statistics(
    request: Request,
    ctx: Ctx,
    principal: PrincipalDep,
    municipality: Annotated[str, Query(pattern=r"^\d{4}$", description="CBS municipality code")],
    from_: Annotated[str, Query(alias="from", pattern=_MONTH, description="First month")],
    to: Annotated[str, Query(pattern=_MONTH, description="Last month")],
    format_: Annotated[
        Literal["json", "csv"] | None,
        Query(alias="format", description="json (default) or csv; overrides Accept"),
    ] = None,
) -> Response:
    """Counts per month and sector of closed months (docs/statistics.md, "Measures"). A
    suppressed count is `null` with `"suppressed": true`; which cells are suppressed depends
    only on the municipality's own fixed grid of cells, never on the period asked for."""
    figures = await ctx.statistics.figures(
        municipality=municipality, first=from_, last=to, reader=_reader(principal)
    )
    if _wants_csv(request, format_):
        return Response(
            csv_text(figures),
            media_type="text/csv; charset=utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="statistics-{municipality}.csv"'
            },
        )
    body = document(figures).model_dump(mode="json", by_alias=True)
    return JSONResponse(body)

"""``/portal/gemeente/``: the municipality's pages, for the org admin of an organisation of
sector ``municipality`` acting as its municipality-admin: the covenant editor with its
version history, and the statistics dashboard (SVG charts, a table, a CSV download) drawn
from the statistics service under the same disclosure control as ``GET /v1/statistics``.

A covenant version made here records the signed-in professional as who changed it."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

from fastapi import APIRouter, Request
from fastapi.responses import Response

from verwijsindex.accesslog import AccessContext
from verwijsindex.covenants.service import Covenant, MunicipalityAdmin
from verwijsindex.errors import Conflict, InvalidInput
from verwijsindex.organisations.models import Role, Sector
from verwijsindex.portal.charts import bar_chart
from verwijsindex.portal.messages import MEASURE_LABELS
from verwijsindex.portal.web import NotAllowed, Page, admin_page, text
from verwijsindex.statistics.measures import MEASURES
from verwijsindex.statistics.schemas import csv_text
from verwijsindex.statistics.service import Figures, Reader, month_of, previous_month

router = APIRouter(prefix="/portal/gemeente", include_in_schema=False)

COORDINATOR_SECTORS = tuple(s.value for s in Sector if s is not Sector.MUNICIPALITY)
DEADLINES = ("respond_within", "coordinate_within", "inform_within")
_MONTH = re.compile(r"^\d{4}-(0[1-9]|1[0-2])$")
_SHOWN_MONTHS = 12


@dataclass(frozen=True, slots=True)
class Municipal:
    page: Page
    code: str

    @property
    def caller(self) -> MunicipalityAdmin:
        return MunicipalityAdmin(
            organisation_id=self.page.user.organisation_id,
            api_key_id=None,
            role=Role.MUNICIPALITY_ADMIN,
            professional_id=self.page.user.professional_id,
        )

    def access(self) -> AccessContext:
        return replace(self.page.access(), role=Role.MUNICIPALITY_ADMIN.value)


async def municipal_page(request: Request) -> Municipal:
    """The org admin of a municipality's own organisation; anyone else: 403."""
    current = await admin_page(request)
    code = current.user.municipality
    if code is None:
        raise NotAllowed
    return Municipal(current, code)


# --- the covenant ------------------------------------------------------------------------------


async def _covenant_page(
    m: Municipal,
    *,
    status: int = 200,
    errors: list[tuple[str, str]] | None = None,
    values: dict[str, str] | None = None,
    ranks: dict[str, int] | None = None,
    saved: bool = False,
) -> Response:
    covenant = await m.page.ctx.covenants.read(m.access(), m.caller, m.code)
    versions = await m.page.ctx.covenants.versions(m.access(), m.caller, m.code)
    names = await m.page.ctx.portal.professional_names(
        m.page.user.organisation_id,
        {v.changed_by_professional_id for v in versions if v.changed_by_professional_id},
    )
    return m.page.render(
        "municipality/covenant.html",
        status=status,
        municipality=m.code,
        covenant=covenant,
        versions=versions,
        names=names,
        sectors=COORDINATOR_SECTORS,
        ranks=_ranks(covenant) if ranks is None else ranks,
        values=values or _values(covenant),
        errors=errors or [],
        saved=saved,
    )


def _ranks(covenant: Covenant) -> dict[str, int]:
    return {s.value: i + 1 for i, s in enumerate(covenant.coordinator_sectors)}


def _values(covenant: Covenant) -> dict[str, str]:
    terms = covenant.terms
    return {
        "respond_within": terms.respond_within,
        "coordinate_within": terms.coordinate_within,
        "inform_within": terms.inform_within,
        "retention": terms.earlier_involvement.retention,
        "earlier": "on" if terms.earlier_involvement.enabled else "",
    }


@router.get("/convenant")
async def covenant(request: Request) -> Response:
    saved = request.query_params.get("opgeslagen") == "1"
    return await _covenant_page(await municipal_page(request), saved=saved)


_FIELD_OF = {
    "respond_within": "respond_within",
    "coordinate_within": "coordinate_within",
    "inform_within": "inform_within",
    "retention": "retention",
}


@router.post("/convenant")
async def save_covenant(request: Request) -> Response:
    m = await municipal_page(request)
    form = await m.page.form()
    values = {name: text(form, name, 32).upper() for name in (*DEADLINES, "retention")}
    values["earlier"] = "on" if form.get("earlier") == "on" else ""
    errors: list[tuple[str, str]] = []
    ranked: list[tuple[int, str]] = []
    for sector in COORDINATOR_SECTORS:
        rank = text(form, f"rank-{sector}", 3)
        if rank:
            if not rank.isdigit() or not 1 <= int(rank) <= len(COORDINATOR_SECTORS):
                errors.append((f"rank-{sector}", "Choose a position from the list."))
            else:
                ranked.append((int(rank), sector))
    positions = [r for r, _ in ranked]
    if not ranked:
        errors.append(("sectors", "Give at least one sector a position."))
    elif len(set(positions)) != len(positions):
        errors.append(("sectors", "Give each position to one sector only."))
    if not errors:
        try:
            terms = m.page.ctx.covenants.validate(
                coordinator_sectors=[s for _, s in sorted(ranked)],
                respond_within=values["respond_within"],
                coordinate_within=values["coordinate_within"],
                inform_within=values["inform_within"],
                earlier_involvement_enabled=values["earlier"] == "on",
                earlier_involvement_retention=values["retention"],
            )
        except InvalidInput as exc:
            field = next((f for key, f in _FIELD_OF.items() if key in exc.detail), "sectors")
            errors.append((field, _duration_message(field, exc.detail)))
        else:
            try:
                await m.page.ctx.covenants.replace(m.access(), m.caller, m.code, terms)
            except Conflict:
                errors.append(
                    ("sectors", "The covenant was changed at the same moment. Try again.")
                )
            else:
                return m.page.redirect("/portal/gemeente/convenant?opgeslagen=1")
    return await _covenant_page(
        m, status=422, errors=errors, values=values, ranks={s: r for r, s in ranked}
    )


def _duration_message(field: str, detail: str) -> str:
    if "at least one hour" in detail:
        return "Enter a period of at least one hour."
    if field == "retention":
        return "Enter a period of at most five years, for example P5Y."
    if "at most" in detail:
        return "Enter a period of at most a year."
    return "Enter a period such as P2D (two days) or PT12H (twelve hours)."


# --- statistics ----------------------------------------------------------------------------


def _period(request: Request, m: Municipal) -> tuple[str, str, list[tuple[str, str]]]:
    """The months asked (``van``/``tot``), by default the last twelve closed months."""
    first, last_closed = _period_default(m)
    asked_first = request.query_params.get("van", first)
    asked_last = request.query_params.get("tot", last_closed)
    errors = [
        (name, "Enter a month as YYYY-MM.")
        for name, value in (("van", asked_first), ("tot", asked_last))
        if not _MONTH.fullmatch(value)
    ]
    if errors:
        return first, last_closed, errors
    return asked_first, asked_last, []


async def _figures(m: Municipal, first: str, last: str) -> Figures:
    reader = Reader(role=Role.MUNICIPALITY_ADMIN, organisation_id=m.page.user.organisation_id)
    return await m.page.ctx.statistics.figures(
        municipality=m.code, first=first, last=last, reader=reader
    )


@router.get("/statistieken")
async def statistics(request: Request) -> Response:
    m = await municipal_page(request)
    first, last, errors = _period(request, m)
    measure = request.query_params.get("maat", MEASURES[0])
    if measure not in MEASURES:
        errors.append(("maat", "Choose a measure from the list."))
        measure = MEASURES[0]
    figures = None
    if not errors:
        try:
            figures = await _figures(m, first, last)
        except InvalidInput as exc:
            errors.append(
                ("van", "Ask for at most 60 months, the first not after the last.")
                if "months" in exc.detail or "after" in exc.detail
                else ("van", "Enter a month as YYYY-MM.")
            )
    if figures is None:
        figures = await _figures(m, *_period_default(m))
    sectors = sorted({s for month in figures.months for s in figures.cells[month]})
    charts = {
        sector: bar_chart(
            [(month, figures.cells[month][sector][measure]) for month in figures.months]
        )
        for sector in sectors
    }
    return m.page.render(
        "municipality/statistics.html",
        status=422 if errors else 200,
        municipality=m.code,
        figures=figures,
        measure=measure,
        measures=MEASURES,
        labels=MEASURE_LABELS,
        sectors=sectors,
        charts=charts,
        first=first,
        last=last,
        errors=errors,
    )


def _period_default(m: Municipal) -> tuple[str, str]:
    last = previous_month(month_of(m.page.ctx.clock.now()))
    first = last
    for _ in range(_SHOWN_MONTHS - 1):
        first = previous_month(first)
    return first, last


@router.get("/statistieken.csv")
async def statistics_csv(request: Request) -> Response:
    """Every measure of the period as CSV: the API's own rendering (suppressed: empty)."""
    m = await municipal_page(request)
    first, last, errors = _period(request, m)
    if errors:
        first, last = _period_default(m)
    try:
        figures = await _figures(m, first, last)
    except InvalidInput:
        figures = await _figures(m, *_period_default(m))
    return m.page.finish(
        Response(
            csv_text(figures),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": f'attachment; filename="statistics-{m.code}.csv"'},
        )
    )

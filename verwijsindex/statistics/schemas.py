"""The statistics document (JSON) and its CSV rendering."""

from __future__ import annotations

import csv
import io
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from verwijsindex.statistics.measures import MEASURES
from verwijsindex.statistics.service import Figures

CSV_COLUMNS = ("municipality", "month", "sector", "measure", "value", "suppressed")


class Cell(BaseModel):
    value: int | None = Field(description="The count; null when suppressed")
    suppressed: bool


class SectorFigures(BaseModel):
    sector: str
    measures: dict[str, Cell] = Field(
        description="Every published measure (docs/statistics.md, 'Measures')"
    )


class MonthFigures(BaseModel):
    month: str = Field(examples=["2026-03"])
    sectors: list[SectorFigures]


class StatisticsDocument(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    municipality: str = Field(examples=["0363"])
    from_: str = Field(alias="from", examples=["2026-01"])
    to: str = Field(examples=["2026-12"])
    threshold: int = Field(description="Counts below this are suppressed")
    complete_through: str | None = Field(
        description="The last closed month counted in full; later months are not published"
    )
    method: str = Field(description="How suppressed cells are protected (docs/statistics.md)")
    months: list[MonthFigures]


METHOD = (
    "primary suppression below the threshold; secondary suppression of complementary flow"
    " cells for the identity active(m) = active(m-1) + made(m) - ended(m); cells of a fixed"
    " grid, no totals or margins"
)


def document(figures: Figures) -> StatisticsDocument:
    return StatisticsDocument.model_validate(
        {
            "municipality": figures.municipality,
            "from": figures.first,
            "to": figures.last,
            "threshold": figures.threshold,
            "complete_through": figures.complete_through,
            "method": METHOD,
            "months": [
                {
                    "month": month,
                    "sectors": [
                        {
                            "sector": sector,
                            "measures": {
                                measure: {"value": value, "suppressed": value is None}
                                for measure, value in measures.items()
                            },
                        }
                        for sector, measures in figures.cells[month].items()
                    ],
                }
                for month in figures.months
            ],
        }
    )


def csv_text(figures: Figures) -> str:
    """One row per cell: municipality, month, sector, measure, value (empty when
    suppressed), suppressed (true/false)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for month in figures.months:
        for sector, measures in figures.cells[month].items():
            for measure in MEASURES:
                value: Any = measures[measure]
                writer.writerow(
                    (
                        figures.municipality,
                        month,
                        sector,
                        measure,
                        "" if value is None else value,
                        "true" if value is None else "false",
                    )
                )
    return out.getvalue()

"""``statistics``: a municipality's figures per month and sector as the API gives them (the
same disclosure control), as JSON or CSV, read from the database by an operator."""

from __future__ import annotations

import json

import click

from verwijsindex.cli.common import _run
from verwijsindex.context import AppContext
from verwijsindex.statistics.schemas import csv_text, document
from verwijsindex.statistics.service import Figures


@click.command("statistics")
@click.option("--municipality", required=True, help="CBS municipality code, four digits")
@click.option("--from", "first", required=True, help="First month, YYYY-MM")
@click.option("--to", "last", required=True, help="Last month, YYYY-MM")
@click.option(
    "--format",
    "format_",
    type=click.Choice(["json", "csv"]),
    default="json",
    show_default=True,
)
def statistics(municipality: str, first: str, last: str, format_: str) -> None:
    """Counts per month and sector of closed months; suppressed cells are empty (CSV) or null
    with "suppressed": true (JSON). Months that closed since the last sweep are counted
    first."""

    async def work(ctx: AppContext) -> Figures:
        return await ctx.statistics.figures(municipality=municipality, first=first, last=last)

    figures = _run(work)
    if format_ == "csv":
        click.echo(csv_text(figures), nl=False)
    else:
        body = document(figures).model_dump(mode="json", by_alias=True)
        click.echo(json.dumps(body, indent=2))

"""The measure registry: what is counted, from which source, and how.

Each *source* is one small counting query over a window of time (``repository.py``); it
yields counts per municipality, sector and a key of its own, which the source names as a
published measure. A measure that is not counted from a source is *derived*: the stock of
active registrations at month end is the running sum of the registration flows. Adding a
measure is adding a source here (and its query); the disclosure control needs to know
nothing of it unless it takes part in an identity (``IDENTITIES``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Executable

from consent import EventKind, Purpose
from verwijsindex.registrations.models import EndReason
from verwijsindex.statistics import repository as repo
from verwijsindex.statistics.disclosure import StockAndFlows

REGISTRATIONS_MADE = "registrations_made"
REGISTRATIONS_ACTIVE = "registrations_active"
MATCHES_MADE = "matches_made"


def ended(reason: EndReason | str) -> str:
    return f"registrations_ended_{EndReason(reason).value}"


def consent_events(kind: EventKind | str) -> str:
    return f"consent_{EventKind(kind).value}"


def exchanges(purpose: Purpose | str) -> str:
    return "exchanges_" + Purpose(purpose).value.replace("-", "_")


@dataclass(frozen=True)
class Source:
    """One counting query and the measure each of its keys counts."""

    name: str
    query: Executable
    measure: Callable[[str], str]


SOURCES: tuple[Source, ...] = (
    Source("registrations made", repo.REGISTRATIONS_MADE, lambda _: REGISTRATIONS_MADE),
    Source("registrations ended", repo.REGISTRATIONS_ENDED, ended),
    Source("matches made", repo.MATCHES_MADE, lambda _: MATCHES_MADE),
    Source("consent events", repo.CONSENT_EVENTS, consent_events),
    Source("exchanges", repo.EXCHANGES, exchanges),
)

ENDED = tuple(ended(reason) for reason in EndReason)

IDENTITIES: tuple[StockAndFlows, ...] = (
    StockAndFlows(stock=REGISTRATIONS_ACTIVE, inflow=REGISTRATIONS_MADE, outflows=ENDED),
)
"""The linear identities among published measures; the disclosure control protects each."""

MEASURES: tuple[str, ...] = (
    REGISTRATIONS_MADE,
    *ENDED,
    REGISTRATIONS_ACTIVE,
    MATCHES_MADE,
    *(consent_events(kind) for kind in EventKind),
    *(exchanges(purpose) for purpose in Purpose),
)
"""Every published measure, in the order of the CSV export and the JSON document."""


def derive(flows: dict[tuple[str, str, str], int], months: list[str], sectors: list[str]) -> None:
    """Add the derived stock cells to ``flows`` (every month of the grid, from the epoch)."""
    for identity in IDENTITIES:
        for sector in sectors:
            stock = 0
            for month in months:
                stock += flows.get((month, sector, identity.inflow), 0)
                stock -= sum(flows.get((month, sector, out), 0) for out in identity.outflows)
                flows[(month, sector, identity.stock)] = stock

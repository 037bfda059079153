"""The measure registry: what is counted, from which source, and how.

Each *source* is one small counting query over a window of time (``repository.py``); it
yields counts per municipality, sector and a key of its own, which the source names as a
published measure. A measure that is not counted from a source is *derived*: the stock of
active registrations at month end is the running sum of the registration flows. Adding a
measure is adding a source here (and its query); the disclosure control needs to know
nothing of it unless it takes part in an identity (``IDENTITIES``)."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Executable
from sqlalchemy.ext.asyncio import AsyncSession

from consent import EventKind, Purpose
from verwijsindex.registrations.models import EndReason, InformingStatus
from verwijsindex.statistics import repository as repo
from verwijsindex.statistics.disclosure import StockAndFlows

REGISTRATIONS_MADE = "registrations_made"
REGISTRATIONS_ACTIVE = "registrations_active"
MATCHES_MADE = "matches_made"
FAMILY_MATCHES_MADE = "family_matches_made"
COORDINATION_PROPOSED = "coordination_proposed"
COORDINATION_ACCEPTED = "coordination_accepted"
COORDINATION_ESCALATED = "coordination_escalated"
COORDINATION_DAYS_MEDIAN = "coordination_days_to_accepted_median"
COORDINATION_DAYS_P90 = "coordination_days_to_accepted_p90"
MAX_LEAD_DAYS = 400
"""Longer lead times are counted as this many days."""


def ended(reason: EndReason | str) -> str:
    return f"registrations_ended_{EndReason(reason).value}"


def consent_events(kind: EventKind | str) -> str:
    return f"consent_{EventKind(kind).value}"


def exchanges(purpose: Purpose | str) -> str:
    return "exchanges_" + Purpose(purpose).value.replace("-", "_")


Counter = Callable[[AsyncSession, dict[str, datetime]], Awaitable[list[repo.Count]]]
"""Counts (municipality, sector, measure, n) of a window (``start``, ``end``) or of what a
purge deletes (``since``, ``cutoff``)."""


def counted(query: Executable, measure: Callable[[str], str | None]) -> Counter:
    """A counting query whose key (an end reason, a kind, …) names the measure (None: not
    counted)."""

    async def count(session: AsyncSession, params: dict[str, datetime]) -> list[repo.Count]:
        rows = []
        for municipality, sector, key, n in await repo.count(session, query, params):
            name = measure(key)
            if name is not None:
                rows.append((municipality, sector, name, n))
        return rows

    return count


def lead_days(query: Executable) -> Counter:
    """First acceptances as a histogram of whole days from the match to the acceptance (the
    median and the 90th percentile are read from it; a histogram adds up window by window)."""

    async def count(session: AsyncSession, params: dict[str, datetime]) -> list[repo.Count]:
        rows: dict[tuple[str, str, str], int] = {}
        for municipality, sector, accepted, made in await repo.first_acceptances(
            session, query, params
        ):
            days = min(max((accepted - made) // timedelta(days=1), 0), MAX_LEAD_DAYS)
            key = (municipality, sector, lead_day(days))
            rows[key] = rows.get(key, 0) + 1
        return [(*key, n) for key, n in rows.items()]

    return count


@dataclass(frozen=True)
class Source:
    """One source of counts: over a window of time, and (for a source whose rows a purge
    deletes with a closed match) over what the purge deletes before the rollup saw it."""

    name: str
    window: Counter
    purged: Counter | None = None


def informing(status: InformingStatus | str) -> str:
    """``informing_informed`` or ``informing_postponed``: records of the duty to inform."""
    return f"informing_{InformingStatus(status).value}"


def _coordination(kind: str) -> str | None:
    return f"coordination_{kind}" if kind else None


SOURCES: tuple[Source, ...] = (
    Source("registrations made", counted(repo.REGISTRATIONS_MADE, lambda _: REGISTRATIONS_MADE)),
    Source("registrations ended", counted(repo.REGISTRATIONS_ENDED, ended)),
    Source("matches made", counted(repo.MATCHES_MADE, lambda _: MATCHES_MADE)),
    Source("consent events", counted(repo.CONSENT_EVENTS, consent_events)),
    Source("exchanges", counted(repo.EXCHANGES, exchanges)),
    Source(
        "coordination",
        counted(repo.COORDINATION_EVENTS, _coordination),
        counted(repo.PURGED_COORDINATION_EVENTS, _coordination),
    ),
    Source(
        "family matches made",
        counted(repo.FAMILY_MATCHES_MADE, lambda _: FAMILY_MATCHES_MADE),
        counted(repo.PURGED_FAMILY_MATCHES, lambda _: FAMILY_MATCHES_MADE),
    ),
    Source(
        "informing",
        counted(repo.INFORMING, informing),
        counted(repo.PURGED_INFORMING, informing),
    ),
    Source(
        "days to a coordinator",
        lead_days(repo.FIRST_ACCEPTANCES),
        lead_days(repo.PURGED_FIRST_ACCEPTANCES),
    ),
)
"""Registrations and matches that a purge deletes are counted by the purge hook itself
(``StatisticsService.count_before_purge``)."""

ENDED = tuple(ended(reason) for reason in EndReason)

IDENTITIES: tuple[StockAndFlows, ...] = (
    StockAndFlows(stock=REGISTRATIONS_ACTIVE, inflow=REGISTRATIONS_MADE, outflows=ENDED),
)
"""The linear identities among published measures; the disclosure control protects each."""

COUNTS: tuple[str, ...] = (
    REGISTRATIONS_MADE,
    *ENDED,
    REGISTRATIONS_ACTIVE,
    MATCHES_MADE,
    FAMILY_MATCHES_MADE,
    COORDINATION_PROPOSED,
    COORDINATION_ACCEPTED,
    COORDINATION_ESCALATED,
    *(consent_events(kind) for kind in EventKind),
    *(exchanges(purpose) for purpose in Purpose),
    *(informing(status) for status in InformingStatus),
)
"""The published counts: each below the threshold is suppressed (primary suppression)."""

LEAD_DAYS_STATISTICS: tuple[tuple[str, float], ...] = (
    (COORDINATION_DAYS_MEDIAN, 0.5),
    (COORDINATION_DAYS_P90, 0.9),
)
"""Order statistics of the days from a match to its first accepted coordinator: published
only when the acceptances they are read from number at least the threshold."""

MEASURES: tuple[str, ...] = (*COUNTS, *(name for name, _ in LEAD_DAYS_STATISTICS))
"""Every published measure, in the order of the CSV export and the JSON document."""


def lead_day(days: int) -> str:
    return f"coordination_lead_days_{days}"


def lead_days_statistics(
    cells: dict[tuple[str, str, str], int], month: str, sector: str
) -> tuple[int, dict[str, int]]:
    """The number of first acceptances of a cell and its order statistics (nearest rank)."""
    histogram = [cells.get((month, sector, lead_day(d)), 0) for d in range(MAX_LEAD_DAYS + 1)]
    n = sum(histogram)
    found: dict[str, int] = {}
    for name, fraction in LEAD_DAYS_STATISTICS:
        if n == 0:
            continue
        rank = max(1, math.ceil(fraction * n))
        seen = 0
        for days, k in enumerate(histogram):
            seen += k
            if seen >= rank:
                found[name] = days
                break
    return n, found


def derive(flows: dict[tuple[str, str, str], int], months: list[str], sectors: list[str]) -> None:
    """Add the derived stock cells to ``flows`` (every month of the grid, from the epoch)."""
    for identity in IDENTITIES:
        for sector in sectors:
            stock = 0
            for month in months:
                stock += flows.get((month, sector, identity.inflow), 0)
                stock -= sum(flows.get((month, sector, out), 0) for out in identity.outflows)
                flows[(month, sector, identity.stock)] = stock

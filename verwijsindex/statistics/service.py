"""``StatisticsService``: the rollup (off the hot path, run by the sweep) and the figures of a
municipality under disclosure control. Each method is its own unit of work."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.clock import Clock
from verwijsindex.errors import Forbidden, InvalidInput
from verwijsindex.logging import get_logger
from verwijsindex.organisations import repository as org_repo
from verwijsindex.organisations.models import Role, Sector
from verwijsindex.statistics import repository as repo
from verwijsindex.statistics.disclosure import suppress
from verwijsindex.statistics.measures import (
    COUNTS,
    IDENTITIES,
    LEAD_DAYS_STATISTICS,
    MATCHES_MADE,
    MEASURES,
    REGISTRATIONS_MADE,
    SOURCES,
    derive,
    ended,
    lead_days_statistics,
)
from verwijsindex.storage import Database

log = get_logger(__name__)

_MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
_MUNICIPALITY = re.compile(r"\d{4}")
MAX_MONTHS = 120
SECTORS: tuple[str, ...] = tuple(sector.value for sector in Sector)
"""Every sector is in the grid, with or without registrations: the grid is fixed."""


def month_of(at: datetime) -> str:
    return f"{at.year:04d}-{at.month:02d}"


def month_start(month: str) -> datetime:
    year, number = (int(part) for part in month.split("-"))
    return datetime(year, number, 1, tzinfo=UTC)


def next_month(month: str) -> str:
    start = month_start(month)
    return month_of((start + timedelta(days=32)).replace(day=1))


def previous_month(month: str) -> str:
    return month_of(month_start(month) - timedelta(days=1))


def months_between(first: str, last: str) -> list[str]:
    months: list[str] = []
    month = first
    while month <= last:
        months.append(month)
        month = next_month(month)
    return months


def parse_month(text: str, name: str) -> str:
    found = _MONTH.fullmatch(text)
    if not found:
        raise InvalidInput(f"{name} must be a month as YYYY-MM")
    if not 2000 <= int(found.group(1)) <= 2999:
        raise InvalidInput(f"{name} must be a month from 2000-01 on")
    return text


def month_count(first: str, last: str) -> int:
    """Months from ``first`` to ``last``, both included."""
    (y1, m1), (y2, m2) = ((int(p) for p in month.split("-")) for month in (first, last))
    return (y2 - y1) * 12 + (m2 - m1) + 1


@dataclass(frozen=True)
class Reader:
    """Who asks for figures: the API key's role and organisation."""

    role: Role
    organisation_id: str


@dataclass(frozen=True)
class RollupResult:
    counted_through: datetime | None
    windows: int
    cells: int


@dataclass(frozen=True)
class Figures:
    """A municipality's published cells for the months asked (those of them that are closed
    and in the grid): ``cells[month][sector][measure]`` is a count or None (suppressed)."""

    municipality: str
    first: str
    last: str
    threshold: int
    complete_through: str | None
    months: list[str]
    cells: dict[str, dict[str, dict[str, int | None]]]


class StatisticsService:
    def __init__(self, *, database: Database, clock: Clock, threshold: int, lag: timedelta) -> None:
        self._database = database
        self._clock = clock
        self._threshold = threshold
        self._lag = lag

    @property
    def threshold(self) -> int:
        return self._threshold

    async def roll_up(self) -> RollupResult:
        """Count every source row stamped since the watermark and before ``now - lag`` (rows
        of transactions still running are stamped earlier than their commit; the lag covers
        them), add the counts to their months' cells and move the watermark, all in one
        transaction. Windows are cut at month boundaries, so each count has one month."""
        async with self._database.transaction() as session:
            state = await repo.lock_rollup(session)
            end = self._clock.now() - self._lag
            start = state.counted_through
            if start is None:
                oldest = await repo.oldest_stamp(session)
                start = min(oldest, end) if oldest is not None else end
            epoch = state.epoch or month_of(start)
            windows = cells = 0
            while start < end:
                stop = min(end, month_start(next_month(month_of(start))))
                month = month_of(start)
                rows: dict[tuple[str, str, str, str], int] = {}
                for source in SOURCES:
                    window = {"start": start, "end": stop}
                    for municipality, sector, measure, n in await source.window(session, window):
                        cell = (municipality, month, sector, measure)
                        rows[cell] = rows.get(cell, 0) + n
                await repo.add_counts(session, [(*cell, n) for cell, n in rows.items()])
                windows += 1
                cells += len(rows)
                start = stop
            await repo.advance(session, epoch=epoch, counted_through=max(start, end))
        log.info("statistics_rollup", windows=windows, cells=cells)
        return RollupResult(counted_through=max(start, end), windows=windows, cells=cells)

    async def count_before_purge(self, session: AsyncSession, cutoff: datetime) -> None:
        """The purge's hook, in its transaction, before it deletes registrations that ended
        and matches that closed at or before ``cutoff``: count what the rollup has not
        counted yet (stamped at or after the watermark), because the rollup will not see
        those rows again. The watermark row is locked, so a rollup waits for the purge."""
        state = await repo.lock_rollup(session)
        since = state.counted_through or datetime.min.replace(tzinfo=UTC)
        rows: dict[tuple[str, str, str, str], int] = {}

        def add(cell: tuple[str, str, str, str]) -> None:
            rows[cell] = rows.get(cell, 0) + 1

        for municipality, sector, created, ended_at, reason in await repo.purged_registrations(
            session, since=since, cutoff=cutoff
        ):
            if created >= since:
                add((municipality, month_of(created), sector, REGISTRATIONS_MADE))
            add((municipality, month_of(ended_at), sector, ended(reason)))
        matches: set[tuple[str, str, str]] = set()
        for municipality, sector, match_id, created in await repo.purged_matches(
            session, since=since, cutoff=cutoff
        ):
            if (municipality, sector, match_id) not in matches:
                matches.add((municipality, sector, match_id))
                add((municipality, month_of(created), sector, MATCHES_MADE))
        await repo.add_counts(session, [(*cell, n) for cell, n in rows.items()])
        rows.clear()
        # what goes with a closed match (its coordination), month by month since the watermark
        start = state.counted_through
        now = self._clock.now()
        while start is not None and start <= now:
            until = month_start(next_month(month_of(start)))
            purged = {"since": start, "until": until, "cutoff": cutoff}
            for source in SOURCES:
                if source.purged is not None:
                    for municipality, sector, measure, n in await source.purged(session, purged):
                        cell = (municipality, month_of(start), sector, measure)
                        rows[cell] = rows.get(cell, 0) + n
            start = until
        await repo.add_counts(session, [(*cell, n) for cell, n in rows.items()])

    async def counted_through(self) -> datetime | None:
        async with self._database.read() as session:
            return (await repo.watermark(session))[1]

    async def may_read(self, reader: Reader, municipality: str) -> None:
        """An auditor reads every municipality's figures; a municipality-admin (a key of an
        organisation of sector municipality) only its own municipality's; nobody else."""
        if reader.role is Role.AUDITOR:
            return
        if reader.role is Role.MUNICIPALITY_ADMIN:
            async with self._database.read() as session:
                organisation = await org_repo.get_organisation(session, reader.organisation_id)
            if (
                organisation is not None
                and organisation.sector == Sector.MUNICIPALITY
                and organisation.municipality == municipality
            ):
                return
            raise Forbidden("a municipality-admin reads only its own municipality's statistics")
        raise Forbidden("only an auditor or the municipality's municipality-admin reads statistics")

    async def figures(
        self, *, municipality: str, first: str, last: str, reader: Reader | None = None
    ) -> Figures:
        """The published cells of ``municipality`` from month ``first`` to ``last``, for
        ``reader`` (:meth:`may_read`; None: an operator on the command line).

        Only closed months that the rollup has counted in full are published; a month that
        closed since the last rollup is counted first (once per month, not per request)."""
        if not _MUNICIPALITY.fullmatch(municipality):
            raise InvalidInput("municipality must be a four-digit CBS municipality code")
        if reader is not None:
            await self.may_read(reader, municipality)
        first, last = parse_month(first, "from"), parse_month(last, "to")
        if first > last:
            raise InvalidInput("from must not be after to")
        if month_count(first, last) > MAX_MONTHS:
            raise InvalidInput(f"ask for at most {MAX_MONTHS} months at a time")
        countable = month_of(self._clock.now() - self._lag)
        async with self._database.read() as session:
            epoch, counted = await repo.watermark(session)
        if counted is None or month_of(counted) < countable:
            await self.roll_up()
            async with self._database.read() as session:
                epoch, counted = await repo.watermark(session)
        if epoch is None or counted is None or month_of(counted) <= epoch:
            return Figures(municipality, first, last, self._threshold, None, [], {})
        complete = previous_month(month_of(counted))
        grid = months_between(epoch, complete)
        async with self._database.read() as session:
            values = await repo.cells(session, municipality=municipality, months=grid)
        derive(values, grid, list(SECTORS))
        hidden = suppress(
            values,
            months=grid,
            sectors=SECTORS,
            measures=COUNTS,
            threshold=self._threshold,
            identities=IDENTITIES,
        )
        for month in grid:
            for sector in SECTORS:
                n, found = lead_days_statistics(values, month, sector)
                for name, _ in LEAD_DAYS_STATISTICS:
                    if n < self._threshold or name not in found:
                        hidden.add((month, sector, name))
                    else:
                        values[(month, sector, name)] = found[name]
        shown = [month for month in grid if first <= month <= last]
        cells = {
            month: {
                sector: {
                    measure: None
                    if (month, sector, measure) in hidden
                    else values.get((month, sector, measure), 0)
                    for measure in MEASURES
                }
                for sector in SECTORS
            }
            for month in shown
        }
        return Figures(municipality, first, last, self._threshold, complete, shown, cells)

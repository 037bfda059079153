"""Queries of the statistics rollup: one small counting query per source over a window of
time ``(start, end]``, and the rollup's own table. Repositories never commit."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Executable, and_, bindparam, case, func, literal, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from consent import ConsentEventRow, Exchange
from verwijsindex.coordination.machine import Action
from verwijsindex.coordination.models import Coordination, CoordinationEvent
from verwijsindex.coordination.state import CoordinationStatus
from verwijsindex.families.models import FamilyMatch, FamilyMatchParticipant, FamilyMatchStatus
from verwijsindex.matches.models import Match, MatchParticipant, MatchStatus
from verwijsindex.organisations.models import Organisation, Sector
from verwijsindex.registrations.models import (
    Registration,
    RegistrationInforming,
    RegistrationStatus,
)
from verwijsindex.statistics.models import StatisticsCell, StatisticsRollup
from verwijsindex.storage.queries import status_is

ACCEPTING_ACTIONS = (Action.ACCEPT.value, Action.ASSIGN.value)
"""The actions after which a coordinator has accepted (a participant's acceptance, or the
municipality's assignment)."""
DE_ESCALATE = Action.DE_ESCALATE.value

Count = tuple[str, str, str, int]
"""(municipality, sector, measure key, count); the measure key is the source's own (an end
reason, a consent event kind, an exchange purpose) or empty."""

_START = bindparam("start", type_=Registration.created_at.type)
_END = bindparam("end", type_=Registration.created_at.type)
_SINCE = bindparam("since", type_=Registration.created_at.type)
_CUTOFF = bindparam("cutoff", type_=Registration.created_at.type)


def _window(column: Any) -> Any:
    return (column >= _START) & (column < _END)


REGISTRATIONS_MADE: Executable = (
    select(Registration.municipality, Organisation.sector, text("''"), func.count())
    .select_from(Organisation)
    .join(Registration, Registration.organisation_id == Organisation.id)
    .where(
        # each organisation's registrations of the window by (organisation_id, created_at):
        # the hot table has no index by time alone (a write per registration, ADR 0017), and
        # the IN list makes a planner walk that index organisation by organisation
        Registration.organisation_id.in_(select(Organisation.id)),
        _window(Registration.created_at),
    )
    .group_by(Registration.municipality, Organisation.sector)
)

REGISTRATIONS_ENDED: Executable = (
    select(Registration.municipality, Organisation.sector, Registration.end_reason, func.count())
    .select_from(Registration)
    .join(Organisation, Organisation.id == Registration.organisation_id)
    .where(
        status_is(Registration.status, RegistrationStatus.ACTIVE, negate=True),
        _window(Registration.ended_at),
    )
    .group_by(Registration.municipality, Organisation.sector, Registration.end_reason)
)

MATCHES_MADE: Executable = (
    select(
        Registration.municipality, Organisation.sector, text("''"), func.count(Match.id.distinct())
    )
    .select_from(Match)
    .join(MatchParticipant, MatchParticipant.match_id == Match.id)
    .join(Registration, Registration.id == MatchParticipant.registration_id)
    .join(Organisation, Organisation.id == Registration.organisation_id)
    .where(_window(Match.created_at))
    .group_by(Registration.municipality, Organisation.sector)
)

CONSENT_EVENTS: Executable = (
    select(Organisation.municipality, Organisation.sector, ConsentEventRow.kind, func.count())
    .select_from(ConsentEventRow)
    .join(Organisation, Organisation.id == ConsentEventRow.organisation_id)
    .where(_window(ConsentEventRow.recorded_at))
    .group_by(Organisation.municipality, Organisation.sector, ConsentEventRow.kind)
)

EXCHANGES: Executable = (
    select(Organisation.municipality, Organisation.sector, Exchange.purpose, func.count())
    .select_from(Exchange)
    .join(Organisation, Organisation.id == Exchange.sender_organisation_id)
    .where(_window(Exchange.created_at))
    .group_by(Organisation.municipality, Organisation.sector, Exchange.purpose)
)

PURGED_REGISTRATIONS: Executable = (
    select(
        Registration.municipality,
        Organisation.sector,
        Registration.created_at,
        Registration.ended_at,
        Registration.end_reason,
    )
    .select_from(Registration)
    .join(Organisation, Organisation.id == Registration.organisation_id)
    .where(
        status_is(Registration.status, RegistrationStatus.ACTIVE, negate=True),
        Registration.ended_at >= _SINCE,
        Registration.ended_at <= _CUTOFF,
    )
)
"""Registrations the purge deletes that ended at or after the watermark (so not yet counted;
a registration is made before it ends, so these hold every uncounted one)."""

PURGED_MATCHES: Executable = (
    select(Registration.municipality, Organisation.sector, Match.id, Match.created_at)
    .select_from(Match)
    .join(MatchParticipant, MatchParticipant.match_id == Match.id)
    .join(Registration, Registration.id == MatchParticipant.registration_id)
    .join(Organisation, Organisation.id == Registration.organisation_id)
    .where(
        status_is(Match.status, MatchStatus.CLOSED),
        Match.closed_at >= _SINCE,
        Match.closed_at <= _CUTOFF,
        Match.created_at >= _SINCE,
    )
)
"""Matches the purge deletes that were made at or after the watermark, with their
participants' municipality and sector."""


async def purged_registrations(
    session: AsyncSession, *, since: datetime, cutoff: datetime
) -> list[tuple[str, str, datetime, datetime, str]]:
    result = await session.execute(PURGED_REGISTRATIONS, {"since": since, "cutoff": cutoff})
    return [(str(m), str(s), c, e, str(r)) for m, s, c, e, r in result]


async def purged_matches(
    session: AsyncSession, *, since: datetime, cutoff: datetime
) -> list[tuple[str, str, str, datetime]]:
    result = await session.execute(PURGED_MATCHES, {"since": since, "cutoff": cutoff})
    return [(str(m), str(s), str(i), c) for m, s, i, c in result]


_EVENT_ORGANISATION = Organisation.id == func.coalesce(
    CoordinationEvent.coordinator_organisation_id, CoordinationEvent.actor_organisation_id
)
_EVENT_SECTOR = func.coalesce(Organisation.sector, literal(Sector.MUNICIPALITY.value))
"""A coordination event's sector: its coordinator's, else its actor's, else the
municipality's (an escalation by a deadline, at level 2)."""
_COORDINATION_KIND = case(
    (
        and_(
            CoordinationEvent.status == CoordinationStatus.ACCEPTED.value,
            CoordinationEvent.action.in_(ACCEPTING_ACTIONS),
        ),
        literal("accepted"),
    ),
    (
        and_(
            CoordinationEvent.status == CoordinationStatus.ESCALATED.value,
            CoordinationEvent.action != DE_ESCALATE,
        ),
        literal("escalated"),
    ),
    (CoordinationEvent.status == CoordinationStatus.PROPOSED.value, literal("proposed")),
    else_=literal(""),
)


def _coordination_events(*where: Any) -> Executable:
    return (
        select(Coordination.municipality, _EVENT_SECTOR, _COORDINATION_KIND, func.count())
        .select_from(CoordinationEvent)
        .join(Coordination, Coordination.match_id == CoordinationEvent.match_id)
        .outerjoin(Organisation, _EVENT_ORGANISATION)
        .where(*where)
        .group_by(Coordination.municipality, _EVENT_SECTOR, _COORDINATION_KIND)
    )


def _first_acceptances(*where: Any) -> Executable:
    return (
        select(
            Coordination.municipality,
            _EVENT_SECTOR,
            CoordinationEvent.at,
            Coordination.match_created_at,
        )
        .select_from(CoordinationEvent)
        .join(Coordination, Coordination.match_id == CoordinationEvent.match_id)
        .outerjoin(Organisation, _EVENT_ORGANISATION)
        .where(
            CoordinationEvent.action.in_(ACCEPTING_ACTIONS),
            CoordinationEvent.status == CoordinationStatus.ACCEPTED.value,
            CoordinationEvent.at == Coordination.first_accepted_at,
            *where,
        )
    )


COORDINATION_EVENTS = _coordination_events(_window(CoordinationEvent.at))
FIRST_ACCEPTANCES = _first_acceptances(_window(CoordinationEvent.at))

_UNTIL = bindparam("until", type_=Registration.created_at.type)
_OF_PURGED_MATCH = (
    CoordinationEvent.at >= _SINCE,
    CoordinationEvent.at < _UNTIL,
    CoordinationEvent.match_id.in_(
        select(Match.id).where(
            status_is(Match.status, MatchStatus.CLOSED),
            Match.closed_at <= _CUTOFF,
        )
    ),
)
PURGED_COORDINATION_EVENTS = _coordination_events(*_OF_PURGED_MATCH)
PURGED_FIRST_ACCEPTANCES = _first_acceptances(*_OF_PURGED_MATCH)
"""Coordination events, not counted yet, of the matches the purge deletes (their
coordination goes with them)."""


def _family_matches(*where: Any) -> Executable:
    return (
        select(
            Registration.municipality,
            Organisation.sector,
            text("''"),
            func.count(FamilyMatch.id.distinct()),
        )
        .select_from(FamilyMatch)
        .join(FamilyMatchParticipant, FamilyMatchParticipant.family_match_id == FamilyMatch.id)
        .join(Registration, Registration.id == FamilyMatchParticipant.registration_id)
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .where(*where)
        .group_by(Registration.municipality, Organisation.sector)
    )


def _informing(*where: Any) -> Executable:
    return (
        select(
            Registration.municipality,
            Organisation.sector,
            RegistrationInforming.status,
            func.count(),
        )
        .select_from(RegistrationInforming)
        .join(Registration, Registration.id == RegistrationInforming.registration_id)
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .where(*where)
        .group_by(Registration.municipality, Organisation.sector, RegistrationInforming.status)
    )


FAMILY_MATCHES_MADE = _family_matches(_window(FamilyMatch.created_at))
PURGED_FAMILY_MATCHES = _family_matches(
    status_is(FamilyMatch.status, FamilyMatchStatus.CLOSED),
    FamilyMatch.closed_at <= _CUTOFF,
    FamilyMatch.created_at >= _SINCE,
    FamilyMatch.created_at < _UNTIL,
)
"""Family matches made, not counted yet, that the purge deletes."""
INFORMING = _informing(_window(RegistrationInforming.recorded_at))
PURGED_INFORMING = _informing(
    status_is(Registration.status, RegistrationStatus.ACTIVE, negate=True),
    Registration.ended_at <= _CUTOFF,
    RegistrationInforming.recorded_at >= _SINCE,
    RegistrationInforming.recorded_at < _UNTIL,
)
"""Informing records, not counted yet, of the registrations the purge deletes."""


async def first_acceptances(
    session: AsyncSession, query: Executable, params: dict[str, datetime]
) -> list[tuple[str, str, datetime, datetime]]:
    """(municipality, sector, accepted at, match made at) of first acceptances."""
    result = await session.execute(query, params)
    return [(str(m), str(s), at, made) for m, s, at, made in result]


_OLDEST_OF_ORGANISATION = (
    select(func.min(Registration.created_at))
    .where(Registration.organisation_id == Organisation.id)
    .scalar_subquery()
)
OLDEST = (
    # each organisation's oldest registration: one step into its (organisation_id,
    # created_at) index, never a scan of the registrations table
    select(func.min(_OLDEST_OF_ORGANISATION)).select_from(Organisation),
    select(func.min(Match.created_at)),
    select(func.min(FamilyMatch.created_at)),
    select(func.min(ConsentEventRow.recorded_at)),
    select(func.min(Exchange.created_at)),
    select(func.min(CoordinationEvent.at)),
    select(func.min(RegistrationInforming.recorded_at)),
)
"""The oldest stamp of each source (by its index by time): where the first rollup starts."""


async def count(
    session: AsyncSession, query: Executable, params: dict[str, datetime]
) -> list[Count]:
    result = await session.execute(query, params)
    return [(str(m), str(s), str(k or ""), int(n)) for m, s, k, n in result]


async def oldest_stamp(session: AsyncSession) -> datetime | None:
    found = [await session.scalar(query) for query in OLDEST]
    stamps = [stamp for stamp in found if stamp is not None]
    return min(stamps) if stamps else None


async def watermark(session: AsyncSession) -> tuple[str | None, datetime | None]:
    """The grid's epoch and the watermark (both None before the first rollup)."""
    found = (
        await session.execute(
            select(StatisticsRollup.epoch, StatisticsRollup.counted_through).where(
                StatisticsRollup.id == 1
            )
        )
    ).first()
    return (found[0], found[1]) if found is not None else (None, None)


async def lock_rollup(session: AsyncSession) -> StatisticsRollup:
    """The watermark row (created on first use), locked against a concurrent rollup."""
    query = select(StatisticsRollup).where(StatisticsRollup.id == 1).with_for_update()
    state = await session.scalar(query)
    if state is None:
        state = StatisticsRollup(id=1, epoch=None, counted_through=None)
        session.add(state)
        await session.flush()
    return state


async def advance(session: AsyncSession, *, epoch: str, counted_through: datetime) -> None:
    await session.execute(
        update(StatisticsRollup)
        .where(StatisticsRollup.id == 1)
        .values(epoch=epoch, counted_through=counted_through)
    )


_ADD = text(
    "INSERT INTO statistics_cells (municipality, month, sector, measure, value)"
    " VALUES (:municipality, :month, :sector, :measure, :value)"
    " ON CONFLICT (municipality, month, sector, measure)"
    " DO UPDATE SET value = statistics_cells.value + excluded.value"
)


async def add_counts(session: AsyncSession, rows: Iterable[tuple[str, str, str, str, int]]) -> None:
    """Add counts (municipality, month, sector, measure, count) to the cells."""
    params = [
        {"municipality": m, "month": mo, "sector": s, "measure": me, "value": v}
        for m, mo, s, me, v in rows
    ]
    if params:
        await session.execute(_ADD, params)


async def cells(
    session: AsyncSession, *, municipality: str, months: Sequence[str]
) -> dict[tuple[str, str, str], int]:
    """A municipality's cells of the given months, by (month, sector, measure)."""
    if not months:
        return {}
    result = await session.execute(
        select(
            StatisticsCell.month,
            StatisticsCell.sector,
            StatisticsCell.measure,
            StatisticsCell.value,
        ).where(
            StatisticsCell.municipality == municipality,
            StatisticsCell.month >= months[0],
            StatisticsCell.month <= months[-1],
        )
    )
    return {(mo, s, me): int(v) for mo, s, me, v in result}

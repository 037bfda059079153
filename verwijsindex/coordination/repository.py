"""Every query on coordinations and their history. Never commits."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.coordination.machine import Participant
from verwijsindex.coordination.models import Coordination, CoordinationEvent
from verwijsindex.coordination.state import CoordinationStatus, CoordinationSummary
from verwijsindex.matches.models import MatchParticipant
from verwijsindex.organisations.models import Organisation, Sector
from verwijsindex.registrations.models import Registration
from verwijsindex.storage.base import DictInsert, Staged

_LIVE = (CoordinationStatus.PROPOSED, CoordinationStatus.ACCEPTED)


_INSERT_EVENTS = insert(cast(Table, CoordinationEvent.__table__))


_COORDINATION_ROWS = DictInsert(cast(Table, Coordination.__table__))
_EVENT_ROWS = DictInsert(cast(Table, CoordinationEvent.__table__))


def staged(rows: Sequence[dict[str, Any]], events: Sequence[dict[str, Any]]) -> Staged:
    """New coordinations and their first history rows, given as every column's value, as
    rows for :func:`~verwijsindex.storage.base.insert_rows` (the match path writes them with
    the write group's other new rows)."""
    return [_COORDINATION_ROWS.staged(rows), _EVENT_ROWS.staged(events)]


async def add_event(session: AsyncSession, event: dict[str, Any]) -> None:
    await session.execute(_INSERT_EVENTS, [event])


async def lock(
    session: AsyncSession, match_id: str, *, skip_locked: bool = False
) -> Coordination | None:
    """The match's coordination, locked for this transaction on PostgreSQL (``skip_locked``:
    None when another transaction holds it). SQLite serialises writers with BEGIN IMMEDIATE."""
    statement = (
        select(Coordination)
        .where(Coordination.match_id == match_id)
        .with_for_update(skip_locked=skip_locked)
        .execution_options(populate_existing=True)
    )
    return (await session.execute(statement)).scalar_one_or_none()


async def update_if_version(
    session: AsyncSession, match_id: str, version: int, values: dict[str, Any]
) -> bool:
    """Write ``values`` and the next version only if the row is still at ``version``."""
    result = await session.execute(
        update(Coordination)
        .where(Coordination.match_id == match_id, Coordination.version == version)
        .values(**values, version=version + 1)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount) == 1  # type: ignore[attr-defined]


async def participants(session: AsyncSession, match_id: str) -> list[Participant]:
    """The match's open registrations with their organisation's sector, oldest first."""
    rows = await session.execute(
        select(
            MatchParticipant.organisation_id,
            MatchParticipant.registration_id,
            Organisation.sector,
            Registration.created_at,
        )
        .join(Organisation, Organisation.id == MatchParticipant.organisation_id)
        .join(Registration, Registration.id == MatchParticipant.registration_id)
        .where(MatchParticipant.match_id == match_id, MatchParticipant.left_at.is_(None))
        .order_by(Registration.created_at, Registration.id)
    )
    return [Participant(org, reg, str(sector), at) for org, reg, sector, at in rows]


async def states_of(
    session: AsyncSession, match_ids: Collection[str]
) -> dict[str, tuple[CoordinationStatus, bool]]:
    """Each match's coordination status and whether it is agreed, in one statement. The rows
    are share-locked on PostgreSQL, so an action on one of them waits for this transaction
    (and then sees its participants) or this one waits for the action (and sees its result)."""
    rows = await session.execute(
        select(Coordination.match_id, Coordination.status, Coordination.agreed_at)
        .where(Coordination.match_id.in_(sorted(set(match_ids))))
        .with_for_update(read=True)
    )
    return {m: (CoordinationStatus(status), agreed is not None) for m, status, agreed in rows}


async def ever_took_part(session: AsyncSession, match_id: str, organisation_id: str) -> bool:
    found = await session.execute(
        select(MatchParticipant.id)
        .where(
            MatchParticipant.match_id == match_id,
            MatchParticipant.organisation_id == organisation_id,
        )
        .limit(1)
    )
    return found.first() is not None


async def sectors_of(session: AsyncSession, organisation_ids: Collection[str]) -> dict[str, str]:
    if not organisation_ids:
        return {}
    rows = await session.execute(
        select(Organisation.id, Organisation.sector).where(
            Organisation.id.in_(sorted(set(organisation_ids)))
        )
    )
    return {org: str(sector) for org, sector in rows}


async def municipality_organisations(session: AsyncSession, municipality: str) -> list[str]:
    """The organisations of sector ``municipality`` for this code (procesregie's receivers)."""
    rows = await session.execute(
        select(Organisation.id)
        .where(
            Organisation.sector == Sector.MUNICIPALITY, Organisation.municipality == municipality
        )
        .order_by(Organisation.id)
    )
    return list(rows.scalars())


def summary_of(row: Coordination) -> CoordinationSummary:
    return CoordinationSummary(
        match_id=row.match_id,
        status=row.status,
        level=row.level,
        coordinator_organisation_id=row.coordinator_organisation_id,
        coordinator_registration_id=row.coordinator_registration_id,
        due_at=row.due_at,
        agreed_at=row.agreed_at,
    )


async def summary(session: AsyncSession, match_id: str) -> CoordinationSummary | None:
    row = await session.get(Coordination, match_id)
    return summary_of(row) if row is not None else None


async def get(session: AsyncSession, match_id: str) -> Coordination | None:
    return await session.get(Coordination, match_id)


async def history(session: AsyncSession, match_id: str) -> list[CoordinationEvent]:
    rows = await session.execute(
        select(CoordinationEvent)
        .where(CoordinationEvent.match_id == match_id)
        .order_by(CoordinationEvent.at, CoordinationEvent.id)
    )
    return list(rows.scalars())


async def due(session: AsyncSession, *, now: datetime, limit: int) -> list[str]:
    """Matches whose coordination has a deadline that has passed, oldest deadline first."""
    rows = await session.execute(
        select(Coordination.match_id)
        .where(Coordination.due_at <= now, Coordination.status.in_([s.value for s in _LIVE]))
        .order_by(Coordination.due_at, Coordination.match_id)
        .limit(limit)
    )
    return list(rows.scalars())


async def of_municipality(
    session: AsyncSession, municipality: str, *, status: CoordinationStatus | None, limit: int
) -> list[CoordinationSummary]:
    statement = select(Coordination).where(Coordination.municipality == municipality)
    if status is not None:
        statement = statement.where(Coordination.status == status.value)
    rows = await session.execute(
        statement.order_by(Coordination.match_created_at, Coordination.match_id).limit(limit)
    )
    return [summary_of(r) for r in rows.scalars()]

"""Queries of matches and their participants. Repositories never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import (
    Select,
    Table,
    bindparam,
    delete,
    exists,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.coordination.state import CoordinationSummary
from verwijsindex.matches.models import Match, MatchParticipant, MatchStatus
from verwijsindex.organisations.models import Organisation, Professional
from verwijsindex.registrations.models import Registration
from verwijsindex.storage.base import ObjectInsert, Staged
from verwijsindex.storage.queries import status_is

_MATCH_ROWS = ObjectInsert(Match)
_PARTICIPANT_ROWS = ObjectInsert(MatchParticipant)


def staged_matches(matches: Sequence[Match], participants: Sequence[MatchParticipant]) -> Staged:
    """New matches and participations (transient objects carrying every value) as rows for
    :func:`~verwijsindex.storage.base.insert_rows`, matches first."""
    return [_MATCH_ROWS.staged(matches), _PARTICIPANT_ROWS.staged(participants)]


async def current_participations_of_matches(
    session: AsyncSession, match_ids: Sequence[str]
) -> dict[str, list[MatchParticipant]]:
    if not match_ids:
        return {}
    result = await session.execute(
        select(MatchParticipant)
        .where(MatchParticipant.match_id.in_(match_ids), MatchParticipant.left_at.is_(None))
        .order_by(MatchParticipant.joined_at, MatchParticipant.id)
    )
    out: dict[str, list[MatchParticipant]] = {}
    for participant in result.scalars():
        out.setdefault(participant.match_id, []).append(participant)
    return out


async def current_participations(session: AsyncSession, match_id: str) -> list[MatchParticipant]:
    result = await session.execute(
        select(MatchParticipant)
        .where(MatchParticipant.match_id == match_id, MatchParticipant.left_at.is_(None))
        .order_by(MatchParticipant.joined_at, MatchParticipant.id)
    )
    return list(result.scalars())


async def open_participation_of_registration(
    session: AsyncSession, registration_id: str
) -> MatchParticipant | None:
    result = await session.execute(
        select(MatchParticipant)
        .join(Match, Match.id == MatchParticipant.match_id)
        .where(
            MatchParticipant.registration_id == registration_id,
            MatchParticipant.left_at.is_(None),
            Match.status == MatchStatus.OPEN,
        )
    )
    return result.scalar_one_or_none()


async def open_match_ids_of_registrations(
    session: AsyncSession, registration_ids: Sequence[str]
) -> dict[str, str]:
    if not registration_ids:
        return {}
    result = await session.execute(
        select(MatchParticipant.registration_id, MatchParticipant.match_id)
        .join(Match, Match.id == MatchParticipant.match_id)
        .where(
            MatchParticipant.registration_id.in_(registration_ids),
            MatchParticipant.left_at.is_(None),
            Match.status == MatchStatus.OPEN,
        )
    )
    return {r: m for r, m in result.all()}


# The API's reads of matches: plain rows from statements built once (building a statement
# and its cache key, and loading mapped objects, cost more than the indexed lookups).
_MATCHES = cast(Table, Match.__table__)
_PARTICIPANTS = cast(Table, MatchParticipant.__table__)
_REGISTRATIONS = cast(Table, Registration.__table__)
_ORGANISATIONS = cast(Table, Organisation.__table__)
_PROFESSIONALS = cast(Table, Professional.__table__)
_MATCH_COLUMNS = (_MATCHES.c.id, _MATCHES.c.status, _MATCHES.c.created_at, _MATCHES.c.closed_at)


@dataclass(frozen=True, slots=True)
class MatchHead:
    """What a list of matches shows of one match."""

    id: str
    status: MatchStatus
    created_at: datetime
    closed_at: datetime | None
    cross_region: bool = False


async def list_matches(
    session: AsyncSession,
    *,
    organisation_id: str,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[MatchHead]:
    # The organisation's matches through its participations (an index by organisation), not
    # a test of every match: a list reads what the organisation takes part in, at any size.
    of_organisation = select(_PARTICIPANTS.c.match_id).where(
        _PARTICIPANTS.c.organisation_id == organisation_id
    )
    match = _MATCHES.c
    query = select(*_MATCH_COLUMNS).where(match.id.in_(of_organisation))
    if status is not None:
        query = query.where(match.status == status)
    if after is not None:
        created, mid = after
        query = query.where(
            (match.created_at > created) | ((match.created_at == created) & (match.id > mid))
        )
    query = query.order_by(match.created_at, match.id).limit(limit)
    return [MatchHead(*row) for row in await session.execute(query)]


@dataclass(frozen=True, slots=True)
class ParticipantView:
    """What a match read shows of one participant (plain columns, no mapped objects)."""

    registration_id: str
    registered_at: datetime
    joined_at: datetime
    left_at: datetime | None
    organisation_id: str
    organisation_name: str
    organisation_sector: str
    professional_id: str
    professional_name: str
    professional_email: str
    professional_phone: str
    region: str | None = None
    """The region of a participant in another region (a cross-region match); None here."""
    contact_shared: bool = True
    """Whether the professional's contact is shown (another region's covenant may not)."""


@dataclass(frozen=True, slots=True)
class MatchView:
    """A match as a read shows it: the match and every participant, in the order they joined."""

    id: str
    status: MatchStatus
    created_at: datetime
    closed_at: datetime | None
    participants: list[ParticipantView]
    coordination: CoordinationSummary | None = None
    cross_region: bool = False


def with_participants(head: Table, participants: Table, foreign_key: str) -> Select[Any]:
    """One statement: the columns of ``head`` (a match or a family match: id, status,
    created_at, closed_at) on each of its participants' rows (``participants.<foreign_key>``
    names the head), with each participant's registration, organisation and professional in
    :class:`ParticipantView`'s order. An organisation that takes part has a participation,
    whose registration (and that registration's organisation and professional) exists, so the
    head is visible to it exactly when there is a row. Binds ``head_id`` and
    ``organisation_id``."""
    of_organisation = participants.alias("of_organisation")
    return (
        select(
            head.c.id,
            head.c.status,
            head.c.created_at,
            head.c.closed_at,
            _REGISTRATIONS.c.id,
            _REGISTRATIONS.c.created_at,
            participants.c.joined_at,
            participants.c.left_at,
            _ORGANISATIONS.c.id,
            _ORGANISATIONS.c.name,
            _ORGANISATIONS.c.sector,
            _PROFESSIONALS.c.id,
            _PROFESSIONALS.c.name,
            _PROFESSIONALS.c.email,
            _PROFESSIONALS.c.phone,
        )
        .select_from(participants)
        .join(head, head.c.id == participants.c[foreign_key])
        .join(_REGISTRATIONS, _REGISTRATIONS.c.id == participants.c.registration_id)
        .join(_ORGANISATIONS, _ORGANISATIONS.c.id == _REGISTRATIONS.c.organisation_id)
        .join(_PROFESSIONALS, _PROFESSIONALS.c.id == _REGISTRATIONS.c.professional_id)
        .where(
            participants.c[foreign_key] == bindparam("head_id"),
            exists().where(
                of_organisation.c[foreign_key] == head.c.id,
                of_organisation.c.organisation_id == bindparam("organisation_id"),
            ),
        )
        .order_by(participants.c.joined_at, participants.c.id)
    )


_MATCH_OF_ORGANISATION = with_participants(_MATCHES, _PARTICIPANTS, "match_id")


async def match_for_organisation(
    session: AsyncSession, *, match_id: str, organisation_id: str
) -> MatchView | None:
    """The match with its participants, or None when the organisation does not take part
    (or there is no such match): one statement, no mapped objects."""
    result = await session.execute(
        _MATCH_OF_ORGANISATION, {"head_id": match_id, "organisation_id": organisation_id}
    )
    rows: Sequence[Sequence[Any]] = result.all()
    if not rows:
        return None
    first = rows[0]
    return MatchView(
        id=first[0],
        status=first[1],
        created_at=first[2],
        closed_at=first[3],
        participants=[ParticipantView(*row[4:]) for row in rows],
    )


async def purge_closed_matches(session: AsyncSession, *, closed_before: datetime) -> int:
    due = (status_is(Match.status, MatchStatus.CLOSED), Match.closed_at <= closed_before)
    ids = select(Match.id).where(*due)
    await session.execute(delete(MatchParticipant).where(MatchParticipant.match_id.in_(ids)))
    result = await session.execute(delete(Match).where(*due))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def open_match_participant_organisations(
    session: AsyncSession, match_id: str
) -> set[str] | None:
    """Organisations with a current participation in the match, or ``None`` if it is not open."""
    match = await session.get(Match, match_id)
    if match is None or match.status != MatchStatus.OPEN:
        return None
    return {p.organisation_id for p in await current_participations(session, match_id)}


async def share_open_match(session: AsyncSession, organisation_a: str, organisation_b: str) -> bool:
    """Whether both organisations currently take part in one open match."""
    mine = (
        select(MatchParticipant.match_id)
        .join(Match, Match.id == MatchParticipant.match_id)
        .where(
            MatchParticipant.organisation_id == organisation_a,
            MatchParticipant.left_at.is_(None),
            Match.status == MatchStatus.OPEN,
        )
    )
    result = await session.execute(
        select(func.count())
        .select_from(MatchParticipant)
        .where(
            MatchParticipant.organisation_id == organisation_b,
            MatchParticipant.left_at.is_(None),
            MatchParticipant.match_id.in_(mine),
        )
    )
    return int(result.scalar_one()) > 0

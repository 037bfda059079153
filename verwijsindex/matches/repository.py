"""Queries of matches and their participants. Repositories never commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import (
    Exists,
    bindparam,
    delete,
    exists,
    func,
    select,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import Pseudonym
from verwijsindex.matches.models import Match, MatchParticipant, MatchStatus
from verwijsindex.organisations.models import Organisation, Professional
from verwijsindex.registrations.models import Registration
from verwijsindex.storage.queries import status_is

_OPEN_MATCHES_OF_SUBJECTS = select(Match.subject_pseudonym, Match.id).where(
    Match.subject_pseudonym.in_(bindparam("pseudonyms", expanding=True)),
    status_is(Match.status, MatchStatus.OPEN),
)


async def open_matches_of_subjects(
    session: AsyncSession, pseudonyms: Sequence[Pseudonym]
) -> dict[Pseudonym, str]:
    """The id of each youth's open match (at most one per youth), by pseudonym; a plain
    Core query, no mapped objects."""
    result = await session.execute(_OPEN_MATCHES_OF_SUBJECTS, {"pseudonyms": list(pseudonyms)})
    return {pseudonym: match_id for pseudonym, match_id in result}


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


def _org_takes_part(organisation_id: str) -> Exists:
    return exists().where(
        MatchParticipant.match_id == Match.id,
        MatchParticipant.organisation_id == organisation_id,
    )


async def get_match_for_organisation(
    session: AsyncSession, *, match_id: str, organisation_id: str
) -> Match | None:
    result = await session.execute(
        select(Match).where(Match.id == match_id, _org_takes_part(organisation_id))
    )
    return result.scalar_one_or_none()


async def list_matches(
    session: AsyncSession,
    *,
    organisation_id: str,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Match]:
    # The organisation's matches through its participations (an index by organisation), not
    # a test of every match: a list reads what the organisation takes part in, at any size.
    of_organisation = select(MatchParticipant.match_id).where(
        MatchParticipant.organisation_id == organisation_id
    )
    query = select(Match).where(Match.id.in_(of_organisation))
    if status is not None:
        query = query.where(Match.status == status)
    if after is not None:
        created, mid = after
        query = query.where(
            (Match.created_at > created) | ((Match.created_at == created) & (Match.id > mid))
        )
    query = query.order_by(Match.created_at, Match.id).limit(limit)
    return list((await session.execute(query)).scalars())


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


async def match_participant_rows(session: AsyncSession, match_id: str) -> list[ParticipantView]:
    result = await session.execute(
        select(
            Registration.id,
            Registration.created_at,
            MatchParticipant.joined_at,
            MatchParticipant.left_at,
            Organisation.id,
            Organisation.name,
            Organisation.sector,
            Professional.id,
            Professional.name,
            Professional.email,
            Professional.phone,
        )
        .select_from(MatchParticipant)
        .join(Registration, Registration.id == MatchParticipant.registration_id)
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .join(Professional, Professional.id == Registration.professional_id)
        .where(MatchParticipant.match_id == match_id)
        .order_by(MatchParticipant.joined_at, MatchParticipant.id)
    )
    return [ParticipantView(*row) for row in result]


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

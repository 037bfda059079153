"""Queries of federation (region and hub). Repositories never commit."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, select
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.federation.models import (
    FederatedMatch,
    FederatedParticipant,
    FederationOutbox,
    HubMatch,
    HubOutbox,
    HubParticipant,
    HubReceived,
    HubRegion,
    HubRegistration,
)
from verwijsindex.matches.models import MatchStatus
from verwijsindex.matches.repository import MatchHead
from verwijsindex.organisations.models import Organisation, Professional
from verwijsindex.registrations.models import Registration

# --- region ---------------------------------------------------------------------------------


async def pending_handoffs(session: AsyncSession, limit: int) -> list[FederationOutbox]:
    result = await session.execute(
        select(FederationOutbox).order_by(FederationOutbox.id).limit(limit)
    )
    return list(result.scalars())


async def delete_handoffs(session: AsyncSession, ids: Sequence[str]) -> None:
    await session.execute(delete(FederationOutbox).where(FederationOutbox.id.in_(list(ids))))


async def count_handoffs(session: AsyncSession) -> int:
    result = await session.execute(select(FederationOutbox.id))
    return len(result.all())


async def card_sources(
    session: AsyncSession, registration_ids: Sequence[str]
) -> dict[str, tuple[Any, ...]]:
    """Per registration: organisation id, name, sector, professional name, e-mail, phone and
    the registration's creation time."""
    if not registration_ids:
        return {}
    result = await session.execute(
        select(
            Registration.id,
            Organisation.id,
            Organisation.name,
            Organisation.sector,
            Professional.name,
            Professional.email,
            Professional.phone,
            Registration.created_at,
        )
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .join(Professional, Professional.id == Registration.professional_id)
        .where(Registration.id.in_(list(registration_ids)))
    )
    return {row[0]: tuple(row[1:]) for row in result}


async def organisations_of_registrations(
    session: AsyncSession, registration_ids: Sequence[str]
) -> dict[str, str]:
    """registration id → organisation id, for those that exist."""
    if not registration_ids:
        return {}
    result = await session.execute(
        select(Registration.id, Registration.organisation_id).where(
            Registration.id.in_(list(registration_ids))
        )
    )
    return {rid: oid for rid, oid in result}


async def federated_participants(
    session: AsyncSession, match_id: str
) -> list[FederatedParticipant]:
    result = await session.execute(
        select(FederatedParticipant)
        .where(FederatedParticipant.match_id == match_id)
        .order_by(FederatedParticipant.joined_at, FederatedParticipant.id)
    )
    return list(result.scalars())


async def federated_matches_of_registrations(
    session: AsyncSession, registration_ids: Sequence[str]
) -> list[tuple[FederatedMatch, list[FederatedParticipant]]]:
    """The cross-region matches these registrations take or took part in, oldest first,
    each with all its participants (a subject-access report)."""
    if not registration_ids:
        return []
    of = select(FederatedParticipant.match_id).where(
        FederatedParticipant.registration_id.in_(list(registration_ids))
    )
    matches = (
        await session.execute(
            select(FederatedMatch)
            .where(FederatedMatch.id.in_(of))
            .order_by(FederatedMatch.created_at, FederatedMatch.id)
        )
    ).scalars()
    return [(match, await federated_participants(session, match.id)) for match in matches]


async def list_federated_matches(
    session: AsyncSession,
    *,
    organisation_id: str,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[MatchHead]:
    match = FederatedMatch
    of_organisation = select(FederatedParticipant.match_id).where(
        FederatedParticipant.organisation_id == organisation_id
    )
    query = select(match.id, match.status, match.created_at, match.closed_at).where(
        match.id.in_(of_organisation)
    )
    if status is not None:
        query = query.where(match.status == status)
    if after is not None:
        created, mid = after
        query = query.where(
            (match.created_at > created) | ((match.created_at == created) & (match.id > mid))
        )
    query = query.order_by(match.created_at, match.id).limit(limit)
    return [MatchHead(*row, cross_region=True) for row in await session.execute(query)]


async def federated_match_of_organisation(
    session: AsyncSession, *, match_id: str, organisation_id: str
) -> FederatedMatch | None:
    takes_part = exists().where(
        FederatedParticipant.match_id == FederatedMatch.id,
        FederatedParticipant.organisation_id == organisation_id,
    )
    result = await session.execute(
        select(FederatedMatch).where(FederatedMatch.id == match_id, takes_part)
    )
    return result.scalar_one_or_none()


async def local_participant_details(
    session: AsyncSession, registration_ids: Sequence[str]
) -> dict[str, tuple[Any, ...]]:
    """Per registration: created_at, organisation id, name, sector, professional id, name,
    e-mail, phone."""
    if not registration_ids:
        return {}
    result = await session.execute(
        select(
            Registration.id,
            Registration.created_at,
            Organisation.id,
            Organisation.name,
            Organisation.sector,
            Professional.id,
            Professional.name,
            Professional.email,
            Professional.phone,
        )
        .join(Organisation, Organisation.id == Registration.organisation_id)
        .join(Professional, Professional.id == Registration.professional_id)
        .where(Registration.id.in_(list(registration_ids)))
    )
    return {row[0]: tuple(row[1:]) for row in result}


# --- hub ------------------------------------------------------------------------------------


async def hub_registration(
    session: AsyncSession, *, region: str, reference: str
) -> HubRegistration | None:
    result = await session.execute(
        select(HubRegistration).where(
            HubRegistration.region == region, HubRegistration.reference == reference
        )
    )
    return result.scalar_one_or_none()


async def active_hub_registrations(
    session: AsyncSession, federated_pseudonym: str
) -> list[HubRegistration]:
    result = await session.execute(
        select(HubRegistration)
        .where(
            HubRegistration.federated_pseudonym == federated_pseudonym,
            HubRegistration.active.is_(True),
        )
        .order_by(HubRegistration.created_at, HubRegistration.id)
    )
    return list(result.scalars())


async def open_hub_match(session: AsyncSession, federated_pseudonym: str) -> HubMatch | None:
    result = await session.execute(
        select(HubMatch).where(
            HubMatch.federated_pseudonym == federated_pseudonym,
            HubMatch.status == MatchStatus.OPEN,
        )
    )
    return result.scalar_one_or_none()


async def hub_participants(
    session: AsyncSession, match_id: str
) -> list[tuple[HubParticipant, HubRegistration]]:
    result = await session.execute(
        select(HubParticipant, HubRegistration)
        .join(HubRegistration, HubRegistration.id == HubParticipant.registration_id)
        .where(HubParticipant.match_id == match_id)
        .order_by(HubParticipant.joined_at, HubParticipant.id)
    )
    return [(row[0], row[1]) for row in result]


async def regions_with_reports(session: AsyncSession) -> list[str]:
    result = await session.execute(select(HubOutbox.region).distinct())
    return sorted(result.scalars())


async def pending_reports(session: AsyncSession, region: str, limit: int) -> list[HubOutbox]:
    result = await session.execute(
        select(HubOutbox).where(HubOutbox.region == region).order_by(HubOutbox.id).limit(limit)
    )
    return list(result.scalars())


async def count_reports(session: AsyncSession, region: str) -> int:
    result = await session.execute(select(HubOutbox.id).where(HubOutbox.region == region))
    return len(result.all())


async def delete_reports(session: AsyncSession, ids: Sequence[str]) -> None:
    await session.execute(delete(HubOutbox).where(HubOutbox.id.in_(list(ids))))


async def hub_region(session: AsyncSession, region: str) -> HubRegion | None:
    return await session.get(HubRegion, region)


async def delete_federated_matches_of(
    session: AsyncSession, registration_ids: Sequence[str]
) -> int:
    """Delete the cross-region matches these registrations took part in, with all their
    participants; return how many matches."""
    if not registration_ids:
        return 0
    of = select(FederatedParticipant.match_id).where(
        FederatedParticipant.registration_id.in_(list(registration_ids))
    )
    match_ids = list((await session.execute(of)).scalars())
    if not match_ids:
        return 0
    await session.execute(
        delete(FederatedParticipant).where(FederatedParticipant.match_id.in_(match_ids))
    )
    result = await session.execute(delete(FederatedMatch).where(FederatedMatch.id.in_(match_ids)))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def purge_hub(session: AsyncSession, *, before: datetime, received_before: datetime) -> int:
    """Delete closed matches and ended registrations older than ``before`` (an ended
    registration still listed in an open match stays until that match closes), and
    idempotency keys older than ``received_before``. Returns the registrations deleted."""
    closed = select(HubMatch.id).where(
        HubMatch.status == MatchStatus.CLOSED, HubMatch.closed_at <= before
    )
    await session.execute(delete(HubParticipant).where(HubParticipant.match_id.in_(closed)))
    await session.execute(
        delete(HubMatch).where(HubMatch.status == MatchStatus.CLOSED, HubMatch.closed_at <= before)
    )
    listed = select(HubParticipant.registration_id)
    result = await session.execute(
        delete(HubRegistration).where(
            HubRegistration.active.is_(False),
            HubRegistration.ended_at <= before,
            HubRegistration.id.not_in(listed),
        )
    )
    await session.execute(delete(HubReceived).where(HubReceived.received_at <= received_before))
    return int(result.rowcount)  # type: ignore[attr-defined]

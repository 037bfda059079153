"""Queries of the portal's tables (and of the professionals they belong to)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.organisations.models import Organisation, Professional, Sector
from verwijsindex.portal.models import PortalAccount, PortalSession

SessionRow = tuple[PortalSession, PortalAccount | None, Professional | None, str | None]


async def session_with_account(session: AsyncSession, session_id: str) -> SessionRow | None:
    """The session and, once signed in, its account, professional and the municipality its
    organisation stands for when of sector municipality (one statement)."""
    row = (
        await session.execute(
            select(PortalSession, PortalAccount, Professional, Organisation.sector)
            .add_columns(Organisation.municipality)
            .outerjoin(PortalAccount, PortalAccount.id == PortalSession.account_id)
            .outerjoin(Professional, Professional.id == PortalAccount.professional_id)
            .outerjoin(Organisation, Organisation.id == PortalAccount.organisation_id)
            .where(PortalSession.id == session_id)
        )
    ).one_or_none()
    if row is None:
        return None
    municipality = row[4] if row[3] == Sector.MUNICIPALITY and row[4] else None
    return row[0], row[1], row[2], municipality


async def get_session(session: AsyncSession, session_id: str) -> PortalSession | None:
    return await session.get(PortalSession, session_id)


async def delete_session(session: AsyncSession, session_id: str) -> None:
    await session.execute(delete(PortalSession).where(PortalSession.id == session_id))


async def delete_sessions_of_account(session: AsyncSession, account_id: str) -> None:
    await session.execute(delete(PortalSession).where(PortalSession.account_id == account_id))


async def delete_idle_sessions(session: AsyncSession, *, seen_before: datetime) -> None:
    await session.execute(delete(PortalSession).where(PortalSession.last_seen_at < seen_before))


async def touch_session(session: AsyncSession, session_id: str, at: datetime) -> None:
    await session.execute(
        update(PortalSession).where(PortalSession.id == session_id).values(last_seen_at=at)
    )


async def account_by_username(session: AsyncSession, username: str) -> PortalAccount | None:
    return (
        await session.execute(select(PortalAccount).where(PortalAccount.username == username))
    ).scalar_one_or_none()


async def account_of_professional(
    session: AsyncSession, professional_id: str
) -> PortalAccount | None:
    return (
        await session.execute(
            select(PortalAccount).where(PortalAccount.professional_id == professional_id)
        )
    ).scalar_one_or_none()


async def professionals_of_organisation(
    session: AsyncSession, organisation_id: str
) -> list[tuple[Professional, PortalAccount | None]]:
    rows = await session.execute(
        select(Professional, PortalAccount)
        .outerjoin(PortalAccount, PortalAccount.professional_id == Professional.id)
        .where(Professional.organisation_id == organisation_id)
        .order_by(Professional.name, Professional.id)
    )
    return [(row[0], row[1]) for row in rows]


async def organisations_named(session: AsyncSession, ids: set[str]) -> dict[str, str]:
    if not ids:
        return {}
    rows = await session.execute(
        select(Organisation.id, Organisation.name).where(Organisation.id.in_(ids))
    )
    return {row[0]: row[1] for row in rows}


async def professionals_named(
    session: AsyncSession, organisation_id: str, ids: set[str]
) -> dict[str, str]:
    """The names of these professionals of the organisation (others are left out)."""
    if not ids:
        return {}
    rows = await session.execute(
        select(Professional.id, Professional.name).where(
            Professional.id.in_(ids), Professional.organisation_id == organisation_id
        )
    )
    return {row[0]: row[1] for row in rows}


async def municipality_of(session: AsyncSession, organisation_id: str) -> str | None:
    """The municipality code of an organisation of sector municipality, else None."""
    found = await session.execute(
        select(Organisation.sector, Organisation.municipality).where(
            Organisation.id == organisation_id
        )
    )
    row = found.first()
    if row is None or row[0] != Sector.MUNICIPALITY:
        return None
    return str(row[1]) if row[1] else None

"""Queries of the portal's tables (and of the professionals they belong to)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.organisations.models import Organisation, Professional
from verwijsindex.portal.models import PortalAccount, PortalSession

SessionRow = tuple[PortalSession, PortalAccount | None, Professional | None]


async def session_with_account(session: AsyncSession, session_id: str) -> SessionRow | None:
    """The session and, once signed in, its account and professional (one statement)."""
    row = (
        await session.execute(
            select(PortalSession, PortalAccount, Professional)
            .outerjoin(PortalAccount, PortalAccount.id == PortalSession.account_id)
            .outerjoin(Professional, Professional.id == PortalAccount.professional_id)
            .where(PortalSession.id == session_id)
        )
    ).one_or_none()
    if row is None:
        return None
    return row[0], row[1], row[2]


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

"""Every query on covenant versions. Never commits."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.covenants.models import CovenantVersion
from verwijsindex.storage.base import insert_objects


async def current(session: AsyncSession, municipality: str) -> CovenantVersion | None:
    """The municipality's newest covenant version, or None when it never set one."""
    found = await session.execute(
        select(CovenantVersion)
        .where(CovenantVersion.municipality == municipality)
        .order_by(CovenantVersion.version.desc())
        .limit(1)
    )
    return found.scalar_one_or_none()


async def current_of(
    session: AsyncSession, municipalities: Collection[str]
) -> dict[str, CovenantVersion]:
    """The newest version of each municipality that has one (one query)."""
    if not municipalities:
        return {}
    newest = (
        select(CovenantVersion.municipality, func.max(CovenantVersion.version).label("version"))
        .where(CovenantVersion.municipality.in_(sorted(set(municipalities))))
        .group_by(CovenantVersion.municipality)
        .subquery()
    )
    rows = await session.execute(
        select(CovenantVersion).join(
            newest,
            (CovenantVersion.municipality == newest.c.municipality)
            & (CovenantVersion.version == newest.c.version),
        )
    )
    return {row.municipality: row for row in rows.scalars()}


async def by_id(session: AsyncSession, covenant_id: str) -> CovenantVersion | None:
    return await session.get(CovenantVersion, covenant_id)


async def versions(session: AsyncSession, municipality: str) -> list[CovenantVersion]:
    """Every version of the municipality's covenant, newest first."""
    rows = await session.execute(
        select(CovenantVersion)
        .where(CovenantVersion.municipality == municipality)
        .order_by(CovenantVersion.version.desc())
    )
    return list(rows.scalars())


async def add(session: AsyncSession, row: CovenantVersion) -> None:
    await insert_objects(session, [row])

"""Every query on covenant versions. Never commits."""

from __future__ import annotations

from collections.abc import Collection

from sqlalchemy import bindparam, select
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


_NEWEST_FIRST = (
    select(CovenantVersion)
    .where(CovenantVersion.municipality.in_(bindparam("municipalities", expanding=True)))
    .order_by(CovenantVersion.municipality, CovenantVersion.version.desc())
)


async def current_of(
    session: AsyncSession, municipalities: Collection[str]
) -> dict[str, CovenantVersion]:
    """The newest version of each municipality that has one: one prebuilt statement (this is
    on the registration path, when a write opens matches). A municipality's older versions
    come along and are skipped; covenants change rarely."""
    if not municipalities:
        return {}
    rows = await session.execute(_NEWEST_FIRST, {"municipalities": sorted(set(municipalities))})
    newest: dict[str, CovenantVersion] = {}
    for row in rows.scalars():
        newest.setdefault(row.municipality, row)
    return newest


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

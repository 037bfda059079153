"""Queries of organisations, professionals and API keys. Repositories never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    bindparam,
    select,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.organisations.models import ApiKey, Organisation, Professional


async def get_organisation(session: AsyncSession, organisation_id: str) -> Organisation | None:
    return await session.get(Organisation, organisation_id)


async def get_professional(session: AsyncSession, professional_id: str) -> Professional | None:
    return await session.get(Professional, professional_id)


async def active_professionals_of_organisation(
    session: AsyncSession, *, organisation_id: str, professional_ids: set[str]
) -> set[str]:
    if not professional_ids:
        return set()
    result = await session.execute(
        select(Professional.id).where(
            Professional.id.in_(professional_ids),
            Professional.organisation_id == organisation_id,
            Professional.active.is_(True),
        )
    )
    return set(result.scalars())


async def get_api_key_by_hash(session: AsyncSession, key_hash: str) -> ApiKey | None:
    result = await session.execute(select(ApiKey).where(ApiKey.key_hash == key_hash))
    return result.scalar_one_or_none()


async def get_api_key(session: AsyncSession, key_id: str) -> ApiKey | None:
    return await session.get(ApiKey, key_id)


async def list_api_keys(session: AsyncSession, organisation_id: str) -> list[ApiKey]:
    result = await session.execute(
        select(ApiKey)
        .where(ApiKey.organisation_id == organisation_id)
        .order_by(ApiKey.created_at, ApiKey.id)
    )
    return list(result.scalars())


async def touch_api_key(session: AsyncSession, key_id: str, at: datetime) -> None:
    """Record a key's last use. Best effort and never waiting: on PostgreSQL a row locked by
    another transaction (another process recording the same use, or a revocation) is skipped,
    so a touch inside a shared write transaction can never be part of a deadlock."""
    key = ApiKey.id == key_id
    if session.get_bind().dialect.name == "postgresql":
        free = select(ApiKey.id).where(key).with_for_update(skip_locked=True).scalar_subquery()
        key = ApiKey.id == free
    await session.execute(update(ApiKey).where(key).values(last_used_at=at))


_MUNICIPALITIES = select(Organisation.id, Organisation.municipality).where(
    Organisation.id.in_(bindparam("ids", expanding=True))
)


async def organisation_municipalities(
    session: AsyncSession, organisation_ids: set[str]
) -> dict[str, str]:
    if not organisation_ids:
        return {}
    result = await session.execute(_MUNICIPALITIES, {"ids": list(organisation_ids)})
    return {oid: code for oid, code in result.all()}

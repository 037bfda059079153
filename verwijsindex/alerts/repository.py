"""Queries of the alerts: who a registration's alert goes to, and a professional's switch.
Repositories never commit."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import bindparam, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.organisations.models import Professional
from verwijsindex.registrations.models import Registration

_RECIPIENTS = (
    select(
        Registration.id,
        Professional.id,
        Professional.email,
        Professional.active,
        Professional.alerts_enabled,
    )
    .join(Professional, Professional.id == Registration.professional_id)
    .where(Registration.id.in_(bindparam("ids", expanding=True)))
)


async def recipients_of_registrations(
    session: AsyncSession, registration_ids: Sequence[str]
) -> list[tuple[str, str, str, bool, bool]]:
    """(registration id, professional id, e-mail, active, alerts on) of each registration
    that still exists."""
    if not registration_ids:
        return []
    rows = await session.execute(_RECIPIENTS, {"ids": list(registration_ids)})
    return [(r[0], r[1], r[2], bool(r[3]), bool(r[4])) for r in rows.all()]


async def professional_in_organisation(
    session: AsyncSession, *, organisation_id: str, professional_id: str
) -> Professional | None:
    professional = await session.get(Professional, professional_id)
    if professional is None or professional.organisation_id != organisation_id:
        return None
    return professional


async def set_alerts_enabled(session: AsyncSession, *, professional_id: str, enabled: bool) -> None:
    await session.execute(
        update(Professional)
        .where(Professional.id == professional_id)
        .values(alerts_enabled=enabled)
    )

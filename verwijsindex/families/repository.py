"""Queries of parents' links, family matches and their participants. Repositories never
commit."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, delete, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import Pseudonym
from verwijsindex.families.models import FamilyMatch, FamilyMatchParticipant, FamilyMatchStatus
from verwijsindex.matches.repository import ParticipantView, with_participants
from verwijsindex.registrations.models import (
    Registration,
    RegistrationParent,
    RegistrationStatus,
)
from verwijsindex.storage.queries import status_is

_PARENTS = cast(Table, RegistrationParent.__table__)
_REGISTRATIONS = cast(Table, Registration.__table__)
_FAMILIES = cast(Table, FamilyMatch.__table__)
_PARTICIPANTS = cast(Table, FamilyMatchParticipant.__table__)

# PostgreSQL: one advisory lock for every change to a family match's participants, taken after
# the subject locks (so always in the same order). SQLite's writers are serialised already.
_FAMILY_LOCK = text("SELECT pg_advisory_xact_lock(7243018455019216161)")


async def lock_family_matches(session: AsyncSession) -> None:
    """Serialise changes to family matches' participants (joins, merges, leaves). Taken only
    by writes that find a family connection, after their subject locks."""
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_FAMILY_LOCK)


_LINKED_REGISTRATIONS = select(
    _REGISTRATIONS.c.id,
    _REGISTRATIONS.c.pseudonym,
    _REGISTRATIONS.c.professional_id,
    _REGISTRATIONS.c.organisation_id,
).where(
    _REGISTRATIONS.c.id.in_(bindparam("ids", expanding=True)),
    status_is(_REGISTRATIONS.c.status, RegistrationStatus.ACTIVE),
)


async def linked_registrations(
    session: AsyncSession, registration_ids: Sequence[str]
) -> list[tuple[str, Pseudonym, str, str]]:
    """``(id, youth pseudonym, professional_id, organisation_id)`` of those of the
    registrations that are active."""
    if not registration_ids:
        return []
    result = await session.execute(_LINKED_REGISTRATIONS, {"ids": list(registration_ids)})
    return [
        (r, youth, professional, organisation) for r, youth, professional, organisation in result
    ]


async def repseudonymise_parents(
    session: AsyncSession, *, old: Sequence[str], new: str, key_version: int
) -> None:
    """Move links made under older key versions to the parent's current pseudonym."""
    if old:
        await session.execute(
            update(RegistrationParent)
            .where(RegistrationParent.pseudonym.in_(old))
            .values(pseudonym=new, key_version=key_version)
        )


async def parents_of_registrations(
    session: AsyncSession, registration_ids: Sequence[str]
) -> list[Pseudonym]:
    if not registration_ids:
        return []
    result = await session.execute(
        select(RegistrationParent.pseudonym).where(
            RegistrationParent.registration_id.in_(registration_ids)
        )
    )
    return list(result.scalars())


async def delete_parent_links(session: AsyncSession, registration_ids: Sequence[str]) -> None:
    if registration_ids:
        await session.execute(
            delete(RegistrationParent).where(
                RegistrationParent.registration_id.in_(registration_ids)
            )
        )


async def registrations_of_parents(
    session: AsyncSession, parents: Sequence[Pseudonym]
) -> list[str]:
    """The registrations that name one of ``parents`` (links exist only while active)."""
    if not parents:
        return []
    result = await session.execute(
        select(RegistrationParent.registration_id)
        .where(RegistrationParent.pseudonym.in_(parents))
        .distinct()
    )
    return sorted(result.scalars())


async def delete_links_of_parents(session: AsyncSession, parents: Sequence[Pseudonym]) -> list[str]:
    """Delete every link naming one of ``parents``; returns the registrations they linked."""
    if not parents:
        return []
    result = await session.execute(
        delete(RegistrationParent)
        .where(RegistrationParent.pseudonym.in_(parents))
        .returning(RegistrationParent.registration_id)
    )
    return sorted(set(result.scalars()))


async def current_participations(
    session: AsyncSession, *, registration_ids: Sequence[str] = (), family_ids: Sequence[str] = ()
) -> list[FamilyMatchParticipant]:
    """Current participations (mapped, for a write) of the registrations or of the family
    matches, in the order they joined."""
    if not registration_ids and not family_ids:
        return []
    column = FamilyMatchParticipant.registration_id if registration_ids else None
    query = select(FamilyMatchParticipant).where(FamilyMatchParticipant.left_at.is_(None))
    if column is not None:
        query = query.where(column.in_(registration_ids))
    else:
        query = query.where(FamilyMatchParticipant.family_match_id.in_(family_ids))
    result = await session.execute(
        query.order_by(FamilyMatchParticipant.joined_at, FamilyMatchParticipant.id)
    )
    return list(result.scalars())


async def family_matches(session: AsyncSession, ids: Sequence[str]) -> list[FamilyMatch]:
    if not ids:
        return []
    result = await session.execute(select(FamilyMatch).where(FamilyMatch.id.in_(ids)))
    return list(result.scalars())


@dataclass(frozen=True, slots=True)
class Member:
    """A current participant's registration as the family rules need it."""

    registration_id: str
    youth: Pseudonym
    professional_id: str
    parents: frozenset[Pseudonym]


async def members(session: AsyncSession, family_id: str) -> list[Member]:
    """The family match's current participants with their youths, professionals and parents."""
    result = await session.execute(
        select(
            _PARTICIPANTS.c.registration_id,
            _REGISTRATIONS.c.pseudonym,
            _REGISTRATIONS.c.professional_id,
            _PARENTS.c.pseudonym,
        )
        .join(_REGISTRATIONS, _REGISTRATIONS.c.id == _PARTICIPANTS.c.registration_id)
        .outerjoin(_PARENTS, _PARENTS.c.registration_id == _REGISTRATIONS.c.id)
        .where(_PARTICIPANTS.c.family_match_id == family_id, _PARTICIPANTS.c.left_at.is_(None))
    )
    found: dict[str, tuple[Pseudonym, str, set[Pseudonym]]] = {}
    for registration_id, youth, professional_id, parent in result:
        entry = found.setdefault(registration_id, (youth, professional_id, set()))
        if parent is not None:
            entry[2].add(parent)
    return [Member(r, y, p, frozenset(ps)) for r, (y, p, ps) in found.items()]


async def open_families_of_registrations(
    session: AsyncSession, registration_ids: Sequence[str]
) -> dict[str, str]:
    if not registration_ids:
        return {}
    result = await session.execute(
        select(_PARTICIPANTS.c.registration_id, _PARTICIPANTS.c.family_match_id)
        .join(_FAMILIES, _FAMILIES.c.id == _PARTICIPANTS.c.family_match_id)
        .where(
            _PARTICIPANTS.c.registration_id.in_(registration_ids),
            _PARTICIPANTS.c.left_at.is_(None),
            status_is(_FAMILIES.c.status, FamilyMatchStatus.OPEN),
        )
    )
    return {r: f for r, f in result.all()}


# --- Reads for the API ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class FamilyHead:
    id: str
    status: FamilyMatchStatus
    created_at: datetime
    closed_at: datetime | None


@dataclass(frozen=True, slots=True)
class FamilyView:
    id: str
    status: FamilyMatchStatus
    created_at: datetime
    closed_at: datetime | None
    participants: list[ParticipantView]


_FAMILY_COLUMNS = (
    _FAMILIES.c.id,
    _FAMILIES.c.status,
    _FAMILIES.c.created_at,
    _FAMILIES.c.closed_at,
)


async def list_family_matches(
    session: AsyncSession,
    *,
    organisation_id: str,
    status: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[FamilyHead]:
    of_organisation = select(_PARTICIPANTS.c.family_match_id).where(
        _PARTICIPANTS.c.organisation_id == organisation_id
    )
    family = _FAMILIES.c
    query = select(*_FAMILY_COLUMNS).where(family.id.in_(of_organisation))
    if status is not None:
        query = query.where(family.status == status)
    if after is not None:
        created, fid = after
        query = query.where(
            (family.created_at > created) | ((family.created_at == created) & (family.id > fid))
        )
    query = query.order_by(family.created_at, family.id).limit(limit)
    return [FamilyHead(*row) for row in await session.execute(query)]


_FAMILY_OF_ORGANISATION = with_participants(_FAMILIES, _PARTICIPANTS, "family_match_id")


async def family_match_for_organisation(
    session: AsyncSession, *, family_match_id: str, organisation_id: str
) -> FamilyView | None:
    """The family match with every participation, or None when the organisation never took
    part (or there is no such family match)."""
    result = await session.execute(
        _FAMILY_OF_ORGANISATION,
        {"head_id": family_match_id, "organisation_id": organisation_id},
    )
    rows: Sequence[Sequence[Any]] = result.all()
    if not rows:
        return None
    first = rows[0]
    return FamilyView(
        id=first[0],
        status=first[1],
        created_at=first[2],
        closed_at=first[3],
        participants=[ParticipantView(*row[4:]) for row in rows],
    )


async def purge_closed_family_matches(session: AsyncSession, *, closed_before: datetime) -> int:
    due = (
        status_is(FamilyMatch.status, FamilyMatchStatus.CLOSED),
        FamilyMatch.closed_at <= closed_before,
    )
    ids = select(FamilyMatch.id).where(*due)
    await session.execute(
        delete(FamilyMatchParticipant).where(FamilyMatchParticipant.family_match_id.in_(ids))
    )
    result = await session.execute(delete(FamilyMatch).where(*due))
    return int(result.rowcount)  # type: ignore[attr-defined]


async def delete_participations_of_registrations(
    session: AsyncSession, registration_ids: Sequence[str]
) -> None:
    if registration_ids:
        await session.execute(
            delete(FamilyMatchParticipant).where(
                FamilyMatchParticipant.registration_id.in_(registration_ids)
            )
        )

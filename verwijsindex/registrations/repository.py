"""All queries of the index's tables. Repositories never commit."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from operator import attrgetter
from typing import cast

from sqlalchemy import (
    ColumnElement,
    String,
    Table,
    and_,
    bindparam,
    delete,
    exists,
    func,
    literal_column,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

from verwijsindex.registrations.models import (
    REGISTRATION_COLUMNS,
    ApiKey,
    Match,
    MatchParticipant,
    MatchStatus,
    Organisation,
    Professional,
    Registration,
    RegistrationRow,
    RegistrationStatus,
)
from verwijsindex.storage.base import RowInsert


def status_is(
    column: ColumnElement[str] | InstrumentedAttribute[str],
    status: StrEnum,
    *,
    negate: bool = False,
) -> ColumnElement[bool]:
    """``column = 'status'`` (or ``<>``) with the status written into the SQL, not bound.

    The indexes by youth, expiry and purge date are partial on the status
    (``verwijsindex/registrations/models.py``); a planner can only use such an index when the query
    states the index's condition, and a bound parameter states it only for one execution
    (SQLite then prepares the statement again on every execution, PostgreSQL cannot use the
    index in a generic plan). Statuses are the models' own constants, never input.
    """
    constant = literal_column(f"'{status.value}'", String)
    return column != constant if negate else column == constant


def of_subject_any_status(
    subject: ColumnElement[bool],
    column: ColumnElement[str] | InstrumentedAttribute[str],
    status: StrEnum,
) -> ColumnElement[bool]:
    """``subject`` whatever the status, written as ``subject AND status = s OR subject AND
    status <> s``: rows of one status and the others are in different indexes by subject
    (partial on the status), and each branch names its index's condition (``status_is``)."""
    return or_(
        and_(subject, status_is(column, status)),
        and_(subject, status_is(column, status, negate=True)),
    )


async def lock_subject(session: AsyncSession, pseudonym: str) -> None:
    """Serialise writers for one youth.

    PostgreSQL: a transaction-scoped advisory lock keyed by the pseudonym. SQLite: every write
    transaction already began with BEGIN IMMEDIATE, which serialises all writers.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK_ONE, {"k": _lock_key(pseudonym)})


async def lock_subjects(session: AsyncSession, pseudonyms: Sequence[str]) -> None:
    """:func:`lock_subject` for several youths in one statement, in sorted key order (so
    concurrent transactions locking overlapping sets cannot deadlock)."""
    if not pseudonyms or session.get_bind().dialect.name != "postgresql":
        return
    if len(pseudonyms) == 1:
        await lock_subject(session, pseudonyms[0])
        return
    keys = sorted({_lock_key(p) for p in pseudonyms})
    await session.execute(_LOCK_MANY, {"keys": keys})


# PostgreSQL's subject locks, built once (every write group takes them).
_LOCK_ONE = text("SELECT pg_advisory_xact_lock(:k)")
_LOCK_MANY = text(
    "SELECT pg_advisory_xact_lock(k) FROM "
    "(SELECT unnest(CAST(:keys AS bigint[])) AS k ORDER BY k) AS ordered"
)


def _lock_key(pseudonym: str) -> int:
    return int.from_bytes(hashlib.sha256(pseudonym.encode()).digest()[:8], "big", signed=True)


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


async def registration_counts_by_key_version(
    session: AsyncSession,
) -> list[tuple[int, str, int]]:
    """``(key_version, status, count)`` over all retained registrations."""
    result = await session.execute(
        select(Registration.key_version, Registration.status, func.count())
        .group_by(Registration.key_version, Registration.status)
        .order_by(Registration.key_version, Registration.status)
    )
    return [(int(v), str(s), int(n)) for v, s, n in result.all()]


async def touch_api_key(session: AsyncSession, key_id: str, at: datetime) -> None:
    """Record a key's last use. Best effort and never waiting: on PostgreSQL a row locked by
    another transaction (another process recording the same use, or a revocation) is skipped,
    so a touch inside a shared write transaction can never be part of a deadlock."""
    key = ApiKey.id == key_id
    if session.get_bind().dialect.name == "postgresql":
        free = select(ApiKey.id).where(key).with_for_update(skip_locked=True).scalar_subquery()
        key = ApiKey.id == free
    await session.execute(update(ApiKey).where(key).values(last_used_at=at))


# The write group's reads, built once: building a statement and its cache key on every call
# costs more than running it for a group of one.
_REGISTRATIONS = cast(Table, Registration.__table__)
_ACTIVE_OF_SUBJECTS = (
    select(*(_REGISTRATIONS.c[name] for name in REGISTRATION_COLUMNS))
    .where(
        _REGISTRATIONS.c.pseudonym.in_(bindparam("pseudonyms", expanding=True)),
        status_is(_REGISTRATIONS.c.status, RegistrationStatus.ACTIVE),
    )
    .order_by(_REGISTRATIONS.c.created_at, _REGISTRATIONS.c.id)
)
_OPEN_MATCHES_OF_SUBJECTS = select(Match.subject_pseudonym, Match.id).where(
    Match.subject_pseudonym.in_(bindparam("pseudonyms", expanding=True)),
    status_is(Match.status, MatchStatus.OPEN),
)
_INSERT_REGISTRATIONS = RowInsert(_REGISTRATIONS, REGISTRATION_COLUMNS)
_REGISTRATION_VALUES = attrgetter(*REGISTRATION_COLUMNS)
_MUNICIPALITIES = select(Organisation.id, Organisation.municipality).where(
    Organisation.id.in_(bindparam("ids", expanding=True))
)


async def active_registrations_of_subject(
    session: AsyncSession, pseudonyms: Sequence[str]
) -> list[RegistrationRow]:
    """The youths' active registrations, oldest first, as plain rows (no mapped objects)."""
    result = await session.execute(_ACTIVE_OF_SUBJECTS, {"pseudonyms": list(pseudonyms)})
    return [RegistrationRow(*row) for row in result]


async def insert_registrations(session: AsyncSession, rows: Sequence[RegistrationRow]) -> None:
    """Insert new registrations with one driver ``executemany`` (:class:`RowInsert`)."""
    await _INSERT_REGISTRATIONS.execute(session, [_REGISTRATION_VALUES(row) for row in rows])


async def repseudonymise(
    session: AsyncSession, *, old: Sequence[str], new: str, key_version: int
) -> None:
    """Move active registrations made under older key versions to the current pseudonym."""
    if not old:
        return
    await session.execute(
        update(Registration)
        .where(
            Registration.pseudonym.in_(old),
            status_is(Registration.status, RegistrationStatus.ACTIVE),
        )
        .values(pseudonym=new, key_version=key_version)
    )
    await session.execute(
        update(Match)
        .where(Match.subject_pseudonym.in_(old), status_is(Match.status, MatchStatus.OPEN))
        .values(subject_pseudonym=new)
    )


async def open_matches_of_subjects(
    session: AsyncSession, pseudonyms: Sequence[str]
) -> dict[str, str]:
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


async def organisation_municipalities(
    session: AsyncSession, organisation_ids: set[str]
) -> dict[str, str]:
    if not organisation_ids:
        return {}
    result = await session.execute(_MUNICIPALITIES, {"ids": list(organisation_ids)})
    return {oid: code for oid, code in result.all()}


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


async def get_registration_of_organisation(
    session: AsyncSession, *, registration_id: str, organisation_id: str
) -> Registration | None:
    result = await session.execute(
        select(Registration).where(
            Registration.id == registration_id, Registration.organisation_id == organisation_id
        )
    )
    return result.scalar_one_or_none()


async def list_registrations(
    session: AsyncSession,
    *,
    organisation_id: str,
    status: str | None,
    professional_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[Registration]:
    query = select(Registration).where(Registration.organisation_id == organisation_id)
    if status is not None:
        query = query.where(Registration.status == status)
    if professional_id is not None:
        query = query.where(Registration.professional_id == professional_id)
    if after is not None:
        created, rid = after
        query = query.where(
            (Registration.created_at > created)
            | ((Registration.created_at == created) & (Registration.id > rid))
        )
    query = query.order_by(Registration.created_at, Registration.id).limit(limit)
    return list((await session.execute(query)).scalars())


def _org_takes_part(organisation_id: str) -> object:
    return exists().where(
        MatchParticipant.match_id == Match.id,
        MatchParticipant.organisation_id == organisation_id,
    )


async def get_match_for_organisation(
    session: AsyncSession, *, match_id: str, organisation_id: str
) -> Match | None:
    result = await session.execute(
        select(Match).where(Match.id == match_id, _org_takes_part(organisation_id))  # type: ignore[arg-type]
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


async def due_registrations(
    session: AsyncSession, *, now: datetime, limit: int
) -> list[Registration]:
    result = await session.execute(
        select(Registration)
        .where(
            status_is(Registration.status, RegistrationStatus.ACTIVE),
            Registration.ends_at <= now,
        )
        .order_by(Registration.ends_at, Registration.id)
        .limit(limit)
    )
    return list(result.scalars())


async def purge_ended_registrations(session: AsyncSession, *, ended_before: datetime) -> int:
    due = (
        status_is(Registration.status, RegistrationStatus.ACTIVE, negate=True),
        Registration.ended_at <= ended_before,
    )
    ids = select(Registration.id).where(*due)
    await session.execute(delete(MatchParticipant).where(MatchParticipant.registration_id.in_(ids)))
    result = await session.execute(delete(Registration).where(*due))
    return int(result.rowcount)  # type: ignore[attr-defined]


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

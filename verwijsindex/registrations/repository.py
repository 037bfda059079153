"""All queries of the index's tables. Repositories never commit."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from datetime import datetime
from operator import attrgetter
from typing import Any, cast

from sqlalchemy import (
    BindParameter,
    Table,
    and_,
    bindparam,
    delete,
    func,
    literal_column,
    null,
    or_,
    select,
    text,
    true,
    union_all,
    update,
)
from sqlalchemy.ext.asyncio import AsyncSession

from crypto import Pseudonym
from verwijsindex.families.models import FamilyMatch, FamilyMatchParticipant, FamilyMatchStatus
from verwijsindex.matches.models import Match, MatchParticipant, MatchStatus
from verwijsindex.registrations.models import (
    REGISTRATION_COLUMNS,
    EarlierInvolvement,
    Registration,
    RegistrationInforming,
    RegistrationParent,
    RegistrationReminder,
    RegistrationRow,
    RegistrationStatus,
)
from verwijsindex.storage.base import RowInsert, Staged
from verwijsindex.storage.queries import given_values, probe, status_is


async def lock_subject(session: AsyncSession, pseudonym: Pseudonym) -> None:
    """Serialise writers for one youth.

    PostgreSQL: a transaction-scoped advisory lock keyed by the pseudonym. SQLite: every write
    transaction already began with BEGIN IMMEDIATE, which serialises all writers.
    """
    if session.get_bind().dialect.name == "postgresql":
        await session.execute(_LOCK_ONE, {"k": _lock_key(pseudonym)})


async def lock_subjects(session: AsyncSession, pseudonyms: Sequence[Pseudonym]) -> None:
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


def _lock_key(pseudonym: Pseudonym) -> int:
    return int.from_bytes(hashlib.sha256(pseudonym.encode()).digest()[:8], "big", signed=True)


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


def _under_bsn_pseudonym() -> Any:
    """Active registrations under a pseudonym of the BSN itself (``p<v>.``), as a range on the
    pseudonym (``'p' <= pseudonym < 'q'``), which the active registrations' pseudonym index
    serves on both databases (a ``LIKE`` prefix would not on PostgreSQL)."""
    return and_(
        status_is(Registration.status, RegistrationStatus.ACTIVE),
        Registration.pseudonym >= "p",
        Registration.pseudonym < "q",
    )


def _linked_under_bsn_pseudonym() -> Any:
    """Parent links under a pseudonym of the parent's BSN (``p<v>.``), as a range the links'
    pseudonym index serves; links exist only for active registrations."""
    return and_(RegistrationParent.pseudonym >= "p", RegistrationParent.pseudonym < "q")


async def any_active_direct_pseudonym(session: AsyncSession) -> bool:
    """Whether an active registration is still under a pseudonym of the BSN, or names a
    parent under one, which the blind path cannot find (it opens when there is none,
    docs/blind-pseudonyms.md). Two index probes, however many there are."""
    found = await session.execute(select(Registration.id).where(_under_bsn_pseudonym()).limit(1))
    if found.first() is not None:
        return True
    linked = await session.execute(
        select(RegistrationParent.registration_id).where(_linked_under_bsn_pseudonym()).limit(1)
    )
    return linked.first() is not None


async def active_direct_pseudonym_count(session: AsyncSession) -> int:
    """How many active registrations are still under a pseudonym of the BSN or name a parent
    under one (for ``verwijsindex keys blind-status``)."""
    linked = select(RegistrationParent.registration_id).where(_linked_under_bsn_pseudonym())
    result = await session.execute(
        select(func.count())
        .select_from(Registration)
        .where(
            status_is(Registration.status, RegistrationStatus.ACTIVE),
            or_(
                and_(Registration.pseudonym >= "p", Registration.pseudonym < "q"),
                Registration.id.in_(linked),
            ),
        )
    )
    return int(result.scalar_one())


# The write group's reads, built once: building a statement and its cache key on every call
# costs more than running it for a group of one.
_REGISTRATIONS = cast(Table, Registration.__table__)
_PARENTS = cast(Table, RegistrationParent.__table__)


_MATCHES = cast(Table, Match.__table__)
_OF_SUBJECTS = _REGISTRATIONS.c.pseudonym.in_(bindparam("pseudonyms", expanding=True))
_ACTIVE = status_is(_REGISTRATIONS.c.status, RegistrationStatus.ACTIVE)
_REGISTRATIONS_AND_OPEN_MATCH = _REGISTRATIONS.outerjoin(
    _MATCHES,
    and_(
        _MATCHES.c.subject_pseudonym == _REGISTRATIONS.c.pseudonym,
        status_is(_MATCHES.c.status, MatchStatus.OPEN),
    ),
)
_ACTIVE_WITH_OPEN_MATCH = (
    select(*(_REGISTRATIONS.c[name] for name in REGISTRATION_COLUMNS), _MATCHES.c.id)
    .select_from(_REGISTRATIONS_AND_OPEN_MATCH)
    .where(_OF_SUBJECTS, _ACTIVE)
    .order_by(_REGISTRATIONS.c.created_at, _REGISTRATIONS.c.id)
)

# The same (``part`` 0) and, after it in one result, the links of the parents (``part`` 1: the
# registration's id, the other columns NULL, and the parent's pseudonym), a lookup in the
# links' primary key by parent. Joining the links to their registrations here instead let
# PostgreSQL, on a young table without statistics, hash every active registration to find a
# parent's few (ADR 0023).
_ACTIVE_WITH_OPEN_MATCH_AND_LINKS = union_all(
    select(
        literal_column("0").label("part"),
        # Labelled: SQLite matches a compound select's ORDER BY terms against labels.
        *(_REGISTRATIONS.c[name].label(name) for name in REGISTRATION_COLUMNS),
        _MATCHES.c.id.label("open_match_id"),
        null().label("parent"),
    )
    .select_from(_REGISTRATIONS_AND_OPEN_MATCH)
    .where(_OF_SUBJECTS, _ACTIVE),
    select(
        literal_column("1"),
        *(_PARENTS.c.registration_id if name == "id" else null() for name in REGISTRATION_COLUMNS),
        null(),
        _PARENTS.c.pseudonym,
    ).where(_PARENTS.c.pseudonym.in_(bindparam("parents", expanding=True))),
).order_by(literal_column("part"), literal_column("created_at"), literal_column("id"))

_INSERT_REGISTRATIONS = RowInsert(_REGISTRATIONS, REGISTRATION_COLUMNS)


_REGISTRATION_VALUES = attrgetter(*REGISTRATION_COLUMNS)


# PostgreSQL: the same two reads driven by the given values, each an index probe (``probe``)
# whatever the tables' size and statistics: the youth's active registrations, its open match,
# a parent's links.
_GIVEN_YOUTHS = given_values("pseudonyms", _REGISTRATIONS.c.pseudonym)
_GIVEN_PARENTS = given_values("parents", _PARENTS.c.pseudonym)
_YOUTH_ACTIVE = probe(
    select(*(_REGISTRATIONS.c[name] for name in REGISTRATION_COLUMNS)).where(
        _REGISTRATIONS.c.pseudonym == _GIVEN_YOUTHS.c.value, _ACTIVE
    ),
    "registration",
)
_YOUTH_OPEN_MATCH = probe(
    select(_MATCHES.c.id).where(
        _MATCHES.c.subject_pseudonym == _GIVEN_YOUTHS.c.value,
        status_is(_MATCHES.c.status, MatchStatus.OPEN),
    ),
    "open_match",
)
_PARENT_LINKS = probe(
    select(_PARENTS.c.registration_id, _PARENTS.c.pseudonym).where(
        _PARENTS.c.pseudonym == _GIVEN_PARENTS.c.value
    ),
    "link",
)
_PG_YOUTHS = _GIVEN_YOUTHS.join(_YOUTH_ACTIVE, true()).outerjoin(_YOUTH_OPEN_MATCH, true())
_PG_ACTIVE_WITH_OPEN_MATCH = (
    select(*(_YOUTH_ACTIVE.c[name] for name in REGISTRATION_COLUMNS), _YOUTH_OPEN_MATCH.c.id)
    .select_from(_PG_YOUTHS)
    .order_by(_YOUTH_ACTIVE.c.created_at, _YOUTH_ACTIVE.c.id)
)
_PG_ACTIVE_WITH_OPEN_MATCH_AND_LINKS = union_all(
    select(
        literal_column("0").label("part"),
        *(_YOUTH_ACTIVE.c[name].label(name) for name in REGISTRATION_COLUMNS),
        _YOUTH_OPEN_MATCH.c.id.label("open_match_id"),
        null().label("parent"),
    ).select_from(_PG_YOUTHS),
    select(
        literal_column("1"),
        *(
            _PARENT_LINKS.c.registration_id if name == "id" else null()
            for name in REGISTRATION_COLUMNS
        ),
        null(),
        _PARENT_LINKS.c.pseudonym,
    ).select_from(_GIVEN_PARENTS.join(_PARENT_LINKS, true())),
).order_by(literal_column("part"), literal_column("created_at"), literal_column("id"))


async def active_registrations_with_open_match(
    session: AsyncSession, pseudonyms: Sequence[Pseudonym], parents: Sequence[Pseudonym] = ()
) -> tuple[list[tuple[RegistrationRow, str | None]], list[tuple[Pseudonym, str]]]:
    """The youths' active registrations, oldest first, as plain rows, each with the id of
    its youth's open match (a youth has an open match only while it has active
    registrations), and ``(parent, registration_id)`` of the registrations naming any of
    ``parents``, by registration id (UUIDv7: oldest first; links exist only while their
    registration is active): one statement for what the write path needs to know of the
    youths and the parents."""
    postgresql = session.get_bind().dialect.name == "postgresql"
    if not parents:
        result = await session.execute(
            _PG_ACTIVE_WITH_OPEN_MATCH if postgresql else _ACTIVE_WITH_OPEN_MATCH,
            {"pseudonyms": list(pseudonyms)},
        )
        return [(RegistrationRow(*row[:-1]), row[-1]) for row in result], []
    result = await session.execute(
        _PG_ACTIVE_WITH_OPEN_MATCH_AND_LINKS if postgresql else _ACTIVE_WITH_OPEN_MATCH_AND_LINKS,
        {"pseudonyms": list(pseudonyms), "parents": list(parents)},
    )
    active: list[tuple[RegistrationRow, str | None]] = []
    links: list[tuple[Pseudonym, str]] = []
    for part, *values, match_id, parent in result:
        if part == 0:
            active.append((RegistrationRow(*values), match_id))
        else:
            links.append((parent, values[0]))
    links.sort(key=lambda link: link[1])
    return active, links


_INSERT_PARENT_LINKS = RowInsert(_PARENTS, ("pseudonym", "registration_id", "key_version"))


def staged_registrations(
    rows: Sequence[RegistrationRow], parent_links: Sequence[tuple[str, str, int]] = ()
) -> Staged:
    """New registrations and the parents they name (``(parent pseudonym, registration_id,
    key_version)``) as rows for :func:`insert_rows` (the write group writes them with its
    other new rows, on PostgreSQL in one statement)."""
    return [
        (_INSERT_REGISTRATIONS, [_REGISTRATION_VALUES(row) for row in rows]),
        (_INSERT_PARENT_LINKS, parent_links),
    ]


_EARLIER = cast(Table, EarlierInvolvement.__table__)
_OLD: BindParameter[list[str]] = bindparam("old", expanding=True)
# Which earlier pseudonyms (older key versions, earlier subject tokens, and on the direct path
# with a key service the BSN's own) are still in use: ``kind`` 0 a youth's (an active
# registration, an open match or an earlier involvement), 1 a parent's (a link).
_EARLIER_PSEUDONYMS_IN_USE = union_all(
    select(literal_column("0").label("kind"), _REGISTRATIONS.c.pseudonym.label("pseudonym")).where(
        _REGISTRATIONS.c.pseudonym.in_(_OLD), _ACTIVE
    ),
    select(literal_column("0"), _MATCHES.c.subject_pseudonym).where(
        _MATCHES.c.subject_pseudonym.in_(_OLD), status_is(_MATCHES.c.status, MatchStatus.OPEN)
    ),
    select(literal_column("0"), _EARLIER.c.pseudonym).where(_EARLIER.c.pseudonym.in_(_OLD)),
    select(literal_column("1"), _PARENTS.c.pseudonym).where(
        _PARENTS.c.pseudonym.in_(bindparam("old_parents", expanding=True))
    ),
)


async def earlier_pseudonyms_in_use(
    session: AsyncSession, youths: Sequence[str], parents: Sequence[str]
) -> tuple[set[str], set[str]]:
    """Of the youths' and the parents' earlier pseudonyms, those still stored: one read, so
    that a write group moves over only what is there (usually nothing: after a key rotation
    or with a key service, every registration brings earlier pseudonyms, and updating each
    one's tables blindly took three statements a youth)."""
    result = await session.execute(
        _EARLIER_PSEUDONYMS_IN_USE, {"old": list(youths), "old_parents": list(parents)}
    )
    found: tuple[set[str], set[str]] = (set(), set())
    for kind, pseudonym in result:
        found[int(kind)].add(pseudonym)
    return found


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
    await session.execute(
        update(EarlierInvolvement)
        .where(EarlierInvolvement.pseudonym.in_(old))
        .values(pseudonym=new, key_version=key_version)
    )


async def get_registration_of_organisation(
    session: AsyncSession, *, registration_id: str, organisation_id: str
) -> Registration | None:
    """The mapped registration, for a write that changes it (withdrawal)."""
    result = await session.execute(
        select(Registration).where(
            Registration.id == registration_id, Registration.organisation_id == organisation_id
        )
    )
    return result.scalar_one_or_none()


# The API's reads of registrations, as plain rows with the id of each one's open match (at
# most one: a registration takes part in one match at a time) from a correlated subquery, so
# a read is one statement. The single read is built once: building a statement and its cache
# key, one more statement for the match id and loading a mapped object cost more than the
# indexed lookup itself (docs/benchmarks.md, "Reads").
_MATCHES = cast(Table, Match.__table__)
_PARTICIPANTS = cast(Table, MatchParticipant.__table__)

_OPEN_MATCH_ID = (
    select(_PARTICIPANTS.c.match_id)
    .join(_MATCHES, _MATCHES.c.id == _PARTICIPANTS.c.match_id)
    .where(
        _PARTICIPANTS.c.registration_id == _REGISTRATIONS.c.id,
        _PARTICIPANTS.c.left_at.is_(None),
        status_is(_MATCHES.c.status, MatchStatus.OPEN),
    )
    .limit(1)
    .scalar_subquery()
)

_FAMILIES = cast(Table, FamilyMatch.__table__)
_FAMILY_PARTICIPANTS = cast(Table, FamilyMatchParticipant.__table__)

_OPEN_FAMILY_ID = (
    select(_FAMILY_PARTICIPANTS.c.family_match_id)
    .join(_FAMILIES, _FAMILIES.c.id == _FAMILY_PARTICIPANTS.c.family_match_id)
    .where(
        _FAMILY_PARTICIPANTS.c.registration_id == _REGISTRATIONS.c.id,
        _FAMILY_PARTICIPANTS.c.left_at.is_(None),
        status_is(_FAMILIES.c.status, FamilyMatchStatus.OPEN),
    )
    .limit(1)
    .scalar_subquery()
)

_WITH_OPEN_MATCH = select(
    *(_REGISTRATIONS.c[name] for name in REGISTRATION_COLUMNS), _OPEN_MATCH_ID, _OPEN_FAMILY_ID
)

_OF_ORGANISATION = _WITH_OPEN_MATCH.where(
    _REGISTRATIONS.c.id == bindparam("registration_id"),
    _REGISTRATIONS.c.organisation_id == bindparam("organisation_id"),
)


RegistrationWithMatch = tuple[RegistrationRow, str | None, str | None]
"""A registration as a plain row, and the ids of its open match and open family match (None:
none)."""


def _with_match(row: Sequence[Any]) -> RegistrationWithMatch:
    return RegistrationRow(*row[:-2]), row[-2], row[-1]


async def registration_of_organisation(
    session: AsyncSession, *, registration_id: str, organisation_id: str
) -> RegistrationWithMatch | None:
    """The organisation's registration and its open match's id, or None (unknown, or of
    another organisation): one statement, no mapped object."""
    result = await session.execute(
        _OF_ORGANISATION,
        {"registration_id": registration_id, "organisation_id": organisation_id},
    )
    row = result.first()
    return None if row is None else _with_match(row)


async def list_registrations(
    session: AsyncSession,
    *,
    organisation_id: str,
    status: str | None,
    professional_id: str | None,
    after: tuple[datetime, str] | None,
    limit: int,
) -> list[RegistrationWithMatch]:
    """The organisation's registrations, oldest first, each with its open match's id: one
    statement, plain rows."""
    table = _REGISTRATIONS
    query = _WITH_OPEN_MATCH.where(table.c.organisation_id == organisation_id)
    if status is not None:
        query = query.where(table.c.status == status)
    if professional_id is not None:
        query = query.where(table.c.professional_id == professional_id)
    if after is not None:
        created, rid = after
        query = query.where(
            (table.c.created_at > created) | ((table.c.created_at == created) & (table.c.id > rid))
        )
    query = query.order_by(table.c.created_at, table.c.id).limit(limit)
    return [_with_match(row) for row in await session.execute(query)]


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
    for child in (FamilyMatchParticipant, RegistrationParent, RegistrationInforming):
        await session.execute(delete(child).where(child.registration_id.in_(ids)))
    await session.execute(
        delete(RegistrationReminder).where(RegistrationReminder.registration_id.in_(ids))
    )
    result = await session.execute(delete(Registration).where(*due))
    return int(result.rowcount)  # type: ignore[attr-defined]

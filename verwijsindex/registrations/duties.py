"""What a registration asks of its organisation after it is made, and what the index keeps
for it: the duty to inform (records and the ``registration.inform_due`` reminder), renewing
the term (and the ``registration.expiring`` reminder), and earlier involvement (an ended
registration kept where the municipality's covenant switched it on). Nothing here commits:
:class:`~verwijsindex.registrations.service.RegistrationService` owns the units of work.

The inform deadline and earlier involvement are the municipality's covenant
(``inform_within``, ``earlier_involvement``), read through :func:`covenants_of`.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import ColumnElement, and_, delete, exists, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import InstrumentedAttribute

import crypto
from notifier import Event, EventType, enqueue_many
from verwijsindex.clock import AMSTERDAM
from verwijsindex.covenants.models import CovenantVersion
from verwijsindex.covenants.service import Covenant, CovenantService, default_covenant
from verwijsindex.errors import InvalidInput, NotFound, RegistrationNotActive
from verwijsindex.keys import KeyRing
from verwijsindex.organisations.models import Organisation, Professional
from verwijsindex.registrations import repository as repo
from verwijsindex.registrations.lifecycle import parse_birth_date, parse_term, registration_end
from verwijsindex.registrations.models import (
    EarlierInvolvement,
    EndReason,
    InformingStatus,
    PostponeReason,
    Registration,
    RegistrationInforming,
    RegistrationReminder,
    RegistrationStatus,
    ReminderKind,
)
from verwijsindex.storage.base import new_id
from verwijsindex.storage.queries import status_is

if TYPE_CHECKING:
    from verwijsindex.registrations.index import Actor

EXPIRING_NOTICE = timedelta(days=30)
"""``registration.expiring`` is sent this long before a registration's end."""

KEPT_FOR_EARLIER_INVOLVEMENT = frozenset(
    {EndReason.RISK_RESOLVED, EndReason.OTHER, EndReason.EXPIRED}
)
"""Ends after which a registration may be kept as earlier involvement. A registration
withdrawn as ``unjustified`` should never have been made, one ended for ``deceased`` helps no
later registration, and an erasure removes everything."""


async def covenants_of(
    session: AsyncSession, municipalities: Collection[str]
) -> dict[str, Covenant]:
    """The covenant of each municipality now (its default when it has none): where the inform
    deadline and earlier involvement come from."""
    return await CovenantService.current_of(session, municipalities)


# --- The duty to inform --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class InformingInput:
    """One record as asked: informed (who, on which day) or postponed (why, until when)."""

    status: str
    youth: bool = False
    parents: bool = False
    informed_on: str | None = None
    reason: str | None = None
    revisit_on: str | None = None


def _day(value: str | None, field: str) -> date:
    try:
        if value is None:
            raise ValueError
        return parse_birth_date(value)
    except (ValueError, InvalidInput):
        raise InvalidInput(f"{field} must be a calendar date as YYYY-MM-DD") from None


def informing_record(
    given: InformingInput, *, registration: Registration, actor: Actor, now: datetime
) -> RegistrationInforming:
    """The record, or :class:`InvalidInput` naming the field: informed needs the youth and/or
    the parents and a day not in the future; postponed needs a coded reason and a day to
    look again after today and before the registration ends."""
    today = now.astimezone(AMSTERDAM).date()
    record = RegistrationInforming(
        id=new_id(),
        registration_id=registration.id,
        youth_informed=False,
        parents_informed=False,
        informed_on=None,
        reason=None,
        revisit_on=None,
        professional_id=actor.professional_id,
        recorded_at=now,
    )
    if given.status == InformingStatus.INFORMED:
        if not (given.youth or given.parents):
            raise InvalidInput("informed names the youth, the parents or both")
        informed_on = _day(given.informed_on, "informed_on")
        if informed_on > today:
            raise InvalidInput("informed_on lies in the future")
        record.status = InformingStatus.INFORMED
        record.youth_informed, record.parents_informed = given.youth, given.parents
        record.informed_on = informed_on
        return record
    if given.status == InformingStatus.POSTPONED:
        try:
            reason = PostponeReason(given.reason or "")
        except ValueError:
            raise InvalidInput(
                "reason must be one of: " + ", ".join(r.value for r in PostponeReason)
            ) from None
        revisit_on = _day(given.revisit_on, "revisit_on")
        if revisit_on <= today:
            raise InvalidInput("revisit_on must lie after today")
        if revisit_on > registration.ends_at.astimezone(AMSTERDAM).date():
            raise InvalidInput("revisit_on must lie before the registration ends")
        record.status = InformingStatus.POSTPONED
        record.reason, record.revisit_on = reason, revisit_on
        return record
    raise InvalidInput("status must be informed or postponed")


async def registration_of(
    session: AsyncSession, registration_id: str, organisation_id: str, *, active: bool
) -> Registration:
    """The organisation's registration (NotFound for another's); with ``active``, refused
    when it has ended."""
    found = await repo.get_registration_of_organisation(
        session, registration_id=registration_id, organisation_id=organisation_id
    )
    if found is None:
        raise NotFound("registration not found")
    if active and found.status != RegistrationStatus.ACTIVE:
        raise RegistrationNotActive("the registration has ended")
    return found


async def informing_records(
    session: AsyncSession, registration_id: str
) -> list[RegistrationInforming]:
    result = await session.execute(
        select(RegistrationInforming)
        .where(RegistrationInforming.registration_id == registration_id)
        .order_by(RegistrationInforming.recorded_at, RegistrationInforming.id)
    )
    return list(result.scalars())


# --- Renewal --------------------------------------------------------------------------------


def renewed_end(
    registration: Registration,
    *,
    keys: KeyRing,
    bsn: str,
    birth_date: str,
    term: str | None,
    now: datetime,
) -> datetime:
    """The end of a renewed term, or raise: the number must be the registration's youth's
    (its pseudonym under any known key version), the birth date gives the age limit again
    (it is not stored), and the term has the limits of a new registration."""
    try:
        valid = crypto.parse_bsn(bsn)
    except crypto.InvalidBSN:
        raise InvalidInput("bsn is not a valid BSN") from None
    if registration.pseudonym not in keys.all_pseudonyms(valid):
        raise InvalidInput("bsn is not the registration's youth")
    return registration_end(
        birth_date=parse_birth_date(birth_date), created_at=now, term=parse_term(term)
    )


# --- Reminders (the sweeper) ---------------------------------------------------------------


def _reminder_exists(
    kind: ReminderKind, due: InstrumentedAttribute[datetime]
) -> ColumnElement[bool]:
    return exists().where(
        RegistrationReminder.registration_id == Registration.id,
        RegistrationReminder.kind == kind,
        RegistrationReminder.due_at == due,
    )


async def _claim(
    session: AsyncSession, kind: ReminderKind, due: Sequence[tuple[str, datetime]], now: datetime
) -> set[str]:
    """Insert one reminder row per ``(registration_id, due_at)``; the ids whose row is new.
    A reminder another sweeper claimed first (or an earlier sweep that committed) is left
    out, so each is sent once, and the row commits with its outbox event or not at all."""
    if not due:
        return set()
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(RegistrationReminder)
        .values([{"registration_id": r, "kind": kind, "due_at": d, "sent_at": now} for r, d in due])
        .on_conflict_do_nothing()
        .returning(RegistrationReminder.registration_id)
    )
    return set((await session.execute(statement)).scalars())


LOOKBACK = timedelta(days=30)
"""How far past its deadline the sweep still finds a registration to remind about (a sweeper
stopped for longer misses the older reminders): it keeps each sweep's reads to the
registrations of a window, found through indexes, at any size of the index."""

_PAGE = 1000


async def inform_due(session: AsyncSession, *, now: datetime, limit: int) -> list[Event]:
    """``registration.inform_due`` for each active registration older than its
    municipality's ``inform_within`` with nothing recorded, and for each whose latest record
    is a postponement whose day to look again has come; each once."""
    with_covenant = await session.execute(select(CovenantVersion.municipality).distinct())
    covenants = await covenants_of(session, list(with_covenant.scalars()))
    default = default_covenant("").inform_span
    spans = [default, *(c.inform_span for c in covenants.values())]
    newest, oldest = now - min(spans), now - max(spans) - LOOKBACK
    organisations = list((await session.execute(select(Organisation.id))).scalars())
    due: list[tuple[str, str, datetime]] = []
    after: tuple[datetime, str] | None = None
    while len(due) < limit and organisations:
        # Through the index by organisation and creation time: the window only.
        query = (
            select(
                Registration.id,
                Registration.organisation_id,
                Registration.created_at,
                Registration.municipality,
            )
            .where(
                Registration.organisation_id.in_(organisations),
                Registration.created_at > oldest,
                Registration.created_at <= newest,
                status_is(Registration.status, RegistrationStatus.ACTIVE),
                ~exists().where(RegistrationInforming.registration_id == Registration.id),
                ~_reminder_exists(ReminderKind.INFORM_DUE, Registration.created_at),
            )
            .order_by(Registration.created_at, Registration.id)
            .limit(_PAGE)
        )
        if after is not None:
            created, rid = after
            query = query.where(
                (Registration.created_at > created)
                | ((Registration.created_at == created) & (Registration.id > rid))
            )
        rows = (await session.execute(query)).all()
        for rid, organisation_id, created, municipality in rows:
            covenant = covenants.get(municipality)
            span = covenant.inform_span if covenant is not None else default
            if created <= now - span and len(due) < limit:
                due.append((rid, organisation_id, created))
        if len(rows) < _PAGE:
            break
        after = (rows[-1][2], rows[-1][0])
    later = RegistrationInforming.__table__.alias("later")
    today = now.astimezone(AMSTERDAM).date()
    revisits = await session.execute(
        select(Registration.id, Registration.organisation_id, RegistrationInforming.recorded_at)
        .join(Registration, RegistrationInforming.registration_id == Registration.id)
        .where(
            RegistrationInforming.revisit_on <= today,
            RegistrationInforming.revisit_on > (now - LOOKBACK).astimezone(AMSTERDAM).date(),
            RegistrationInforming.status == InformingStatus.POSTPONED,
            status_is(Registration.status, RegistrationStatus.ACTIVE),
            ~exists().where(
                and_(
                    later.c.registration_id == RegistrationInforming.registration_id,
                    later.c.recorded_at > RegistrationInforming.recorded_at,
                )
            ),
            ~_reminder_exists(ReminderKind.INFORM_DUE, RegistrationInforming.recorded_at),
        )
        .limit(limit)
    )
    due.extend((r, o, c) for r, o, c in revisits.all())
    claimed = await _claim(session, ReminderKind.INFORM_DUE, [(r, d) for r, _, d in due], now)
    return [
        _reminder(EventType.REGISTRATION_INFORM_DUE, o, r, now) for r, o, _ in due if r in claimed
    ]


async def expiring(session: AsyncSession, *, now: datetime, limit: int) -> list[Event]:
    """``registration.expiring`` for each active registration ending within
    :data:`EXPIRING_NOTICE`, once per end date (a renewal makes a new one)."""
    rows = await session.execute(
        select(Registration.id, Registration.organisation_id, Registration.ends_at)
        .where(
            status_is(Registration.status, RegistrationStatus.ACTIVE),
            Registration.ends_at <= now + EXPIRING_NOTICE,
            Registration.ends_at > now,
            ~_reminder_exists(ReminderKind.EXPIRING, Registration.ends_at),
        )
        .order_by(Registration.ends_at, Registration.id)
        .limit(limit)
    )
    due = [(r, o, e) for r, o, e in rows.all()]
    claimed = await _claim(session, ReminderKind.EXPIRING, [(r, e) for r, _, e in due], now)
    return [
        _reminder(EventType.REGISTRATION_EXPIRING, o, r, now) for r, o, _ in due if r in claimed
    ]


def _reminder(kind: EventType, organisation_id: str, registration_id: str, now: datetime) -> Event:
    return Event(kind, organisation_id, {"registration_id": registration_id}, now)


# --- Earlier involvement --------------------------------------------------------------------


async def keep_if_agreed(
    session: AsyncSession, registration: Registration, reason: EndReason, now: datetime
) -> None:
    """Keep the ended registration as earlier involvement when its municipality's covenant
    says so (and the end reason allows it), until ``now`` plus the covenant's retention."""
    if reason not in KEPT_FOR_EARLIER_INVOLVEMENT:
        return
    covenant = (await covenants_of(session, [registration.municipality]))[registration.municipality]
    if not covenant.terms.earlier_involvement.enabled:
        return
    session.add(
        EarlierInvolvement(
            id=new_id(),
            pseudonym=registration.pseudonym,
            key_version=registration.key_version,
            organisation_id=registration.organisation_id,
            professional_id=registration.professional_id,
            municipality=registration.municipality,
            ended_at=now,
            purge_after=now + covenant.earlier_involvement_retention,
        )
    )


@dataclass(frozen=True, slots=True)
class EarlierView:
    organisation_id: str
    organisation_name: str
    organisation_sector: str
    professional_id: str
    professional_name: str
    professional_email: str
    professional_phone: str
    ended_at: datetime


async def earlier_involvement(
    session: AsyncSession, registration: Registration, *, now: datetime
) -> list[EarlierView]:
    """Other organisations' ended registrations of the same youth, kept as earlier
    involvement, when the registration's own municipality has switched it on too; oldest
    end first."""
    covenant = (await covenants_of(session, [registration.municipality]))[registration.municipality]
    if not covenant.terms.earlier_involvement.enabled:
        return []
    rows = await session.execute(
        select(
            Organisation.id,
            Organisation.name,
            Organisation.sector,
            Professional.id,
            Professional.name,
            Professional.email,
            Professional.phone,
            EarlierInvolvement.ended_at,
        )
        .join(Organisation, Organisation.id == EarlierInvolvement.organisation_id)
        .join(Professional, Professional.id == EarlierInvolvement.professional_id)
        .where(
            EarlierInvolvement.pseudonym == registration.pseudonym,
            EarlierInvolvement.organisation_id != registration.organisation_id,
            EarlierInvolvement.purge_after > now,
            EarlierInvolvement.ended_at <= registration.created_at,
        )
        .order_by(EarlierInvolvement.ended_at, EarlierInvolvement.id)
    )
    return [EarlierView(*row) for row in rows.all()]


async def tell_earlier_involvement(
    session: AsyncSession, registrations: Sequence[tuple[str, str, str, str]], now: datetime
) -> None:
    """``registration.earlier_involvement`` to the organisation of each new registration
    ``(id, pseudonym, organisation_id, municipality)`` whose youth has earlier involvement of
    another organisation kept, when its municipality has switched it on: one query when there
    is none (the common case)."""
    if not registrations:
        return
    pseudonyms = sorted({p for _, p, _, _ in registrations})
    kept = await session.execute(
        select(EarlierInvolvement.pseudonym, EarlierInvolvement.organisation_id).where(
            EarlierInvolvement.pseudonym.in_(pseudonyms), EarlierInvolvement.purge_after > now
        )
    )
    by_youth: dict[str, set[str]] = {}
    for pseudonym, organisation_id in kept.all():
        by_youth.setdefault(pseudonym, set()).add(organisation_id)
    told = [r for r in registrations if by_youth.get(r[1], set()) - {r[2]}]
    if not told:
        return
    covenants = await covenants_of(session, {m for _, _, _, m in told})
    await enqueue_many(
        session,
        [
            Event(
                EventType.REGISTRATION_EARLIER_INVOLVEMENT,
                organisation_id,
                {"registration_id": registration_id},
                now,
            )
            for registration_id, _, organisation_id, municipality in told
            if covenants[municipality].terms.earlier_involvement.enabled
        ],
    )


async def purge_earlier_involvement(session: AsyncSession, *, now: datetime) -> int:
    result = await session.execute(
        delete(EarlierInvolvement).where(EarlierInvolvement.purge_after <= now)
    )
    return int(result.rowcount)  # type: ignore[attr-defined]

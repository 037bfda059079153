"""Registrations, matches and their lifecycle. Services never commit: the caller's
unit of work (one transaction per request or task) does.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

import crypto
from notifier import EventType, enqueue
from verwijsindex.clock import Clock
from verwijsindex.domain import repository as repo
from verwijsindex.domain.lifecycle import parse_birth_date, registration_end
from verwijsindex.domain.models import (
    WITHDRAW_REASONS,
    EndReason,
    Match,
    MatchParticipant,
    MatchStatus,
    Registration,
    RegistrationStatus,
)
from verwijsindex.errors import InvalidBSN, InvalidInput, NotFound, RegistrationNotActive
from verwijsindex.keys import KeyRing


@dataclass(frozen=True)
class Actor:
    """Who acts: a professional of an organisation (through that organisation's system)."""

    organisation_id: str
    professional_id: str


@dataclass(frozen=True)
class RegisterResult:
    registration: Registration
    created: bool
    match_id: str | None


@dataclass(frozen=True)
class SweepResult:
    ended: int
    purged_registrations: int
    purged_matches: int


def _valid_municipality(code: str) -> bool:
    return len(code) == 4 and code.isascii() and code.isdigit()


class RegistrationService:
    """The match index: register, withdraw, end and purge, with exactly one open match per
    youth. Writers for one youth are serialised by :func:`repo.lock_subject`."""

    def __init__(self, *, keys: KeyRing, clock: Clock) -> None:
        self._keys = keys
        self._clock = clock

    async def register(
        self,
        session: AsyncSession,
        *,
        actor: Actor,
        bsn: str,
        birth_date: str | date,
        municipality: str | None,
    ) -> RegisterResult:
        try:
            valid_bsn = crypto.parse_bsn(bsn)
        except crypto.InvalidBSN as exc:
            raise InvalidBSN(str(exc)) from None
        now = self._clock.now()
        ends_at = registration_end(birth_date=parse_birth_date(birth_date), created_at=now)
        if municipality is not None and not _valid_municipality(municipality):
            raise InvalidInput("municipality must be a four-digit CBS municipality code")

        pseudonyms = self._keys.all_pseudonyms(valid_bsn)
        current = pseudonyms[0]
        await repo.lock_subject(session, current)
        await repo.repseudonymise(
            session, old=pseudonyms[1:], new=current, key_version=self._keys.current_version
        )

        existing = await repo.active_registration_of_professional(
            session, pseudonyms=[current], professional_id=actor.professional_id
        )
        if existing is not None:
            participation = await repo.open_participation_of_registration(session, existing.id)
            return RegisterResult(
                registration=existing,
                created=False,
                match_id=participation.match_id if participation else None,
            )

        if municipality is None:
            organisation = await repo.get_organisation(session, actor.organisation_id)
            if organisation is None:
                raise NotFound("organisation not found")
            municipality = organisation.municipality

        registration = Registration(
            pseudonym=current,
            key_version=self._keys.current_version,
            organisation_id=actor.organisation_id,
            professional_id=actor.professional_id,
            municipality=municipality,
            status=RegistrationStatus.ACTIVE,
            created_at=now,
            ends_at=ends_at,
            ended_at=None,
            end_reason=None,
        )
        session.add(registration)
        await session.flush()

        others = [
            r
            for r in await repo.active_registrations_of_subject(session, [current])
            if r.id != registration.id and r.professional_id != actor.professional_id
        ]
        if not others:
            return RegisterResult(registration=registration, created=True, match_id=None)

        match = await repo.open_match_of_subject(session, [current])
        if match is None:
            match = await self._open_match(session, current, [*others, registration], now)
        else:
            await self._join_match(session, match, registration, now)
        return RegisterResult(registration=registration, created=True, match_id=match.id)

    async def _open_match(
        self,
        session: AsyncSession,
        pseudonym: str,
        registrations: list[Registration],
        now: datetime,
    ) -> Match:
        match = Match(
            subject_pseudonym=pseudonym, status=MatchStatus.OPEN, created_at=now, closed_at=None
        )
        session.add(match)
        await session.flush()
        for reg in registrations:
            session.add(
                MatchParticipant(
                    match_id=match.id,
                    registration_id=reg.id,
                    organisation_id=reg.organisation_id,
                    joined_at=now,
                    left_at=None,
                )
            )
        for reg in registrations:
            await enqueue(
                session,
                event_type=EventType.MATCH_CREATED,
                organisation_id=reg.organisation_id,
                data={"match_id": match.id, "registration_id": reg.id},
                occurred_at=now,
                match_id=match.id,
            )
        await session.flush()
        return match

    async def _join_match(
        self, session: AsyncSession, match: Match, registration: Registration, now: datetime
    ) -> None:
        current = await repo.current_participations(session, match.id)
        session.add(
            MatchParticipant(
                match_id=match.id,
                registration_id=registration.id,
                organisation_id=registration.organisation_id,
                joined_at=now,
                left_at=None,
            )
        )
        for p in [*current]:
            await enqueue(
                session,
                event_type=EventType.MATCH_PARTICIPANT_JOINED,
                organisation_id=p.organisation_id,
                data={
                    "match_id": match.id,
                    "registration_id": p.registration_id,
                    "participant_registration_id": registration.id,
                },
                occurred_at=now,
                match_id=match.id,
            )
        await enqueue(
            session,
            event_type=EventType.MATCH_PARTICIPANT_JOINED,
            organisation_id=registration.organisation_id,
            data={
                "match_id": match.id,
                "registration_id": registration.id,
                "participant_registration_id": registration.id,
            },
            occurred_at=now,
            match_id=match.id,
        )
        await session.flush()

    async def withdraw(
        self, session: AsyncSession, *, actor: Actor, registration_id: str, reason: str
    ) -> Registration:
        try:
            end_reason = EndReason(reason)
        except ValueError:
            end_reason = None
        if end_reason not in WITHDRAW_REASONS:
            raise InvalidInput(
                "reason must be one of: " + ", ".join(r.value for r in WITHDRAW_REASONS)
            )
        registration = await repo.get_registration_of_organisation(
            session, registration_id=registration_id, organisation_id=actor.organisation_id
        )
        if registration is None:
            raise NotFound("registration not found")
        await repo.lock_subject(session, registration.pseudonym)
        await session.refresh(registration)
        if registration.status != RegistrationStatus.ACTIVE:
            raise RegistrationNotActive("the registration has already ended")
        assert end_reason is not None
        await self._end(
            session, registration, RegistrationStatus.WITHDRAWN, end_reason, self._clock.now()
        )
        return registration

    async def end_registration(
        self, session: AsyncSession, registration: Registration, *, reason: EndReason
    ) -> None:
        """End an active registration now (status ``ended``), with the usual outbox events and
        match bookkeeping. The caller holds the subject lock."""
        await self._end(session, registration, RegistrationStatus.ENDED, reason, self._clock.now())

    async def _end(
        self,
        session: AsyncSession,
        registration: Registration,
        status: RegistrationStatus,
        reason: EndReason,
        now: datetime,
    ) -> None:
        registration.status = status
        registration.ended_at = now
        registration.end_reason = reason
        await enqueue(
            session,
            event_type=EventType.REGISTRATION_ENDED,
            organisation_id=registration.organisation_id,
            data={"registration_id": registration.id, "reason": str(reason)},
            occurred_at=now,
        )
        participation = await repo.open_participation_of_registration(session, registration.id)
        if participation is None:
            await session.flush()
            return
        participation.left_at = now
        match_id = participation.match_id
        remaining = [
            p
            for p in await repo.current_participations(session, match_id)
            if p.id != participation.id
        ]
        for p in remaining:
            await enqueue(
                session,
                event_type=EventType.MATCH_PARTICIPANT_LEFT,
                organisation_id=p.organisation_id,
                data={
                    "match_id": match_id,
                    "registration_id": p.registration_id,
                    "participant_registration_id": registration.id,
                },
                occurred_at=now,
                match_id=match_id,
            )
        if len(remaining) < 2:
            match = await session.get(Match, match_id)
            assert match is not None
            match.status = MatchStatus.CLOSED
            match.closed_at = now
            for p in remaining:
                p.left_at = now
                await enqueue(
                    session,
                    event_type=EventType.MATCH_CLOSED,
                    organisation_id=p.organisation_id,
                    data={"match_id": match_id, "registration_id": p.registration_id},
                    occurred_at=now,
                    match_id=match_id,
                )
        await session.flush()

    async def end_due(self, session: AsyncSession, *, limit: int = 500) -> int:
        """End up to ``limit`` registrations whose end date has passed."""
        return len(await self.end_due_registrations(session, limit=limit))

    async def end_due_registrations(
        self, session: AsyncSession, *, limit: int = 500
    ) -> list[Registration]:
        """End up to ``limit`` registrations whose end date has passed; return them."""
        now = self._clock.now()
        due = await repo.due_registrations(session, now=now, limit=limit)
        for registration in due:
            await repo.lock_subject(session, registration.pseudonym)
            await self._end(session, registration, RegistrationStatus.ENDED, EndReason.EXPIRED, now)
        return due

    async def purge(self, session: AsyncSession, *, retention: timedelta) -> tuple[int, int]:
        """Delete ended registrations and closed matches older than the retention period."""
        cutoff = self._clock.now() - retention
        purged_regs = await repo.purge_ended_registrations(session, ended_before=cutoff)
        purged_matches = await repo.purge_closed_matches(session, closed_before=cutoff)
        return purged_regs, purged_matches

"""What the index does with consent and exchanges for a match's participants, each call one
unit of work, every access to the youth's data in the access log: consent events (recorded
with their ledger entry, listed, folded into a decision, exported), encryption keys, and the
exchange gate (send, inbox, fetch, acknowledge). The rules, the ledger and the gate are the
:mod:`consent` package's; this adds who takes part, the transaction and the access log."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from consent import (
    ConsentEventRow,
    ConsentService,
    ConsentState,
    DataCategory,
    Decision,
    Direction,
    EventKind,
    Exchange,
    GrantorRole,
    Method,
    OrganisationKey,
    Purpose,
)
from verwijsindex.accesslog import AccessContext, AccessLogger, Operation, Subject, record_read
from verwijsindex.clock import Clock
from verwijsindex.errors import NotFound
from verwijsindex.matches.service import MatchService
from verwijsindex.registrations.index import Actor
from verwijsindex.storage import Database
from verwijsindex.storage.group_commit import GroupCommitter


@dataclass(frozen=True, slots=True)
class ConsentEventRequest:
    """One consent event as a participant records it (the birth date is used, not kept)."""

    counterpart_organisation_id: str
    kind: EventKind
    grantor: GrantorRole
    purpose: Purpose
    data_categories: Sequence[DataCategory]
    direction: Direction
    subject_birth_date: date
    method: Method
    valid_from: datetime | None = None
    valid_until: datetime | None = None
    evidence_hash: str | None = None


@dataclass(frozen=True, slots=True)
class ExchangeRequest:
    """Encrypted content for another participant, and what it rests on."""

    recipient_organisation_id: str
    purpose: Purpose
    category: DataCategory
    enc: bytes
    ciphertext: bytes
    legal_ground: tuple[str, str] | None = None
    consent_reference: Sequence[str] | None = None
    recipient_key_id: str | None = None


class MatchConsents:
    """Consent and exchanges of the matches an organisation takes part in."""

    def __init__(
        self,
        *,
        database: Database,
        writes: GroupCommitter,
        consent: ConsentService,
        access_log: AccessLogger,
        clock: Clock,
    ) -> None:
        self._database = database
        self._writes = writes
        self._consent = consent
        self._access_log = access_log
        self._clock = clock

    async def _log_write(
        self,
        session: AsyncSession,
        access: AccessContext,
        operation: Operation,
        match_id: str,
        reference: str,
        *,
        reason: str | None = None,
    ) -> None:
        """A write about the match's youth, in the write's transaction: the record commits if
        and only if the write does. ``reference`` is the consent event or exchange."""
        await self._access_log.record(
            session,
            access,
            operation=operation,
            subject=Subject.match(match_id),
            reason=reason,
            reference=reference,
        )

    async def _log_read(
        self,
        access: AccessContext,
        operation: Operation,
        match_ids: Sequence[str],
        *,
        reference: str | None = None,
    ) -> None:
        subjects = [Subject.match(m) for m in match_ids]
        await record_read(
            self._writes, self._access_log, access, operation, subjects, reference=reference
        )

    # --- consent events -------------------------------------------------------------------

    async def record(
        self, access: AccessContext, actor: Actor, match_id: str, event: ConsentEventRequest
    ) -> ConsentEventRow:
        """Record the event and append it to the ledger in one transaction; a refusal or
        withdrawal makes undelivered ciphertext it no longer covers unavailable at once."""
        now = self._clock.now()
        async with self._database.transaction() as session:
            participants = await MatchService.open_participants(
                session, match_id=match_id, organisation_id=actor.organisation_id
            )
            row = await self._consent.record_event(
                session,
                match_id=match_id,
                participants=participants,
                organisation_id=actor.organisation_id,
                professional_id=actor.professional_id,
                counterpart_organisation_id=event.counterpart_organisation_id,
                kind=event.kind,
                grantor=event.grantor,
                purpose=event.purpose,
                data_categories=event.data_categories,
                direction=event.direction,
                subject_birth_date=event.subject_birth_date,
                method=event.method,
                now=now,
                valid_from=event.valid_from,
                valid_until=event.valid_until,
                evidence_hash=event.evidence_hash,
            )
            await self._log_write(session, access, Operation.CONSENT_RECORD, match_id, row.id)
        return row

    async def events(
        self, access: AccessContext, *, organisation_id: str, match_id: str
    ) -> tuple[list[ConsentEventRow], tuple[ConsentState, ...]]:
        """The match's consent events and the folded state per direction."""
        now = self._clock.now()
        async with self._database.read() as session:
            await MatchService.open_participants(
                session, match_id=match_id, organisation_id=organisation_id
            )
            rows = await self._consent.event_rows(session, match_id)
            states = await self._consent.folded_state(session, match_id=match_id, now=now)
        await self._log_read(access, Operation.CONSENT_LIST, [match_id])
        return rows, states

    async def decision(
        self,
        access: AccessContext,
        *,
        sender: str,
        match_id: str,
        recipient: str,
        purpose: Purpose,
        category: DataCategory,
    ) -> Decision:
        """Whether ``sender`` may send to ``recipient`` now, and the consent it rests on."""
        now = self._clock.now()
        async with self._database.read() as session:
            participants = await MatchService.open_participants(
                session, match_id=match_id, organisation_id=sender
            )
            if recipient not in participants or recipient == sender:
                raise NotFound("the recipient does not take part in this match")
            decision = await self._consent.decide(
                session,
                match_id=match_id,
                sender=sender,
                recipient=recipient,
                purpose=purpose,
                category=category,
                now=now,
            )
        await self._log_read(access, Operation.CONSENT_DECISION, [match_id])
        return decision

    async def exported_event(
        self, access: AccessContext, *, organisation_id: str, consent_id: str
    ) -> ConsentEventRow:
        """A consent event to export, if the organisation takes part in its match; logged."""
        async with self._database.read() as session:
            row = await self._consent.event_row(session, consent_id)
            await MatchService.open_participants(
                session, match_id=row.match_id, organisation_id=organisation_id
            )
        await self._log_read(access, Operation.CONSENT_EXPORT, [row.match_id], reference=row.id)
        return row

    # --- encryption keys ------------------------------------------------------------------

    async def register_key(
        self, *, organisation_id: str, public_key: bytes
    ) -> tuple[OrganisationKey, bool]:
        """Register or rotate the organisation's public key; whether it is new."""
        async with self._database.transaction() as session:
            return await self._consent.register_key(
                session,
                organisation_id=organisation_id,
                public_key=public_key,
                now=self._clock.now(),
            )

    async def key_of(self, *, caller_organisation_id: str, organisation_id: str) -> OrganisationKey:
        """The current public key of an organisation that shares an open match with the
        caller's (or the caller's own); NotFound otherwise, or when it has none."""
        async with self._database.read() as session:
            if organisation_id != caller_organisation_id and not (
                await MatchService.share_open_match(
                    session, caller_organisation_id, organisation_id
                )
            ):
                raise NotFound("no such organisation key")
            key = await self._consent.current_key(session, organisation_id)
        if key is None:
            raise NotFound("the organisation has no encryption key")
        return key

    # --- exchanges ------------------------------------------------------------------------

    async def send(
        self, access: AccessContext, actor: Actor, match_id: str, exchange: ExchangeRequest
    ) -> Exchange:
        """The exchange gate: store the ciphertext only if consent or a legal ground covers
        it now (``consent.ConsentRequired`` otherwise); logged with the ground's code."""
        now = self._clock.now()
        async with self._database.transaction() as session:
            participants = await MatchService.open_participants(
                session, match_id=match_id, organisation_id=actor.organisation_id
            )
            if exchange.recipient_organisation_id not in participants:
                raise NotFound("the recipient does not take part in this match")
            sent = await self._consent.send(
                session,
                match_id=match_id,
                participants=participants,
                sender_organisation_id=actor.organisation_id,
                sender_professional_id=actor.professional_id,
                recipient_organisation_id=exchange.recipient_organisation_id,
                purpose=exchange.purpose,
                category=exchange.category,
                enc=exchange.enc,
                ciphertext=exchange.ciphertext,
                now=now,
                legal_ground=exchange.legal_ground,
                consent_reference=exchange.consent_reference,
                recipient_key_id=exchange.recipient_key_id,
            )
            await self._log_write(
                session,
                access,
                Operation.EXCHANGE_CREATE,
                match_id,
                sent.id,
                reason=sent.legal_ground,
            )
        return sent

    async def inbox(
        self, access: AccessContext, *, organisation_id: str, include_done: bool, limit: int
    ) -> list[Exchange]:
        """The organisation's inbox; logged once per youth (match), in inbox order."""
        async with self._database.read() as session:
            rows = await self._consent.inbox(
                session, organisation_id=organisation_id, include_done=include_done, limit=limit
            )
        matches = list(dict.fromkeys(e.match_id for e in rows))
        await self._log_read(access, Operation.EXCHANGE_LIST, matches)
        return rows

    async def fetch(
        self, access: AccessContext, *, organisation_id: str, exchange_id: str
    ) -> Exchange:
        """One exchange's ciphertext for its recipient (marks it delivered); logged."""
        async with self._database.transaction() as session:
            exchange = await self._consent.fetch(
                session,
                exchange_id=exchange_id,
                organisation_id=organisation_id,
                now=self._clock.now(),
            )
            await self._log_write(
                session, access, Operation.EXCHANGE_READ, exchange.match_id, exchange.id
            )
        return exchange

    async def acknowledge(
        self, access: AccessContext, *, organisation_id: str, exchange_id: str
    ) -> Exchange:
        """Acknowledge receipt (the ciphertext is deleted); logged."""
        async with self._database.transaction() as session:
            exchange = await self._consent.acknowledge(
                session,
                exchange_id=exchange_id,
                organisation_id=organisation_id,
                now=self._clock.now(),
            )
            await self._log_write(
                session, access, Operation.EXCHANGE_ACKNOWLEDGE, exchange.match_id, exchange.id
            )
        return exchange

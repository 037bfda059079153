"""What a registration does, end to end: the one place routes, the sweeper and the command
line call. Each method is a unit of work of its own (it chooses the storage call: a grouped
write, a transaction or a read), so no caller picks among transaction kinds.

The index's own rules (one open match per youth, the lifecycle) are :class:`MatchIndex`'s;
this service adds what surrounds them: rate limits and anomaly flags, the access log, and
the transaction.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

import crypto
from notifier import enqueue_many
from verwijsindex.abuse import AbuseGuard, BulkGrant
from verwijsindex.accesslog import (
    AccessContext,
    AccessLogger,
    Entry,
    Operation,
    Subject,
    record_read,
)
from verwijsindex.blind.service import BlindPath
from verwijsindex.clock import Clock
from verwijsindex.errors import (
    BlindPathClosed,
    NotFound,
    ProfessionalNotInOrganisation,
    RegistrationNotActive,
    VerwijsindexError,
)
from verwijsindex.keys import KeyRing
from verwijsindex.organisations import repository as org_repo
from verwijsindex.registrations import duties
from verwijsindex.registrations import repository as repo
from verwijsindex.registrations.index import (
    Actor,
    MatchIndex,
    ParentTokens,
    RegisterResult,
    RegistrationRequest,
    SweepResult,
)
from verwijsindex.registrations.models import (
    Registration,
    RegistrationInforming,
    RegistrationStatus,
)
from verwijsindex.registrations.repository import RegistrationWithMatch
from verwijsindex.storage import Database
from verwijsindex.storage.base import Staged, insert_rows
from verwijsindex.storage.group_commit import GroupCommitter, GroupedWrite

_SWEEP_BATCH = 500

Outcome = RegisterResult | VerwijsindexError
"""What one registration request came to: the registration (new or the professional's
existing one) or the reason it was refused."""


PurgeHook = Callable[[AsyncSession, datetime], Awaitable[None]]
"""Called in the purge's transaction with its cutoff: registrations that ended and matches
that closed at or before it are deleted next."""


@dataclass(frozen=True, slots=True)
class BatchItem:
    """One item of a batch: the youth (by BSN, or by subject token on the blind path), and
    the professional it is registered for when that is not the caller (``None``: the
    caller)."""

    bsn: str | None
    birth_date: str
    municipality: str | None = None
    professional_id: str | None = None
    parents: tuple[str, ...] = ()
    term: str | None = None
    subject_token: str | None = None
    earlier_subject_tokens: tuple[str, ...] = ()
    parent_tokens: tuple[ParentTokens, ...] = ()


@dataclass(frozen=True, slots=True)
class _Attempt:
    """One registration request on its way into a write group."""

    access: AccessContext
    request: RegistrationRequest
    grant: BulkGrant | None
    """Every registration, single or an item of a batch, counts against the per-minute and
    per-day rate limits, unless the item's organisation holds a bulk-import grant: then it
    counts against the grant."""


class RegistrationService:
    """Register, withdraw and end registrations, each in its own unit of work."""

    def __init__(
        self,
        *,
        index: MatchIndex,
        database: Database,
        writes: GroupCommitter,
        abuse: AbuseGuard,
        access_log: AccessLogger,
        keys: KeyRing,
        clock: Clock,
        blind: BlindPath | None = None,
    ) -> None:
        self.index = index
        self._blind = blind
        self._database = database
        self._writes = writes
        self._abuse = abuse
        self._access_log = access_log
        self._keys = keys
        self._clock = clock
        self._register = GroupedWrite(self._register_group)
        self._purge_hooks: list[PurgeHook] = []

    def add_purge_hook(self, hook: PurgeHook) -> None:
        """Register a call made in the purge's transaction before anything is deleted, with
        the purge's cutoff (the statistics count what is about to go)."""
        self._purge_hooks.append(hook)

    async def register(self, access: AccessContext, request: RegistrationRequest) -> RegisterResult:
        """Register that ``request.actor`` is involved with the youth: the new registration
        (and the match it opened or joined), or the professional's active one for that youth.
        Raises the reason when it is refused (invalid input, a rate limit). Durable when it
        returns; concurrent registrations share one write group (ADR 0005)."""
        (request,) = await self._with_tokens([request])
        outcomes: list[Outcome] = await self._writes.run_batched(
            self._register, [_Attempt(access, request, grant=None)]
        )
        (outcome,) = outcomes
        if isinstance(outcome, VerwijsindexError):
            raise outcome
        return outcome

    async def register_batch(
        self, access: AccessContext, actor: Actor, items: Sequence[BatchItem]
    ) -> list[Outcome]:
        """Each item exactly as :meth:`register` would handle it, in order, in one write: the
        same validation, idempotency, match rules and rate limits (or the organisation's
        bulk-import grant). An item naming a professional who is not an active professional
        of the actor's organisation is refused alone."""
        organisation = actor.organisation_id
        named = {i.professional_id for i in items if i.professional_id is not None}
        async with self._database.read() as session:
            allowed = await org_repo.active_professionals_of_organisation(
                session, organisation_id=organisation, professional_ids=named
            )
            grant = await self._abuse.active_bulk_grant(session, organisation_id=organisation)
        outcomes: list[Outcome | None] = [None] * len(items)
        attempts: list[_Attempt] = []
        positions: list[int] = []
        actors = {actor.professional_id: actor}  # one Actor per professional
        for index, item in enumerate(items):
            professional = item.professional_id or actor.professional_id
            if item.professional_id is not None and item.professional_id not in allowed:
                outcomes[index] = ProfessionalNotInOrganisation(
                    "the professional is unknown, inactive or of another organisation"
                )
                continue
            acting = actors.get(professional)
            if acting is None:
                acting = actors[professional] = Actor(
                    organisation_id=organisation, professional_id=professional
                )
            positions.append(index)
            request = RegistrationRequest(
                actor=acting,
                bsn=item.bsn,
                birth_date=item.birth_date,
                municipality=item.municipality,
                parents=item.parents,
                term=item.term,
                subject_token=item.subject_token,
                earlier_subject_tokens=item.earlier_subject_tokens,
                parent_tokens=item.parent_tokens,
            )
            attempts.append(_Attempt(access, request, grant))
        requests = await self._with_tokens([a.request for a in attempts])
        attempts = [
            dataclasses.replace(a, request=r) for a, r in zip(attempts, requests, strict=True)
        ]
        if attempts:
            results = await self._writes.run_batched(self._register, attempts)
            for index, outcome in zip(positions, results, strict=True):
                outcomes[index] = outcome
        return [o for o in outcomes if o is not None]

    async def _with_tokens(
        self, requests: Sequence[RegistrationRequest]
    ) -> list[RegistrationRequest]:
        """Before the write: admit the blind path's requests (raises when it is closed or a
        client's key list is outdated; parents' tokens count as the youth's do), and on the
        direct path with a key service add the subject tokens of each valid youth's BSN and
        its parents' BSNs, obtained in one round trip, so that both paths store the same
        pseudonyms of youths and parents. A request with an invalid BSN, or naming parents by
        token beside a youth's BSN, is left for the index to refuse (nothing is sent)."""
        blind = [r for r in requests if r.subject_token is not None]
        if blind:
            if self._blind is None:
                raise BlindPathClosed("this index does not accept subject tokens")
            versions = []
            for r in blind:
                named = [(r.subject_token or "", r.earlier_subject_tokens)]
                named += [(p.subject_token, p.earlier_subject_tokens) for p in r.parent_tokens]
                for current, earlier in named:
                    try:
                        versions.append(
                            [crypto.parse_subject_token(t)[0] for t in (current, *earlier)]
                        )
                    except crypto.InvalidSubjectToken:
                        continue  # refused as invalid input by the index, item by item
            await self._blind.admit(versions)
        if self._blind is None or not self._blind.configured:
            return list(requests)
        direct: dict[int, list[crypto.BSN]] = {}
        for position, r in enumerate(requests):
            if r.subject_token is None and r.bsn is not None and not r.parent_tokens:
                try:
                    direct[position] = [crypto.parse_bsn(b) for b in (r.bsn, *r.parents)]
                except crypto.InvalidBSN:
                    continue
        if not direct:
            return list(requests)
        tokens = await self._blind.tokens_for([b for bsns in direct.values() for b in bsns])
        result = list(requests)
        offset = 0
        for position, bsns in direct.items():
            youth, *parents = tokens[offset : offset + len(bsns)]
            offset += len(bsns)
            result[position] = dataclasses.replace(
                requests[position],
                subject_token=youth.current,
                earlier_subject_tokens=youth.earlier,
                parent_tokens=tuple(ParentTokens(p.current, p.earlier) for p in parents),
            )
        return result

    async def _register_group(
        self, session: AsyncSession, payloads: list[list[_Attempt]]
    ) -> list[list[Outcome]]:
        """The write of every registration request in a group, set-based: one rate-limit
        statement, one :meth:`MatchIndex.register_many`, one anomaly-counter statement and one
        access-log append for all of them. Each request gets exactly the outcome it would get
        alone in the same order (an attempt refused by a rate limit or failing validation is
        not counted and changes nothing)."""
        attempts = [attempt for payload in payloads for attempt in payload]
        admissions = await self._abuse.admit_registrations(
            session,
            [(a.request.actor.organisation_id, a.request.actor.professional_id) for a in attempts],
            grants=[a.grant for a in attempts],
        )
        outcomes: list[Outcome | None] = [admission.refused for admission in admissions]
        todo = [i for i, outcome in enumerate(outcomes) if outcome is None]
        # The new rows of the group (registrations, parents' links, matches, coordinations,
        # access-log records) are written together at its end: on PostgreSQL one statement.
        staged: Staged = []
        registered = await self.index.register_many(
            session, [attempts[i].request for i in todo], staged
        )
        for i, result in zip(todo, registered, strict=True):
            outcomes[i] = result
        for i, admission in enumerate(admissions):
            if admission.refused is None and isinstance(outcomes[i], VerwijsindexError):
                admission.release()
        await self._abuse.settle(session, admissions)

        created: dict[tuple[str, str], int] = {}
        entries: list[Entry] = []
        for attempt, outcome in zip(attempts, outcomes, strict=True):
            if not isinstance(outcome, RegisterResult):
                continue
            if outcome.created:
                key = (outcome.registration.organisation_id, outcome.registration.professional_id)
                created[key] = created.get(key, 0) + 1
            subject = self._keys.access_log_subject_of(
                outcome.bsn, outcome.subject_token, attempt.access.organisation_id
            )
            entries.append(
                Entry(attempt.access, Operation.REGISTRATION_CREATE, Subject.person(subject))
            )
        await self._abuse.after_registrations(session, created)
        await self._access_log.record_entries(session, entries, staged)
        await insert_rows(session, *staged)

        results: list[list[Outcome]] = []
        position = 0
        for payload in payloads:
            part = outcomes[position : position + len(payload)]
            position += len(payload)
            results.append([o for o in part if o is not None])
        return results

    async def get(
        self, access: AccessContext, *, organisation_id: str, registration_id: str
    ) -> RegistrationWithMatch:
        """One registration of the organisation with its open match's id; NotFound for
        another organisation's. Logged before it is returned."""
        async with self._database.read() as session:
            found = await repo.registration_of_organisation(
                session, registration_id=registration_id, organisation_id=organisation_id
            )
        if found is None:
            raise NotFound("registration not found")
        subjects = [Subject.registration(found[0].id)]
        await record_read(
            self._writes, self._access_log, access, Operation.REGISTRATION_READ, subjects
        )
        return found

    async def page(
        self,
        access: AccessContext,
        *,
        organisation_id: str,
        status: str | None,
        professional_id: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> tuple[list[RegistrationWithMatch], bool]:
        """Up to ``limit`` of the organisation's registrations after the cursor, oldest first,
        and whether more follow. Logged: each registration listed."""
        async with self._database.read() as session:
            rows = await repo.list_registrations(
                session,
                organisation_id=organisation_id,
                status=status,
                professional_id=professional_id,
                after=after,
                limit=limit + 1,
            )
        page = rows[:limit]
        subjects = [Subject.registration(registration.id) for registration, _, _ in page]
        await record_read(
            self._writes, self._access_log, access, Operation.REGISTRATION_LIST, subjects
        )
        return page, len(rows) > limit

    async def withdraw(
        self, access: AccessContext, *, actor: Actor, registration_id: str, reason: str
    ) -> Registration:
        """End the registration now (``withdrawn``): the match it took part in loses it (and
        closes below two participants), the withdrawal is checked for fishing, and logged."""
        async with self._database.transaction() as session:
            registration = await self.index.withdraw(
                session, actor=actor, registration_id=registration_id, reason=reason
            )
            await self._abuse.after_withdrawal(session, registration=registration)
            await self._access_log.record(
                session,
                access,
                operation=Operation.REGISTRATION_WITHDRAW,
                subject=Subject.registration(registration.id),
                reason=reason,
            )
        return registration

    async def end_due(self) -> int:
        """End every registration whose end date has passed (expiry, the 23rd birthday), in
        batches of one transaction each; each ending is in the access log as the system's."""
        ended = 0
        while True:
            async with self._database.transaction() as session:
                due = await self.index.end_due_registrations(session, limit=_SWEEP_BATCH)
                if due:
                    await self._access_log.record_many(
                        session,
                        AccessContext.system(role="system", started_at=self._clock.now()),
                        operation=Operation.REGISTRATION_EXPIRE,
                        subjects=[Subject.registration(r.id) for r in due],
                    )
            ended += len(due)
            if len(due) < _SWEEP_BATCH:
                return ended

    async def purge(self, *, retention: timedelta) -> SweepResult:
        """Delete what ended longer than ``retention`` ago (registrations, closed matches and
        family matches) and earlier involvement past its covenant's retention."""
        async with self._database.transaction() as session:
            now = self._clock.now()
            for hook in self._purge_hooks:
                await hook(session, now - retention)
            registrations, matches = await self.index.purge(session, retention=retention, at=now)
            await duties.purge_earlier_involvement(session, now=now)
        return SweepResult(ended=0, purged_registrations=registrations, purged_matches=matches)

    async def send_reminders(self) -> tuple[int, int]:
        """The sweeper's reminders: ``registration.inform_due`` (nothing recorded within the
        covenant's ``inform_within``, or a postponement's day to look again has come) and
        ``registration.expiring`` (30 days before the end), in batches of one transaction
        each. Each is sent once, whatever the number of sweepers and wherever one stops: its
        reminder row and its outbox event commit together. Returns how many of each."""
        sent = [0, 0]
        for position, find in enumerate((duties.inform_due, duties.expiring)):
            while True:
                async with self._database.transaction() as session:
                    events = await find(session, now=self._clock.now(), limit=_SWEEP_BATCH)
                    await enqueue_many(session, events)
                sent[position] += len(events)
                if len(events) < _SWEEP_BATCH:
                    break
        return sent[0], sent[1]

    async def record_informing(
        self,
        access: AccessContext,
        *,
        actor: Actor,
        registration_id: str,
        given: duties.InformingInput,
    ) -> RegistrationInforming:
        """Record that the youth and/or parents were informed, or why informing is postponed
        and until when, for an active registration of the actor's organisation. Logged."""
        async with self._database.transaction() as session:
            registration = await duties.registration_of(
                session, registration_id, actor.organisation_id, active=True
            )
            record = duties.informing_record(
                given, registration=registration, actor=actor, now=self._clock.now()
            )
            session.add(record)
            await session.flush()
            await self._access_log.record(
                session,
                access,
                operation=Operation.INFORMING_RECORD,
                subject=Subject.registration(registration.id),
                reason=str(record.status),
            )
        return record

    async def informing(
        self, access: AccessContext, *, organisation_id: str, registration_id: str
    ) -> list[RegistrationInforming]:
        """The registration's informing records, oldest first (the last is its state); only
        for the registering organisation. Logged."""
        async with self._database.read() as session:
            registration = await duties.registration_of(
                session, registration_id, organisation_id, active=False
            )
            records = await duties.informing_records(session, registration.id)
        await record_read(
            self._writes,
            self._access_log,
            access,
            Operation.INFORMING_READ,
            [Subject.registration(registration_id)],
        )
        return records

    async def renew(
        self,
        access: AccessContext,
        *,
        actor: Actor,
        registration_id: str,
        bsn: str,
        birth_date: str,
        term: str | None,
    ) -> RegistrationWithMatch:
        """A new term from now for an active registration of the actor's organisation, with
        the limits of a new registration (two years, the 23rd birthday from the birth date
        presented again). The BSN must be the registration's youth's. Logged."""
        async with self._database.transaction() as session:
            registration = await duties.registration_of(
                session, registration_id, actor.organisation_id, active=True
            )
            await repo.lock_subject(session, registration.pseudonym)
            await session.refresh(registration)
            now = self._clock.now()
            if registration.status != RegistrationStatus.ACTIVE or registration.ends_at <= now:
                raise RegistrationNotActive("the registration has ended")
            registration.ends_at = duties.renewed_end(
                registration, keys=self._keys, bsn=bsn, birth_date=birth_date, term=term, now=now
            )
            await session.flush()
            subject = self._keys.access_log_subject(crypto.parse_bsn(bsn), access.organisation_id)
            await self._access_log.record(
                session,
                access,
                operation=Operation.REGISTRATION_RENEW,
                subject=Subject.person(subject),
                reference=f"registration:{registration.id}",
            )
            found = await repo.registration_of_organisation(
                session, registration_id=registration.id, organisation_id=actor.organisation_id
            )
        assert found is not None
        return found

    async def earlier_involvement(
        self, access: AccessContext, *, organisation_id: str, registration_id: str
    ) -> list[duties.EarlierView]:
        """Other organisations' earlier involvement with the registration's youth, where the
        municipalities' covenants switched it on. Logged: the registration and every
        professional whose contact details are shown."""
        async with self._database.read() as session:
            registration = await duties.registration_of(
                session, registration_id, organisation_id, active=False
            )
            found = await duties.earlier_involvement(session, registration, now=self._clock.now())
        subjects = [Subject.registration(registration_id)]
        subjects += [
            Subject.professional(p) for p in dict.fromkeys(e.professional_id for e in found)
        ]
        await record_read(
            self._writes, self._access_log, access, Operation.EARLIER_INVOLVEMENT_READ, subjects
        )
        return found

"""Data subjects' rights (AVG art. 15 access, art. 17 erasure), exercised by the
municipality's privacy officer for a verified request carrying the youth's BSN.

Erasure ends every active registration of the youth (end reason ``erasure``, with the usual
outbox events), then deletes the youth's registrations, match participations and matches
at once. Records kept elsewhere are handed to the registered :data:`ErasureHook` callables in
the same transaction; the consent ledger's erase-personal-parts function is meant to be
registered there with :meth:`SubjectRightsService.add_erasure_hook`. No hook is registered by
default, so nothing outside the index's own tables is erased until one is.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import date, datetime

from sqlalchemy import delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

import crypto
from crypto import Pseudonym
from verwijsindex.accesslog import (
    AccessContext,
    AccessLogger,
    AccessLogRecord,
    Operation,
    Subject,
    records_about,
)
from verwijsindex.blind.service import BlindPath
from verwijsindex.clock import Clock
from verwijsindex.errors import InvalidBSN
from verwijsindex.federation import repository as federation_repo
from verwijsindex.federation.models import FederatedMatch, FederatedParticipant
from verwijsindex.keys import KeyRing
from verwijsindex.keyservice.client import YouthTokens
from verwijsindex.matches.models import Match, MatchParticipant, MatchStatus
from verwijsindex.organisations import repository as org_repo
from verwijsindex.organisations.models import Organisation
from verwijsindex.registrations import repository as repo
from verwijsindex.registrations.index import MatchIndex
from verwijsindex.registrations.lifecycle import parse_birth_date
from verwijsindex.registrations.models import (
    EarlierInvolvement,
    EndReason,
    Registration,
    RegistrationStatus,
)
from verwijsindex.storage import Database, queries
from verwijsindex.storage.checkpoint import truncate_log

ACCESS_LOG_LIMIT = 10_000


@dataclass(frozen=True)
class ErasureScope:
    """What an erasure hook is told: the youth's index rows being erased (no BSN)."""

    registration_ids: list[str]
    match_ids: list[str]
    access_log_pseudonyms: list[str]
    request_reference: str


@dataclass(frozen=True)
class ErasureHookResult:
    name: str
    erased: int


ErasureHook = Callable[[AsyncSession, ErasureScope], Awaitable[ErasureHookResult]]
"""Erase the personal parts of records kept outside the index's tables, in the same
transaction, and say how many records were touched."""


@dataclass(frozen=True)
class SubjectRegistration:
    registration: Registration
    organisation: Organisation


@dataclass(frozen=True)
class SubjectMatch:
    match: Match
    participants: list[tuple[MatchParticipant, Organisation]]


@dataclass(frozen=True)
class CrossRegionParticipant:
    """A participant of a cross-region match: of this region (``region`` None, with its
    registration and organisation) or of another (its region and the organisation its card
    shows, when that region shares it)."""

    region: str | None
    registration_id: str | None
    organisation: tuple[str, str, str] | None
    """(id, name, sector)"""
    joined_at: datetime
    left_at: datetime | None


@dataclass(frozen=True)
class SubjectCrossRegionMatch:
    match: FederatedMatch
    participants: list[CrossRegionParticipant]


@dataclass(frozen=True)
class SubjectAccessReport:
    registrations: list[SubjectRegistration]
    matches: list[SubjectMatch]
    access_log: list[AccessLogRecord]
    access_log_pseudonym: str
    cross_region_matches: list[SubjectCrossRegionMatch] = field(default_factory=list)


@dataclass(frozen=True)
class ErasureReport:
    ended_registrations: int
    erased_registrations: int
    erased_matches: int
    erased_participations: int
    access_log_pseudonym: str
    extensions: list[ErasureHookResult] = field(default_factory=list)
    completed_at: datetime | None = None


class SubjectRightsService:
    def __init__(
        self,
        *,
        keys: KeyRing,
        clock: Clock,
        index: MatchIndex,
        database: Database,
        access_log: AccessLogger,
        blind: BlindPath | None = None,
    ) -> None:
        self._blind = blind
        self._keys = keys
        self._clock = clock
        self._index = index
        self._database = database
        self._access_log = access_log
        self._hooks: list[ErasureHook] = []

    async def request_access(
        self, access: AccessContext, *, bsn: crypto.BSN, actor_organisation_id: str | None
    ) -> SubjectAccessReport:
        """A subject-access request, as one unit of work, recorded in the access log."""
        tokens = await self._tokens(bsn)
        async with self._database.transaction() as session:
            report = await self.access(
                session, bsn=bsn, actor_organisation_id=actor_organisation_id, tokens=tokens
            )
            await self._access_log.record(
                session,
                access,
                operation=Operation.SUBJECT_ACCESS,
                subject=Subject.person(report.access_log_pseudonym),
            )
        return report

    async def request_erasure(
        self,
        access: AccessContext,
        *,
        bsn: crypto.BSN,
        reason: str,
        request_reference: str,
        actor_organisation_id: str | None,
    ) -> ErasureReport:
        """An erasure, as one unit of work recorded in the access log; then the SQLite
        write-ahead log is truncated so that no page image of the erased rows stays on disk
        (:func:`verwijsindex.storage.checkpoint.truncate_log`)."""
        tokens = await self._tokens(bsn)
        async with self._database.transaction() as session:
            report = await self.erase(
                session,
                bsn=bsn,
                tokens=tokens,
                request_reference=request_reference,
                actor_organisation_id=actor_organisation_id,
            )
            await self._access_log.record(
                session,
                access,
                operation=Operation.SUBJECT_ERASURE,
                subject=Subject.person(report.access_log_pseudonym),
                reason=reason,
                reference=request_reference,
            )
        await truncate_log(self._database)
        return report

    def add_erasure_hook(self, hook: ErasureHook) -> None:
        """Register an extension point called on every erasure (e.g. the consent ledger)."""
        self._hooks.append(hook)

    @staticmethod
    def parse(bsn: str, birth_date: str | date | None = None) -> crypto.BSN:
        try:
            valid = crypto.parse_bsn(bsn)
        except crypto.InvalidBSN as exc:
            raise InvalidBSN(str(exc)) from None
        if birth_date is not None:
            parse_birth_date(birth_date)
        return valid

    async def _tokens(self, bsn: crypto.BSN) -> YouthTokens | None:
        """With a key service: the youth's subject tokens, to find what the blind path (and
        the direct path with a key service) stored. Obtained before the transaction."""
        if self._blind is None or not self._blind.configured:
            return None
        (tokens,) = await self._blind.tokens_for([bsn])
        return tokens

    def _pseudonyms(self, bsn: crypto.BSN, tokens: YouthTokens | None) -> list[Pseudonym]:
        """Every pseudonym the youth can be stored under: of the BSN, and of its subject
        tokens under every key version."""
        pseudonyms: list[Pseudonym] = []
        for token in () if tokens is None else (tokens.current, *tokens.earlier):
            pseudonyms.extend(self._keys.blind_pseudonyms(token))
        return pseudonyms + self._keys.all_pseudonyms(bsn)

    async def _rows_of(
        self, session: AsyncSession, bsn: crypto.BSN, tokens: YouthTokens | None = None
    ) -> tuple[list[Registration], list[Match]]:
        pseudonyms = self._pseudonyms(bsn, tokens)
        of_youth = Registration.pseudonym.in_(pseudonyms)
        registrations = list(
            (
                await session.execute(
                    select(Registration)
                    .where(
                        queries.of_subject_any_status(
                            of_youth, Registration.status, RegistrationStatus.ACTIVE
                        )
                    )
                    .order_by(Registration.created_at, Registration.id)
                )
            ).scalars()
        )
        reg_ids = [r.id for r in registrations]
        opened_by_youth = Match.subject_pseudonym.in_(pseudonyms)
        conditions = [
            queries.of_subject_any_status(opened_by_youth, Match.status, MatchStatus.OPEN)
        ]
        if reg_ids:
            conditions.append(
                Match.id.in_(
                    select(MatchParticipant.match_id).where(
                        MatchParticipant.registration_id.in_(reg_ids)
                    )
                )
            )
        matches = list(
            (
                await session.execute(
                    select(Match).where(or_(*conditions)).order_by(Match.created_at, Match.id)
                )
            ).scalars()
        )
        return registrations, matches

    async def _access_log_subjects(
        self,
        session: AsyncSession,
        bsn: crypto.BSN,
        actor_organisation_id: str | None,
        tokens: YouthTokens | None = None,
    ) -> list[str]:
        """Every access-log pseudonym the youth's records can carry (one per organisation,
        each under every key version, and the shared values of older records), the acting
        organisation's current one first."""
        organisation_ids = (await session.execute(select(Organisation.id))).scalars()
        scopes: list[str | None] = [actor_organisation_id, None]
        scopes += [o for o in organisation_ids if o != actor_organisation_id]
        subjects = self._keys.all_access_log_subjects(bsn, scopes)
        for token in () if tokens is None else (tokens.current, *tokens.earlier):
            subjects += self._keys.all_access_log_token_subjects(token, scopes)
        return [str(p) for p in subjects]

    async def access(
        self,
        session: AsyncSession,
        *,
        bsn: crypto.BSN,
        actor_organisation_id: str | None,
        tokens: YouthTokens | None = None,
    ) -> SubjectAccessReport:
        """Everything the index holds about the youth, under every key version.
        ``actor_organisation_id`` is the organisation of whoever asks (its pseudonym of the
        youth is the report's ``access_log_pseudonym``, for the request's own record)."""
        registrations, matches = await self._rows_of(session, bsn, tokens)
        organisations: dict[str, Organisation] = {}

        async def org(organisation_id: str) -> Organisation:
            if organisation_id not in organisations:
                found = await org_repo.get_organisation(session, organisation_id)
                assert found is not None
                organisations[organisation_id] = found
            return organisations[organisation_id]

        subject_registrations = [
            SubjectRegistration(r, await org(r.organisation_id)) for r in registrations
        ]
        subject_matches = []
        for match in matches:
            parts = list(
                (
                    await session.execute(
                        select(MatchParticipant)
                        .where(MatchParticipant.match_id == match.id)
                        .order_by(MatchParticipant.joined_at, MatchParticipant.id)
                    )
                ).scalars()
            )
            subject_matches.append(
                SubjectMatch(match, [(p, await org(p.organisation_id)) for p in parts])
            )
        log_pseudonyms = await self._access_log_subjects(
            session, bsn, actor_organisation_id, tokens
        )
        refs = [("registration", r.id) for r in registrations] + [("match", m.id) for m in matches]
        records = await records_about(
            session, pseudonyms=log_pseudonyms, refs=refs, limit=ACCESS_LOG_LIMIT
        )
        cross_region = [
            SubjectCrossRegionMatch(match, [await self._cross(p, org) for p in participants])
            for match, participants in await federation_repo.federated_matches_of_registrations(
                session, [r.id for r in registrations]
            )
        ]
        return SubjectAccessReport(
            registrations=subject_registrations,
            matches=subject_matches,
            access_log=records,
            access_log_pseudonym=log_pseudonyms[0],
            cross_region_matches=cross_region,
        )

    @staticmethod
    async def _cross(
        participant: FederatedParticipant, org: Callable[[str], Awaitable[Organisation]]
    ) -> CrossRegionParticipant:
        organisation: tuple[str, str, str] | None = None
        if participant.registration_id is not None and participant.organisation_id is not None:
            own = await org(participant.organisation_id)
            organisation = (own.id, own.name, own.sector)
        elif participant.card:
            shown = json.loads(participant.card).get("organisation") or {}
            if shown.get("name"):
                organisation = (
                    str(shown.get("id", "")),
                    str(shown["name"]),
                    str(shown.get("sector", "")),
                )
        return CrossRegionParticipant(
            region=None if participant.registration_id is not None else participant.region,
            registration_id=participant.registration_id,
            organisation=organisation,
            joined_at=participant.joined_at,
            left_at=participant.left_at,
        )

    async def erase(
        self,
        session: AsyncSession,
        *,
        bsn: crypto.BSN,
        request_reference: str,
        actor_organisation_id: str | None,
        tokens: YouthTokens | None = None,
    ) -> ErasureReport:
        """End, then delete the youth's registrations, participations and matches."""
        for pseudonym in sorted(set(self._pseudonyms(bsn, tokens))):
            await repo.lock_subject(session, pseudonym)
        registrations, matches = await self._rows_of(session, bsn, tokens)
        await self._index.lock_for_end(
            session, [r for r in registrations if r.status == RegistrationStatus.ACTIVE]
        )
        ended = 0
        for registration in registrations:
            if registration.status == RegistrationStatus.ACTIVE:
                await self._index.end_registration(session, registration, reason=EndReason.ERASURE)
                ended += 1
        now = self._clock.now()
        for match in matches:
            if match.status == MatchStatus.OPEN:
                match.status = MatchStatus.CLOSED
                match.closed_at = now
        await session.flush()

        reg_ids = [r.id for r in registrations]
        match_ids = [m.id for m in matches]
        scope = ErasureScope(
            registration_ids=reg_ids,
            match_ids=match_ids,
            access_log_pseudonyms=await self._access_log_subjects(
                session, bsn, actor_organisation_id, tokens
            ),
            request_reference=request_reference,
        )
        extensions = [await hook(session, scope) for hook in self._hooks]

        participations = 0
        if reg_ids or match_ids:
            result = await session.execute(
                delete(MatchParticipant).where(
                    or_(
                        MatchParticipant.registration_id.in_(reg_ids),
                        MatchParticipant.match_id.in_(match_ids),
                    )
                )
            )
            participations = int(result.rowcount)  # type: ignore[attr-defined]
        if match_ids:
            await session.execute(delete(Match).where(Match.id.in_(match_ids)))
        if reg_ids:
            await session.execute(delete(Registration).where(Registration.id.in_(reg_ids)))
        # Earlier involvement kept under the youth's pseudonym (ADR 0016) goes too.
        await session.execute(
            delete(EarlierInvolvement).where(
                EarlierInvolvement.pseudonym.in_(self._keys.all_pseudonyms(bsn))
            )
        )
        return ErasureReport(
            ended_registrations=ended,
            erased_registrations=len(reg_ids),
            erased_matches=len(match_ids),
            erased_participations=participations,
            access_log_pseudonym=scope.access_log_pseudonyms[0],
            extensions=extensions,
            completed_at=now,
        )

"""Registrations, matches and their lifecycle. Services never commit: the caller's
unit of work (one transaction per request or task) does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession

import crypto
from crypto import Pseudonym
from notifier import Event, EventType, enqueue, enqueue_many
from verwijsindex.clock import Clock
from verwijsindex.covenants.service import CurrentCovenants
from verwijsindex.errors import (
    InvalidBSN,
    InvalidInput,
    NotFound,
    RegistrationNotActive,
    VerwijsindexError,
)
from verwijsindex.families import repository as family_repo
from verwijsindex.families.index import FamilyBatch, FamilyIndex, Node
from verwijsindex.federation.staging import FederationStaging, StagedHandoffs
from verwijsindex.keys import KeyRing
from verwijsindex.matches import repository as match_repo
from verwijsindex.matches.models import Match, MatchParticipant, MatchStatus
from verwijsindex.organisations import repository as org_repo
from verwijsindex.registrations import duties
from verwijsindex.registrations import repository as repo
from verwijsindex.registrations.lifecycle import parse_birth_date, parse_term, registration_end
from verwijsindex.registrations.models import (
    WITHDRAW_REASONS,
    EndReason,
    Registration,
    RegistrationRow,
    RegistrationStatus,
)
from verwijsindex.storage.base import Staged, insert_rows, new_id


@dataclass(frozen=True)
class Actor:
    """Who acts: a professional of an organisation (through that organisation's system)."""

    organisation_id: str
    professional_id: str


@dataclass(frozen=True)
class RegisterResult:
    registration: RegistrationRow
    created: bool
    match_id: str | None
    bsn: crypto.BSN | None = field(repr=False)
    """The youth's BSN as parsed and checked once (for the caller's access-log subject) on the
    direct path, ``None`` on the blind path; held in memory only, never stored, and left out of
    ``repr``."""
    subject_token: crypto.SubjectToken | None = field(default=None, repr=False)
    """The youth's OPRF output under the key service's current key (the blind path's token, or
    on the direct path the one the index obtained from the key service); ``None`` on the direct
    path without a key service. In memory only; read it through
    :func:`verwijsindex.blind.federation_input`."""
    family_match_id: str | None = None


@dataclass(frozen=True)
class RegistrationRequest:
    """One registration as asked: who registers which youth (BSN or subject token and the
    birth date are used to compute the pseudonym and end date, then dropped).

    The direct path gives ``bsn``; the blind path gives ``subject_token`` (and the tokens
    under the key service's earlier key versions, to move the youth's older pseudonyms over).
    On the direct path with a key service the registration service adds the token it obtained
    for the BSN, so both paths store the same pseudonym (docs/blind-pseudonyms.md)."""

    actor: Actor
    bsn: str | None
    birth_date: str | date
    municipality: str | None = None
    subject_token: str | None = None
    earlier_subject_tokens: tuple[str, ...] = ()
    parents: tuple[str, ...] = ()
    """The BSNs of the youth's parents or guardians (at most :data:`MAX_PARENTS`), used for
    their pseudonyms and dropped. Only beside a youth named by BSN."""
    term: str | None = None
    """The registration's term as an ISO 8601 duration (None: the longest allowed)."""
    parent_tokens: tuple[ParentTokens, ...] = ()
    """The parents by subject token: on the blind path (beside a youth named by
    ``subject_token``, never beside ``parents``), and on the direct path with a key service,
    where the registration service adds the tokens it obtained for ``parents``, one for each
    and in their order (so both paths store the same parent pseudonyms)."""


@dataclass(frozen=True)
class ParentTokens:
    """A parent named by subject token: under the key service's newest key version, and
    under each earlier one it offers (the parent's older pseudonyms move over)."""

    subject_token: str = field(repr=False)
    earlier_subject_tokens: tuple[str, ...] = field(default=(), repr=False)


MAX_PARENTS = 4


@dataclass(frozen=True)
class _Prepared:
    actor: Actor
    bsn: crypto.BSN | None = field(repr=False)
    token: crypto.SubjectToken | None = field(repr=False)
    pseudonym: Pseudonym
    older: tuple[str, ...]
    ends_at: datetime
    municipality: str | None
    parents: tuple[tuple[Pseudonym, tuple[Pseudonym, ...]], ...] = ()
    """Each parent's current pseudonym and its pseudonyms under older key versions."""


@dataclass
class _Youth:
    """What one batch knows about one youth: active registrations and the open match."""

    active: list[RegistrationRow] = field(default_factory=list)
    match_id: str | None = None
    participants: list[MatchParticipant] = field(default_factory=list)

    def active_of(self, professional_id: str) -> RegistrationRow | None:
        for registration in self.active:
            if registration.professional_id == professional_id:
                return registration
        return None

    def match_of(self, registration_id: str) -> str | None:
        if self.match_id is None:
            return None
        if any(p.registration_id == registration_id for p in self.participants):
            return self.match_id
        return None


@dataclass(frozen=True, slots=True)
class OpenedMatch:
    """A match a registration opened: its open registrations, oldest first."""

    match_id: str
    created_at: datetime
    registrations: tuple[RegistrationRow, ...]


@dataclass(frozen=True, slots=True)
class JoinedMatch:
    """A registration joined a match that was already open before this write."""

    match_id: str
    organisation_id: str
    registration_id: str
    joined_at: datetime
    organisation_took_part: bool
    """The organisation already had an open registration in the match."""


@dataclass(frozen=True, slots=True)
class LeftMatch:
    """A registration left a match (and the match closed, when fewer than two remained)."""

    match_id: str
    registration_id: str
    closed: bool
    remaining: tuple[tuple[str, str], ...]
    """(organisation id, registration id) of the registrations that remained (and, when the
    match closed, left with it)."""


class MatchHooks(Protocol):
    """What else happens, in the same transaction, when matches open or lose a participant
    (the coordination of ``verwijsindex.coordination``)."""

    async def matches_opened(
        self, session: AsyncSession, opened: Sequence[OpenedMatch], staged: Staged
    ) -> list[Event]:
        """New matches (called once per write, with every match it opened): the events to
        put in the outbox with the write's own. The matches' rows are in ``staged``, not yet
        written; rows of tables that refer to them are added to it."""

    async def matches_joined(
        self, session: AsyncSession, joined: Sequence[JoinedMatch]
    ) -> list[Event]:
        """Registrations that joined matches open before the write (called once per write
        that joined any, never for one that joined none, after their rows are written): the
        events to put in the outbox with the write's own."""

    async def participant_left(self, session: AsyncSession, left: LeftMatch) -> None:
        """A registration left its match."""


@dataclass
class _Pending:
    """New rows of one batch, flushed parent tables first (no ORM relationships order them)."""

    registrations: list[RegistrationRow] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)
    participants: list[MatchParticipant] = field(default_factory=list)
    joined: list[JoinedMatch] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    rows: dict[str, RegistrationRow] = field(default_factory=dict)
    """The registrations taking part in the matches this batch opens or joins, by id."""
    handoffs: StagedHandoffs = field(default_factory=StagedHandoffs)

    def opened(self) -> list[OpenedMatch]:
        taking_part: dict[str, list[RegistrationRow]] = {m.id: [] for m in self.matches}
        for participant in self.participants:
            found = taking_part.get(participant.match_id)
            if found is not None:
                found.append(self.rows[participant.registration_id])
        return [
            OpenedMatch(
                match_id=m.id,
                created_at=m.created_at,
                registrations=tuple(sorted(taking_part[m.id], key=lambda r: (r.created_at, r.id))),
            )
            for m in self.matches
        ]

    async def flush(
        self,
        session: AsyncSession,
        hooks: MatchHooks | None,
        parent_links: Sequence[tuple[str, str, int]],
        staged: Staged,
    ) -> None:
        """Stage the new rows in ``staged`` (written by the caller, after everything this
        write reads) and put the events in the outbox."""
        staged += repo.staged_registrations(self.registrations, parent_links)
        staged += match_repo.staged_matches(self.matches, self.participants)
        if hooks is not None:
            if self.matches:
                self.events += await hooks.matches_opened(session, self.opened(), staged)
            if self.joined:
                # A match this batch opened is told in full by matches_opened, its later
                # joiners in this batch included.
                new = {m.id for m in self.matches}
                joined = [j for j in self.joined if j.match_id not in new]
                if joined:
                    self.events += await hooks.matches_joined(session, joined)
        await enqueue_many(session, self.events)
        await self.handoffs.flush(session)


@dataclass(frozen=True)
class SweepResult:
    ended: int
    purged_registrations: int
    purged_matches: int


def _tokens(
    request: RegistrationRequest,
) -> tuple[crypto.SubjectToken | None, tuple[crypto.SubjectToken, ...]]:
    """The request's subject token and its earlier-version tokens, checked for form only (an
    OPRF output cannot be checked further; the client checked the BSN's 11-test)."""
    if request.subject_token is None:
        if request.earlier_subject_tokens:
            raise InvalidInput("earlier_subject_tokens need a subject_token")
        return None, ()
    return _checked_tokens(request.subject_token, request.earlier_subject_tokens, "")


def _checked_tokens(
    current: str, earlier: Sequence[str], where: str
) -> tuple[crypto.SubjectToken, tuple[crypto.SubjectToken, ...]]:
    """A subject token and its earlier-version tokens, checked for form (``where`` names
    the field's place in an error, e.g. ``parents[0].``)."""
    try:
        versions = [crypto.parse_subject_token(current)[0]]
        versions += [crypto.parse_subject_token(t)[0] for t in earlier]
    except crypto.InvalidSubjectToken as exc:
        raise InvalidInput(f"{where}{exc}" if where else str(exc)) from None
    if len(set(versions)) != len(versions) or versions[0] != max(versions):
        raise InvalidInput(
            f"{where}subject_token must be under the key service's newest key version and"
            " each earlier token under another, older one"
        )
    return crypto.SubjectToken(current), tuple(crypto.SubjectToken(t) for t in earlier)


def _valid_municipality(code: str) -> bool:
    return len(code) == 4 and code.isascii() and code.isdigit()


class MatchIndex:
    """The match index: register, withdraw, end and purge, with exactly one open match per
    youth. Writers for one youth are serialised by :func:`repo.lock_subject`."""

    def __init__(
        self,
        *,
        keys: KeyRing,
        clock: Clock,
        hooks: MatchHooks | None = None,
        federation: FederationStaging | None = None,
        covenants: CurrentCovenants | None = None,
    ) -> None:
        self._keys = keys
        self._clock = clock
        self._families = FamilyIndex()
        self.hooks = hooks
        self._covenants = covenants
        """The covenants as the write path reads them (cached briefly); with it, earlier
        involvement is looked up only for municipalities that have switched it on."""
        self._federation = federation
        """A federated region's hand-off to the hub (an outbox row per new or ended
        registration, in the same transaction); None when the index is not federated."""
        self._municipalities: dict[str, str] = {}
        """Each organisation's municipality, once read: it is set when the organisation is
        made and never changes (nor is an organisation deleted), so it is never stale."""

    async def register(
        self,
        session: AsyncSession,
        *,
        actor: Actor,
        bsn: str,
        birth_date: str | date,
        municipality: str | None,
    ) -> RegisterResult:
        """Register one youth; raises the item's error. See :meth:`register_many`."""
        request = RegistrationRequest(
            actor=actor, bsn=bsn, birth_date=birth_date, municipality=municipality
        )
        (outcome,) = await self.register_many(session, [request])
        if isinstance(outcome, VerwijsindexError):
            raise outcome
        return outcome

    async def register_many(
        self,
        session: AsyncSession,
        requests: Sequence[RegistrationRequest],
        staged: Staged | None = None,
    ) -> list[RegisterResult | VerwijsindexError]:
        """Register many youths in the caller's transaction, with exactly the outcome of
        registering them one after another in the given order.

        Invalid items yield their error and change nothing; valid items are processed with a
        handful of set-based statements whatever their number: one query for the youths'
        active registrations, their open matches and their parents' links, then one insert of
        all new rows. Writers for the youths concerned are serialised first (advisory locks in
        sorted order on PostgreSQL, so concurrent batches cannot deadlock).

        With ``staged``, the new rows are added to it rather than written, for the caller to
        write with rows of its own (:func:`~verwijsindex.storage.base.insert_rows`, on
        PostgreSQL one statement) before anything reads them; nothing in this method reads
        them. A write that changes family matches writes them at once (the family rows refer
        to the new registrations).
        """
        now = self._clock.now()
        prepared: list[_Prepared | VerwijsindexError] = []
        for request in requests:
            try:
                prepared.append(self._prepare(request, now))
            except VerwijsindexError as exc:
                prepared.append(exc)
        valid = [p for p in prepared if isinstance(p, _Prepared)]
        if not valid:
            return [p for p in prepared if isinstance(p, VerwijsindexError)]

        subjects = sorted({p.pseudonym for p in valid})
        parents = sorted({parent for p in valid for parent, _ in p.parents})
        await repo.lock_subjects(session, sorted({*subjects, *parents}) if parents else subjects)
        await self._move_earlier_pseudonyms(session, valid)
        version = self._keys.current_version
        youths, links = await self._load_youths(session, subjects, parents)
        families = (
            await self._families.load(session, self._named(valid), links, self._known(youths))
            if parents
            else FamilyBatch()
        )
        # The family matches of registrations that a request may return again (200), as
        # they were before this batch: one query, only when there are any.
        repeated = {
            r.id
            for p in valid
            if (r := youths[p.pseudonym].active_of(p.actor.professional_id)) is not None
        }
        earlier_families = await family_repo.open_families_of_registrations(
            session, sorted(repeated)
        )
        municipalities = await self._municipalities_of(
            session, {p.actor.organisation_id for p in valid if p.municipality is None}
        )

        pending = _Pending()
        outcomes: list[RegisterResult | VerwijsindexError] = []
        for item in prepared:
            if isinstance(item, VerwijsindexError):
                outcomes.append(item)
                continue
            youth = youths[item.pseudonym]
            existing = youth.active_of(item.actor.professional_id)
            if existing is not None:
                family_id = families.family_of.get(existing.id) or earlier_families.get(existing.id)
                outcomes.append(
                    RegisterResult(
                        registration=existing,
                        created=False,
                        match_id=youth.match_of(existing.id),
                        bsn=item.bsn,
                        family_match_id=family_id,
                        subject_token=item.token,
                    )
                )
                continue
            municipality = item.municipality or municipalities.get(item.actor.organisation_id)
            if municipality is None:
                outcomes.append(NotFound("organisation not found"))
                continue
            registration = RegistrationRow(
                id=new_id(),
                pseudonym=item.pseudonym,
                key_version=self._keys.current_version,
                organisation_id=item.actor.organisation_id,
                professional_id=item.actor.professional_id,
                municipality=municipality,
                status=RegistrationStatus.ACTIVE,
                created_at=now,
                ends_at=item.ends_at,
                ended_at=None,
                end_reason=None,
            )
            pending.registrations.append(registration)
            family_id = None
            if item.parents:
                node = Node(
                    registration.id,
                    registration.pseudonym,
                    registration.professional_id,
                    registration.organisation_id,
                )
                family_id = families.add(node, [p for p, _ in item.parents], version, now)
            others = list(youth.active)  # one active registration per professional
            youth.active.append(registration)
            if not others:
                outcomes.append(
                    RegisterResult(
                        registration=registration,
                        created=True,
                        match_id=None,
                        bsn=item.bsn,
                        family_match_id=family_id,
                        subject_token=item.token,
                    )
                )
                continue
            if youth.match_id is None:
                self._open_match(pending, youth, [*others, registration], now)
            else:
                self._join_match(pending, youth, registration, now)
            outcomes.append(
                RegisterResult(
                    registration=registration,
                    created=True,
                    match_id=youth.match_id,
                    bsn=item.bsn,
                    family_match_id=family_id,
                    subject_token=item.token,
                )
            )
        if self._federation is not None:
            self._federation.stage_created(pending.handoffs, outcomes, now)
        rows: Staged = [] if staged is None else staged
        await pending.flush(session, self.hooks, families.new_links, rows)
        if staged is None or families.changes_rows:
            await insert_rows(session, *rows)
            rows.clear()
        await families.flush(session)
        await duties.tell_earlier_involvement(
            session, await self._earlier_involvement_asked(session, pending.registrations), now
        )
        return outcomes

    async def _move_earlier_pseudonyms(
        self, session: AsyncSession, valid: Sequence[_Prepared]
    ) -> None:
        """Move what is stored under a youth's or parent's earlier pseudonyms over to the
        current one (key rotation, and the direct path's move to the blind path), under the
        writers' locks: one read finds which earlier pseudonyms are still in use, and only
        those are updated."""
        youths = {old for p in valid for old in p.older}
        parents = {old for p in valid for _, older in p.parents for old in older}
        if not youths and not parents:
            return
        stored, stored_parents = await repo.earlier_pseudonyms_in_use(
            session, sorted(youths), sorted(parents)
        )
        moved: set[str] = set()
        version = self._keys.current_version
        for p in valid:
            old = [o for o in p.older if o in stored]
            if old and p.pseudonym not in moved:
                moved.add(p.pseudonym)
                await repo.repseudonymise(session, old=old, new=p.pseudonym, key_version=version)
            for parent, older in p.parents:
                old = [o for o in older if o in stored_parents]
                if old and parent not in moved:
                    moved.add(parent)
                    await family_repo.repseudonymise_parents(
                        session, old=old, new=parent, key_version=version
                    )

    async def _municipalities_of(
        self, session: AsyncSession, organisations: set[str]
    ) -> dict[str, str]:
        known = self._municipalities
        missing = organisations - known.keys()
        if missing:
            known.update(await org_repo.organisation_municipalities(session, missing))
        return {o: known[o] for o in organisations if o in known}

    async def _earlier_involvement_asked(
        self, session: AsyncSession, registrations: Sequence[RegistrationRow]
    ) -> list[tuple[str, str, str, str]]:
        """The new registrations whose municipality keeps earlier involvement: all of them
        without the covenant cache, else only those (usually none: the option is off by
        default, and then no query is made)."""
        asked = registrations
        if self._covenants is not None and registrations:
            covenants = await self._covenants.of(session, {r.municipality for r in registrations})
            asked = [
                r
                for r in registrations
                if covenants[r.municipality].terms.earlier_involvement.enabled
            ]
        return [(r.id, r.pseudonym, r.organisation_id, r.municipality) for r in asked]

    @staticmethod
    def _named(valid: Sequence[_Prepared]) -> dict[Pseudonym, list[tuple[Pseudonym, str]]]:
        """Each parent the write names → (youth, professional) of each request naming it."""
        named: dict[Pseudonym, list[tuple[Pseudonym, str]]] = {}
        for p in valid:
            for parent, _ in p.parents:
                named.setdefault(parent, []).append((p.pseudonym, p.actor.professional_id))
        return named

    @staticmethod
    def _known(youths: dict[Pseudonym, _Youth]) -> dict[str, Node]:
        """The write's youths' active registrations as the family rules see them."""
        return {
            r.id: Node(r.id, r.pseudonym, r.professional_id, r.organisation_id)
            for youth in youths.values()
            for r in youth.active
        }

    def _prepare(self, request: RegistrationRequest, now: datetime) -> _Prepared:
        valid_bsn: crypto.BSN | None = None
        if request.bsn is not None:
            try:
                valid_bsn = crypto.parse_bsn(request.bsn)
            except crypto.InvalidBSN as exc:
                raise InvalidBSN(str(exc)) from None
        token, earlier = _tokens(request)
        if valid_bsn is None and token is None:
            raise InvalidInput("a registration names the youth by bsn or by subject_token")
        ends_at = registration_end(
            birth_date=parse_birth_date(request.birth_date),
            created_at=now,
            term=parse_term(request.term),
        )
        if request.municipality is not None and not _valid_municipality(request.municipality):
            raise InvalidInput("municipality must be a four-digit CBS municipality code")
        # The first pseudonym is what is stored; every other one the youth may be stored
        # under moves over to it (index key rotation, key-service key rotation, and on the
        # direct path the pre-blind pseudonym of the BSN).
        pseudonyms: list[Pseudonym] = []
        if token is not None:
            pseudonyms.extend(self._keys.blind_pseudonyms(token))
            for older in earlier:
                pseudonyms.extend(self._keys.blind_pseudonyms(older))
        if valid_bsn is not None:
            pseudonyms.extend(self._keys.all_pseudonyms(valid_bsn))
        return _Prepared(
            actor=request.actor,
            bsn=valid_bsn,
            token=token,
            pseudonym=pseudonyms[0],
            older=tuple(pseudonyms[1:]),
            ends_at=ends_at,
            municipality=request.municipality,
            parents=(
                self._parents(request, valid_bsn, token)
                if request.parents or request.parent_tokens
                else ()
            ),
        )

    def _parents(
        self,
        request: RegistrationRequest,
        youth: crypto.BSN | None,
        youth_token: crypto.SubjectToken | None,
    ) -> tuple[tuple[Pseudonym, tuple[Pseudonym, ...]], ...]:
        """Each distinct parent's pseudonyms (current first), or raise: more than
        :data:`MAX_PARENTS`, a number failing the 11-test, a malformed token, the youth's own
        number or token, or mixed forms: a parent by BSN beside a youth named by subject
        token (the blind path sends no BSN) or a parent by token beside a youth named by BSN.

        A parent named by token (the blind path) is stored under the index's HMAC of the
        token under its own purpose; on the direct path with a key service the registration
        service has added each parent's tokens, and the parent is stored under the same value,
        its earlier-token and BSN pseudonyms moving over to it (as the youth's do)."""
        values, tokens = request.parents, request.parent_tokens
        if max(len(values), len(tokens)) > MAX_PARENTS:
            raise InvalidInput(f"at most {MAX_PARENTS} parents")
        if youth is None and values:
            raise InvalidInput("a registration by subject_token names no parent by bsn")
        by_bsn = youth is not None and request.subject_token is None
        if tokens and (by_bsn or (youth is not None and len(tokens) != len(values))):
            raise InvalidInput("a registration by bsn names its parents by bsn")
        pseudonyms: dict[Pseudonym, list[Pseudonym]] = {}
        for position in range(max(len(values), len(tokens))):
            known: list[Pseudonym] = []
            if tokens:
                current, earlier = _checked_tokens(
                    tokens[position].subject_token,
                    tokens[position].earlier_subject_tokens,
                    f"parents[{position}].",
                )
                if youth is None and current == youth_token:
                    raise InvalidInput(f"parents[{position}].subject_token is the youth's own")
                for token in (current, *earlier):
                    known.extend(self._keys.blind_parent_pseudonyms(token))
            if values:
                try:
                    parent = crypto.parse_bsn(values[position])
                except crypto.InvalidBSN:
                    raise InvalidBSN(f"parents[{position}].bsn is not a valid BSN") from None
                if parent == youth:
                    raise InvalidInput(f"parents[{position}].bsn is the youth's own")
                known.extend(self._keys.all_parent_pseudonyms(parent))
            pseudonyms.setdefault(known[0], known[1:])
        return tuple((current, tuple(older)) for current, older in pseudonyms.items())

    async def _load_youths(
        self, session: AsyncSession, subjects: Sequence[Pseudonym], parents: Sequence[Pseudonym]
    ) -> tuple[dict[Pseudonym, _Youth], list[tuple[Pseudonym, str]]]:
        """The youths' active registrations and open matches, and ``(parent,
        registration_id)`` of the registrations naming any of ``parents`` (read with the
        youths' registrations in one statement)."""
        youths = {s: _Youth() for s in subjects}
        matches: dict[Pseudonym, str] = {}
        active, links = await repo.active_registrations_with_open_match(session, subjects, parents)
        for registration, match_id in active:
            youths[registration.pseudonym].active.append(registration)
            if match_id is not None:
                matches[registration.pseudonym] = match_id
        participations = await match_repo.current_participations_of_matches(
            session, list(matches.values())
        )
        for pseudonym, match_id in matches.items():
            youth = youths[pseudonym]
            youth.match_id = match_id
            youth.participants = participations.get(match_id, [])
        return youths, links

    def _open_match(
        self,
        pending: _Pending,
        youth: _Youth,
        registrations: list[RegistrationRow],
        now: datetime,
    ) -> None:
        match = Match(
            id=new_id(),
            subject_pseudonym=registrations[-1].pseudonym,
            status=MatchStatus.OPEN,
            created_at=now,
            closed_at=None,
        )
        pending.matches.append(match)
        youth.match_id = match.id
        youth.participants = []
        for reg in registrations:
            pending.rows[reg.id] = reg
            participant = MatchParticipant(
                id=new_id(),
                match_id=match.id,
                registration_id=reg.id,
                organisation_id=reg.organisation_id,
                joined_at=now,
                left_at=None,
            )
            pending.participants.append(participant)
            youth.participants.append(participant)
        pending.events.extend(
            Event(
                event_type=EventType.MATCH_CREATED,
                organisation_id=reg.organisation_id,
                data={"match_id": match.id, "registration_id": reg.id},
                occurred_at=now,
                match_id=match.id,
            )
            for reg in registrations
        )

    def _join_match(
        self,
        pending: _Pending,
        youth: _Youth,
        registration: RegistrationRow,
        now: datetime,
    ) -> None:
        assert youth.match_id is not None
        match_id = youth.match_id
        newcomer = MatchParticipant(
            id=new_id(),
            match_id=match_id,
            registration_id=registration.id,
            organisation_id=registration.organisation_id,
            joined_at=now,
            left_at=None,
        )
        pending.participants.append(newcomer)
        pending.rows[registration.id] = registration
        pending.joined.append(
            JoinedMatch(
                match_id,
                registration.organisation_id,
                registration.id,
                now,
                organisation_took_part=any(
                    p.organisation_id == registration.organisation_id for p in youth.participants
                ),
            )
        )
        pending.events.extend(
            Event(
                event_type=EventType.MATCH_PARTICIPANT_JOINED,
                organisation_id=p.organisation_id,
                data={
                    "match_id": match_id,
                    "registration_id": p.registration_id,
                    "participant_registration_id": registration.id,
                },
                occurred_at=now,
                match_id=match_id,
            )
            for p in [*youth.participants, newcomer]
        )
        youth.participants.append(newcomer)

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
        await self.lock_for_end(session, [registration])
        await session.refresh(registration)
        if registration.status != RegistrationStatus.ACTIVE:
            raise RegistrationNotActive("the registration has already ended")
        assert end_reason is not None
        await self._end(
            session, registration, RegistrationStatus.WITHDRAWN, end_reason, self._clock.now()
        )
        return registration

    async def lock_for_end(
        self, session: AsyncSession, registrations: Sequence[Registration]
    ) -> None:
        """Take the subject locks that ending ``registrations`` needs: their youths' and their
        parents' (one statement, sorted, as the registration path takes them). A
        registration's parents never change while it is active, so reading them before the
        lock is safe."""
        parents = await family_repo.parents_of_registrations(session, [r.id for r in registrations])
        await repo.lock_subjects(session, sorted({*(r.pseudonym for r in registrations), *parents}))

    async def end_registration(
        self, session: AsyncSession, registration: Registration, *, reason: EndReason
    ) -> None:
        """End an active registration now (status ``ended``), with the usual outbox events and
        match and family-match bookkeeping. The caller holds the locks of
        :meth:`lock_for_end`."""
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
        await duties.keep_if_agreed(session, registration, reason, now)
        await enqueue(
            session,
            event_type=EventType.REGISTRATION_ENDED,
            organisation_id=registration.organisation_id,
            data={"registration_id": registration.id, "reason": str(reason)},
            occurred_at=now,
        )
        await self._families.end(session, [registration.id], now)
        if self._federation is not None:
            await self._federation.stage_ended(session, [registration.id], now)
        participation = await match_repo.open_participation_of_registration(
            session, registration.id
        )
        if participation is None:
            await session.flush()
            return
        participation.left_at = now
        match_id = participation.match_id
        remaining = [
            p
            for p in await match_repo.current_participations(session, match_id)
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
        closed = len(remaining) < 2
        if closed:
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
        if self.hooks is not None:
            await self.hooks.participant_left(
                session,
                LeftMatch(
                    match_id=match_id,
                    registration_id=registration.id,
                    closed=closed,
                    remaining=tuple((p.organisation_id, p.registration_id) for p in remaining),
                ),
            )

    async def end_due_registrations(
        self, session: AsyncSession, *, limit: int = 500
    ) -> list[Registration]:
        """End up to ``limit`` registrations whose end date has passed; return them."""
        now = self._clock.now()
        due = await repo.due_registrations(session, now=now, limit=limit)
        await self.lock_for_end(session, due)
        ended = []
        for registration in due:
            await session.refresh(registration)
            if registration.status != RegistrationStatus.ACTIVE:
                continue  # withdrawn meanwhile
            await self._end(session, registration, RegistrationStatus.ENDED, EndReason.EXPIRED, now)
            ended.append(registration)
        return ended

    async def purge(
        self, session: AsyncSession, *, retention: timedelta, at: datetime | None = None
    ) -> tuple[int, int]:
        """Delete ended registrations and closed matches older than the retention period
        (counted back from ``at``, by default now)."""
        cutoff = (at or self._clock.now()) - retention
        await family_repo.purge_closed_family_matches(session, closed_before=cutoff)
        purged_regs = await repo.purge_ended_registrations(session, ended_before=cutoff)
        purged_matches = await match_repo.purge_closed_matches(session, closed_before=cutoff)
        return purged_regs, purged_matches

"""Coordination after a match: the first proposal when a match opens, the participants' and
the municipality's actions, what happens when participants leave, and the deadlines.

Each public method that a route or the sweeper calls is a unit of work with its access-log
record; :meth:`CoordinationService.matches_opened`, :meth:`matches_joined` and
:meth:`participant_left` work inside the registration's or withdrawal's own transaction (the
hooks of ``MatchIndex``), whose own access-log record (``registration.create``,
``registration.withdraw``, ``registration.expire``) covers them. Every change is a row of the
history, a new version of the coordination row (a writer that read an older
version changes nothing) and webhooks to the participants through the outbox.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from notifier import Event, EventType, enqueue_many
from verwijsindex.accesslog import AccessContext, AccessLogger, Operation, Subject, record_read
from verwijsindex.clock import Clock
from verwijsindex.coordination import machine
from verwijsindex.coordination import repository as repo
from verwijsindex.coordination.machine import (
    API_ACTIONS,
    MUNICIPALITY_ACTIONS,
    PROFESSIONAL_ACTIONS,
    Action,
    ActorKind,
    ActorNotAllowed,
    CoordinationChanged,
    DeclineReason,
    EscalateReason,
    Outcome,
    Participant,
    State,
    Terms,
)
from verwijsindex.coordination.models import Coordination
from verwijsindex.coordination.state import CoordinationStatus, CoordinationSummary
from verwijsindex.covenants.service import Covenant, CovenantService, CurrentCovenants
from verwijsindex.errors import InvalidInput, NotFound
from verwijsindex.organisations import repository as org_repo
from verwijsindex.organisations.models import Role, Sector
from verwijsindex.registrations.index import JoinedMatch, LeftMatch, OpenedMatch
from verwijsindex.storage import Database
from verwijsindex.storage.base import Staged, new_id
from verwijsindex.storage.group_commit import GroupCommitter

_SWEEP_BATCH = 200
_SYSTEM = "system"
_JOINER_EVENT = {
    (CoordinationStatus.PROPOSED, False): EventType.COORDINATION_PROPOSED,
    (CoordinationStatus.ACCEPTED, False): EventType.COORDINATION_ACCEPTED,
    (CoordinationStatus.ACCEPTED, True): EventType.COORDINATION_CONFIRMED,
    (CoordinationStatus.ESCALATED, False): EventType.COORDINATION_ESCALATED,
    (CoordinationStatus.CLOSED, False): EventType.COORDINATION_CLOSED,
    (CoordinationStatus.CLOSED, True): EventType.COORDINATION_CLOSED,
}
"""The event that tells a registration joining an open match where its coordination stands
(by status and whether it is agreed)."""


@dataclass(frozen=True, slots=True)
class CoordinationCaller:
    """Who acts: a professional of a participating organisation, or a municipality-admin."""

    organisation_id: str
    role: Role
    professional_id: str | None = None


@dataclass(frozen=True, slots=True)
class ActionInput:
    reason: str | Sequence[str] | None = None
    organisation_id: str | None = None


@dataclass(frozen=True, slots=True)
class HistoryItem:
    at: datetime
    action: str
    actor_role: str
    actor_organisation_id: str | None
    reason: str | None
    target_organisation_id: str | None
    status: CoordinationStatus
    level: int
    coordinator_organisation_id: str | None


@dataclass(frozen=True, slots=True)
class _Actor:
    role: str
    organisation_id: str | None
    kinds: frozenset[ActorKind]


_SYSTEM_ACTOR = _Actor(_SYSTEM, None, frozenset({ActorKind.SYSTEM}))


def terms_of(covenant: Covenant) -> Terms:
    return Terms(
        sectors=tuple(s.value for s in covenant.coordinator_sectors),
        respond_within=covenant.respond_span,
        coordinate_within=covenant.coordinate_span,
    )


def _seat(organisation_id: str | None, registration_id: str | None) -> tuple[str, str] | None:
    if organisation_id is None or registration_id is None:
        return None
    return (organisation_id, registration_id)


def state_of(row: Coordination) -> State:
    return State(
        status=row.status,
        level=row.level,
        coordinator=_seat(row.coordinator_organisation_id, row.coordinator_registration_id),
        handover_from=_seat(row.handover_from_organisation_id, row.handover_from_registration_id),
        declined=frozenset(d for d in row.declined.split(",") if d),
        due_at=row.due_at,
        coordinate_due_at=row.coordinate_due_at,
        reminded=row.reminded,
        agreed_at=row.agreed_at,
    )


def _columns(state: State) -> dict[str, object]:
    coordinator = state.coordinator or (None, None)
    handover = state.handover_from or (None, None)
    return {
        "status": state.status,
        "level": state.level,
        "coordinator_organisation_id": coordinator[0],
        "coordinator_registration_id": coordinator[1],
        "handover_from_organisation_id": handover[0],
        "handover_from_registration_id": handover[1],
        "declined": ",".join(sorted(state.declined)),
        "due_at": state.due_at,
        "coordinate_due_at": state.coordinate_due_at,
        "reminded": state.reminded,
        "agreed_at": state.agreed_at,
    }


def _receivers(participants: Sequence[tuple[str, str]]) -> dict[str, str]:
    """Each organisation once, with its earliest registration in the match."""
    out: dict[str, str] = {}
    for organisation_id, registration_id in participants:
        out.setdefault(organisation_id, registration_id)
    return out


@dataclass(frozen=True, slots=True)
class Opening:
    """What a new match's coordination writes: its row, its first history row (both by
    column name) and the events to its participants."""

    row: dict[str, Any]
    history: dict[str, Any]
    events: list[Event]
    escalated: bool
    """Started at the municipality (level 2): its organisations get
    ``coordination.escalated`` too."""


def opening(
    match_id: str,
    created_at: datetime,
    participants: Sequence[Participant],
    covenant: Covenant,
    terms: Terms | None = None,
) -> Opening:
    """The coordination a match opened at ``created_at`` starts with, under ``covenant``
    (``participants`` oldest registration first). Pure: no database."""
    outcome = machine.start(participants, terms or terms_of(covenant), created_at)
    row = {
        "match_id": match_id,
        "municipality": covenant.municipality,
        "covenant_id": covenant.id,
        "version": 1,
        "match_created_at": created_at,
        "first_accepted_at": None,
        "accepted_at": None,
        "closed_at": None,
        "updated_at": created_at,
        **_columns(outcome.state),
    }
    history = _history_row(match_id, created_at, "start", _SYSTEM_ACTOR, outcome, None)
    receivers = _receivers([(p.organisation_id, p.registration_id) for p in participants])
    events = CoordinationService._events(match_id, created_at, outcome, receivers, [], None)
    return Opening(row, history, events, outcome.state.status is CoordinationStatus.ESCALATED)


def _history_row(
    match_id: str,
    at: datetime,
    action: str,
    actor: _Actor,
    outcome: Outcome,
    target: str | None,
) -> dict[str, Any]:
    """A history row's column values."""
    state = outcome.state
    return {
        "id": new_id(),
        "match_id": match_id,
        "at": at,
        "action": action,
        "actor_role": actor.role,
        "actor_organisation_id": actor.organisation_id,
        "reason": outcome.reason,
        "target_organisation_id": target,
        "status": state.status,
        "level": state.level,
        "coordinator_organisation_id": state.coordinator[0] if state.coordinator else None,
    }


class CoordinationService:
    def __init__(
        self,
        *,
        database: Database,
        writes: GroupCommitter,
        access_log: AccessLogger,
        clock: Clock,
        covenants: CurrentCovenants | None = None,
    ) -> None:
        self._covenants = covenants or CurrentCovenants()
        self._database = database
        self._writes = writes
        self._access_log = access_log
        self._clock = clock
        self._sectors: dict[str, str] = {}

    # ---- inside the registration's transaction (MatchIndex hooks) ------------------------

    async def matches_opened(
        self, session: AsyncSession, opened: Sequence[OpenedMatch], staged: Staged
    ) -> list[Event]:
        """Each new match's coordination: the first proposal by the covenant's order among
        its participants (ties: the earliest registration), or level 2 when none is eligible.
        Its rows are added to ``staged``, written with the match's own (no statement of its
        own: the sectors and covenants are cached)."""
        if not opened:
            return []
        sectors = await self._sectors_of(
            session, {r.organisation_id for m in opened for r in m.registrations}
        )
        covenants = await self._covenants.of(
            session, {m.registrations[0].municipality for m in opened}
        )
        rows: list[dict[str, Any]] = []
        history: list[dict[str, Any]] = []
        events: list[Event] = []
        escalated: list[tuple[str, str, datetime]] = []
        terms = {m: terms_of(c) for m, c in covenants.items()}
        for match in opened:
            municipality = match.registrations[0].municipality
            covenant = covenants[municipality]
            participants = [
                Participant(
                    r.organisation_id, r.id, sectors.get(r.organisation_id, ""), r.created_at
                )
                for r in match.registrations
            ]
            start = opening(
                match.match_id, match.created_at, participants, covenant, terms[municipality]
            )
            rows.append(start.row)
            history.append(start.history)
            events += start.events
            if start.escalated:
                escalated.append((match.match_id, covenant.municipality, match.created_at))
        staged += repo.staged(rows, history)
        for match_id, municipality, at in escalated:
            for organisation_id in await repo.municipality_organisations(session, municipality):
                events.append(
                    Event(
                        EventType.COORDINATION_ESCALATED,
                        organisation_id,
                        {"match_id": match_id},
                        at,
                        match_id=match_id,
                    )
                )
        # In the access log as the registration that opened the match (registration.create);
        # the events go into the outbox with the registration's own.
        return events

    async def matches_joined(
        self, session: AsyncSession, joined: Sequence[JoinedMatch]
    ) -> list[Event]:
        """Tell each registration that joined an open match where its coordination stands,
        with the event of that state: ``coordination.proposed`` while proposed,
        ``coordination.accepted`` (``coordination.confirmed`` once agreed) while accepted,
        ``coordination.escalated`` while escalated, ``coordination.closed`` when closed. The
        join changes nothing else (the proposal stays); one statement for all of the write's
        joins. Like every coordination event, each organisation is told once: a registration
        of an organisation that already takes part is not. No alert: the newcomer's
        ``match.participant_joined`` already alerts it."""
        joined = [j for j in joined if not j.organisation_took_part]
        if not joined:
            return []
        states = await repo.states_of(session, {j.match_id for j in joined})
        events: list[Event] = []
        for join in joined:
            found = states.get(join.match_id)
            if found is None:
                continue
            status, agreed = found
            events.append(
                Event(
                    _JOINER_EVENT[(status, agreed)],
                    join.organisation_id,
                    {"match_id": join.match_id, "registration_id": join.registration_id},
                    join.joined_at,
                    match_id=join.match_id,
                    alerts=False,
                )
            )
        # In the access log as the registration that joined the match (registration.create).
        return events

    async def _sectors_of(self, session: AsyncSession, organisations: set[str]) -> dict[str, str]:
        """Organisations' sectors, remembered: a sector never changes once the organisation
        exists, so the match path reads each organisation's once per process."""
        missing = organisations - self._sectors.keys()
        if missing:
            self._sectors.update(await repo.sectors_of(session, missing))
        return {o: self._sectors[o] for o in organisations if o in self._sectors}

    async def participant_left(self, session: AsyncSession, left: LeftMatch) -> None:
        """A registration left the match: a closed match closes its coordination; a
        coordinator (or proposed one) who left is followed by the next proposal or the
        municipality; a handover whose giver left no longer falls back to it."""
        row = await repo.lock(session, left.match_id)
        if row is None or row.status is CoordinationStatus.CLOSED:
            return
        now = self._clock.now()
        state = state_of(row)
        if left.closed:
            action = Action.MATCH_CLOSED
        elif state.coordinator is not None and state.coordinator[1] == left.registration_id:
            action = Action.COORDINATOR_LEFT
        else:
            if state.handover_from is not None and state.handover_from[1] == left.registration_id:
                values = {
                    "handover_from_organisation_id": None,
                    "handover_from_registration_id": None,
                }
                if not await repo.update_if_version(session, row.match_id, row.version, values):
                    raise CoordinationChanged("the coordination changed at the same moment")
            return
        participants = await repo.participants(session, left.match_id)
        terms = await self._terms(session, row)
        outcome = machine.step(
            state, action, _SYSTEM_ACTOR.kinds, participants=participants, terms=terms, now=now
        )
        told = (
            list(left.remaining)
            if left.closed
            else [(p.organisation_id, p.registration_id) for p in participants]
        )
        # In the access log as the withdrawal or expiry that ended the registration.
        await self._apply(session, row, action, _SYSTEM_ACTOR, outcome, None, told, now)

    # ---- units of work ---------------------------------------------------------------------

    async def act(
        self,
        access: AccessContext,
        caller: CoordinationCaller,
        match_id: str,
        action_name: str,
        body: ActionInput,
    ) -> CoordinationSummary:
        """One action of ``POST /v1/matches/{id}/coordination/{action}``: 404 for an unknown
        action or a match the caller has no part in, 403 for an action this caller may not
        take, 409 for one the state does not allow, 422 for a reason outside the codes."""
        action = self._action(action_name, caller)
        reason, target = self._input(action, body)
        async with self._database.transaction() as session:
            row = await repo.lock(session, match_id)
            if row is None:
                raise NotFound("match not found")
            participants = await repo.participants(session, match_id)
            actor = await self._actor(session, caller, row, participants)
            now = self._clock.now()
            outcome = machine.step(
                state_of(row),
                action,
                actor.kinds,
                participants=participants,
                terms=await self._terms(session, row),
                now=now,
                reason=reason,
                target=target,
            )
            told = [(p.organisation_id, p.registration_id) for p in participants]
            await self._apply(session, row, action, actor, outcome, target, told, now)
            await self._access_log.record(
                session,
                access,
                operation=Operation.COORDINATION_ACT,
                subject=Subject.match(match_id),
                reason=action.value,
            )
        return _summary(match_id, outcome.state)

    @staticmethod
    def _action(name: str, caller: CoordinationCaller) -> Action:
        try:
            action = Action(name)
        except ValueError:
            action = None
        if action is None or action not in API_ACTIONS:
            raise NotFound(
                "unknown coordination action; one of: "
                + ", ".join(sorted(a.value for a in API_ACTIONS))
            )
        allowed = (
            MUNICIPALITY_ACTIONS if caller.role is Role.MUNICIPALITY_ADMIN else PROFESSIONAL_ACTIONS
        )
        if action not in allowed:
            raise ActorNotAllowed(f"a {caller.role.value} key may not {action.value}")
        return action

    @staticmethod
    def _input(action: Action, body: ActionInput) -> tuple[str | None, str | None]:
        """The coded reason and the target organisation an action needs, checked."""
        reason = body.reason
        if action in (Action.HANDOVER, Action.ASSIGN):
            if not body.organisation_id:
                raise InvalidInput(f"{action.value} needs organisation_id")
            if reason is not None:
                raise InvalidInput(f"{action.value} takes no reason")
            return None, body.organisation_id
        if body.organisation_id is not None:
            raise InvalidInput(f"{action.value} takes no organisation_id")
        if action is Action.DECLINE:
            return machine.coded(DeclineReason, _one(reason)), None
        if action is Action.ESCALATE:
            return machine.coded(EscalateReason, _one(reason)), None
        if action is Action.CLOSE:
            checks = [reason] if isinstance(reason, str) else list(reason or [])
            return machine.closure_reason(checks), None
        if reason is not None:
            raise InvalidInput(f"{action.value} takes no reason")
        return None, None

    async def _actor(
        self,
        session: AsyncSession,
        caller: CoordinationCaller,
        row: Coordination,
        participants: Sequence[Participant],
    ) -> _Actor:
        """What the caller is to this coordination now; NotFound when it has no part in it
        (another organisation's match, another municipality's)."""
        if caller.role is Role.MUNICIPALITY_ADMIN:
            if not await self._manages(session, caller.organisation_id, row.municipality):
                raise NotFound("match not found")
            return _Actor(
                caller.role.value, caller.organisation_id, frozenset({ActorKind.MUNICIPALITY})
            )
        if caller.organisation_id not in {p.organisation_id for p in participants}:
            raise NotFound("match not found")
        kinds = {ActorKind.PARTICIPANT}
        if row.coordinator_organisation_id == caller.organisation_id:
            if row.status is CoordinationStatus.PROPOSED:
                kinds.add(ActorKind.PROPOSED)
            elif row.status is CoordinationStatus.ACCEPTED:
                kinds.add(ActorKind.COORDINATOR)
        return _Actor(caller.role.value, caller.organisation_id, frozenset(kinds))

    @staticmethod
    async def _manages(session: AsyncSession, organisation_id: str, municipality: str) -> bool:
        organisation = await org_repo.get_organisation(session, organisation_id)
        return (
            organisation is not None
            and organisation.sector == Sector.MUNICIPALITY
            and organisation.municipality == municipality
        )

    async def _terms(self, session: AsyncSession, row: Coordination) -> Terms:
        covenant = await CovenantService.covenant_version(
            session, row.covenant_id, municipality=row.municipality
        )
        return terms_of(covenant)

    @staticmethod
    def _events(
        match_id: str,
        at: datetime,
        outcome: Outcome,
        receivers: dict[str, str],
        municipality: Sequence[str],
        before: State | None,
    ) -> list[Event]:
        """The webhooks of an outcome: every participant organisation is told (a reminder
        only the coordinator). Only the copies addressed to a participant alert its
        professional by e-mail (``Event.alerts``): a proposal or handover the organisation it goes
        to, an escalation those it takes the coordination from (``before``: the state the
        outcome left); the quiet types alert nobody (:data:`notifier.QUIET_EVENT_TYPES`)."""
        now_seat = outcome.state.coordinator
        taken = {s[0] for s in (before.coordinator, before.handover_from) if s} if before else set()
        events: list[Event] = []
        for event_type in outcome.events:
            if event_type is EventType.COORDINATION_REMINDER:
                targets = {now_seat[0]: now_seat[1]} if now_seat is not None else {}
            else:
                targets = receivers
            if event_type is EventType.COORDINATION_ESCALATED:
                addressed = taken
            else:
                addressed = {now_seat[0]} if now_seat is not None else set()
            events += [
                Event(
                    event_type,
                    organisation_id,
                    {"match_id": match_id, "registration_id": registration_id},
                    at,
                    match_id=match_id,
                    alerts=organisation_id in addressed,
                )
                for organisation_id, registration_id in targets.items()
            ]
            if event_type in (
                EventType.COORDINATION_ESCALATED,
                EventType.COORDINATION_DE_ESCALATED,
            ):
                events += [
                    Event(
                        event_type, organisation_id, {"match_id": match_id}, at, match_id=match_id
                    )
                    for organisation_id in municipality
                    if organisation_id not in receivers
                ]
        return events

    async def _apply(
        self,
        session: AsyncSession,
        row: Coordination,
        action: Action,
        actor: _Actor,
        outcome: Outcome,
        target: str | None,
        told: Sequence[tuple[str, str]],
        now: datetime,
    ) -> None:
        """Store the outcome (only over the version read), its history row and its webhooks."""
        before = state_of(row)
        values = _columns(outcome.state)
        values["updated_at"] = now
        if action is Action.ACCEPT:
            values["accepted_at"] = now
            if row.first_accepted_at is None:
                values["first_accepted_at"] = now
        if outcome.state.status is CoordinationStatus.CLOSED:
            values["closed_at"] = now
        if not await repo.update_if_version(session, row.match_id, row.version, values):
            raise CoordinationChanged("the coordination changed at the same moment; read it again")
        await repo.add_event(
            session, _history_row(row.match_id, now, action.value, actor, outcome, target)
        )
        municipality: list[str] = []
        if any(
            e in (EventType.COORDINATION_ESCALATED, EventType.COORDINATION_DE_ESCALATED)
            for e in outcome.events
        ):
            municipality = await repo.municipality_organisations(session, row.municipality)
        await enqueue_many(
            session,
            self._events(row.match_id, now, outcome, _receivers(told), municipality, before),
        )

    async def _reader(
        self, session: AsyncSession, caller: CoordinationCaller, match_id: str
    ) -> Coordination:
        """The coordination a caller may read: a participant's (now or before) or its
        municipality's; NotFound otherwise."""
        row = await repo.get(session, match_id)
        if row is None:
            raise NotFound("match not found")
        if caller.role is Role.MUNICIPALITY_ADMIN:
            allowed = await self._manages(session, caller.organisation_id, row.municipality)
        else:
            allowed = await repo.ever_took_part(session, match_id, caller.organisation_id)
        if not allowed:
            raise NotFound("match not found")
        return row

    async def read(
        self, access: AccessContext, caller: CoordinationCaller, match_id: str
    ) -> CoordinationSummary:
        async with self._database.read() as session:
            row = await self._reader(session, caller, match_id)
            summary = repo.summary_of(row)
        await record_read(
            self._writes,
            self._access_log,
            access,
            Operation.COORDINATION_READ,
            [Subject.match(match_id)],
        )
        return summary

    async def history(
        self, access: AccessContext, caller: CoordinationCaller, match_id: str
    ) -> list[HistoryItem]:
        """Who did what and when, oldest first; codes only, never content."""
        async with self._database.read() as session:
            await self._reader(session, caller, match_id)
            rows = await repo.history(session, match_id)
        await record_read(
            self._writes,
            self._access_log,
            access,
            Operation.COORDINATION_HISTORY,
            [Subject.match(match_id)],
        )
        return [
            HistoryItem(
                at=r.at,
                action=r.action,
                actor_role=r.actor_role,
                actor_organisation_id=r.actor_organisation_id,
                reason=r.reason,
                target_organisation_id=r.target_organisation_id,
                status=r.status,
                level=r.level,
                coordinator_organisation_id=r.coordinator_organisation_id,
            )
            for r in rows
        ]

    async def of_municipality(
        self,
        access: AccessContext,
        caller: CoordinationCaller,
        municipality: str,
        *,
        status: CoordinationStatus | None,
        limit: int,
    ) -> list[CoordinationSummary]:
        """The coordinations of the municipality's matches (procesregie): ids, status,
        level, coordinator and deadline; 403 for another municipality's."""
        async with self._database.read() as session:
            if caller.role is not Role.MUNICIPALITY_ADMIN or not await self._manages(
                session, caller.organisation_id, municipality
            ):
                raise ActorNotAllowed("a municipality-admin sees only its own municipality's")
            found = await repo.of_municipality(session, municipality, status=status, limit=limit)
        await record_read(
            self._writes,
            self._access_log,
            access,
            Operation.COORDINATION_LIST,
            [Subject.match(s.match_id) for s in found],
        )
        return found

    # ---- deadlines (the sweeper) -------------------------------------------------------------

    async def sweep(self) -> int:
        """Act on every deadline that has passed: no acceptance within ``respond_within`` →
        level 2; an accepted coordination not closed within ``coordinate_within`` → a
        reminder to the coordinator, and when the grace (``respond_within``) passes too →
        level 2. Each match in a transaction of its own that locks its row (skipping rows
        another sweeper holds) and rechecks the deadline, so several sweepers and a sweep
        cut off half-way (kill -9) act exactly once per deadline. Returns the changes made."""
        changed = 0
        while True:
            now = self._clock.now()
            async with self._database.read() as session:
                due = await repo.due(session, now=now, limit=_SWEEP_BATCH)
            for match_id in due:
                changed += await self._deadline(match_id, now)
            if len(due) < _SWEEP_BATCH:
                return changed

    async def _deadline(self, match_id: str, now: datetime) -> int:
        async with self._database.transaction() as session:
            row = await repo.lock(session, match_id, skip_locked=True)
            if (
                row is None
                or row.due_at is None
                or row.due_at > now
                or row.status not in (CoordinationStatus.PROPOSED, CoordinationStatus.ACCEPTED)
            ):
                return 0
            if row.status is CoordinationStatus.PROPOSED:
                action = Action.RESPOND_DEADLINE
            else:
                action = Action.COORDINATE_DEADLINE if row.reminded else Action.REMIND
            participants = await repo.participants(session, match_id)
            outcome = machine.step(
                state_of(row),
                action,
                _SYSTEM_ACTOR.kinds,
                participants=participants,
                terms=await self._terms(session, row),
                now=now,
            )
            told = [(p.organisation_id, p.registration_id) for p in participants]
            await self._apply(session, row, action, _SYSTEM_ACTOR, outcome, None, told, now)
            await self._access_log.record(
                session,
                AccessContext.system(role=_SYSTEM, started_at=now),
                operation=Operation.COORDINATION_SYSTEM,
                subject=Subject.match(match_id),
                reason=action.value,
            )
        return 1


def _summary(match_id: str, state: State) -> CoordinationSummary:
    coordinator = state.coordinator or (None, None)
    return CoordinationSummary(
        match_id=match_id,
        status=state.status,
        level=state.level,
        coordinator_organisation_id=coordinator[0],
        coordinator_registration_id=coordinator[1],
        due_at=state.due_at,
        agreed_at=state.agreed_at,
    )


def _one(reason: str | Sequence[str] | None) -> str | None:
    if reason is None or isinstance(reason, str):
        return reason
    raise InvalidInput("reason must be one code")

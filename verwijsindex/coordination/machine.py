"""The coordination state machine: statuses, actions, who may do what, in one table.

Pure: no storage, no clock of its own. :func:`step` takes a state, an action and what the
actor is to this match, and gives the next state and the webhook types it announces; the
service stores it. The coded vocabularies are here too (docs/coordination.md lists them).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from enum import StrEnum

from notifier import EventType
from verwijsindex.coordination.state import CoordinationStatus as Status
from verwijsindex.errors import Conflict, Forbidden, InvalidInput


class Action(StrEnum):
    # participants
    ACCEPT = "accept"
    DECLINE = "decline"
    HANDOVER = "handover"
    ESCALATE = "escalate"
    CLOSE = "close"
    CONFIRM = "confirm"
    # the municipality-admin (also escalate to level 3 and close at level 2 or 3)
    ASSIGN = "assign"
    DE_ESCALATE = "de-escalate"
    # the index itself (a new match's first proposal is :func:`start`)
    RESPOND_DEADLINE = "respond-deadline"
    REMIND = "remind"
    COORDINATE_DEADLINE = "coordinate-deadline"
    COORDINATOR_LEFT = "coordinator-left"
    MATCH_CLOSED = "match-closed"


API_ACTIONS = frozenset(
    {
        Action.ACCEPT,
        Action.DECLINE,
        Action.HANDOVER,
        Action.ESCALATE,
        Action.CLOSE,
        Action.CONFIRM,
        Action.ASSIGN,
        Action.DE_ESCALATE,
    }
)
"""The actions of ``POST /v1/matches/{id}/coordination/{action}``."""


class ActorKind(StrEnum):
    """What the actor is to this coordination at this moment."""

    PARTICIPANT = "participant"
    """An organisation with an open registration in the match."""
    PROPOSED = "proposed"
    """The organisation proposed as coordinator (or handed over to), while it is proposed."""
    COORDINATOR = "coordinator"
    """The accepted coordinator."""
    MUNICIPALITY = "municipality"
    """The municipality-admin of the match's municipality."""
    SYSTEM = "system"
    """The index: a new match, a deadline, a participant leaving."""


P, PR, C, M, S = (
    ActorKind.PARTICIPANT,
    ActorKind.PROPOSED,
    ActorKind.COORDINATOR,
    ActorKind.MUNICIPALITY,
    ActorKind.SYSTEM,
)


@dataclass(frozen=True, slots=True)
class Rule:
    action: Action
    source: Status
    levels: frozenset[int]
    actors: frozenset[ActorKind]
    unagreed: bool = False
    """Only while the coordination is not (yet) confirmed as agreed."""


def _rule(
    action: Action,
    source: Status,
    levels: set[int],
    actors: set[ActorKind],
    *,
    unagreed: bool = False,
) -> Rule:
    return Rule(action, source, frozenset(levels), frozenset(actors), unagreed)


TRANSITIONS: tuple[Rule, ...] = (
    # action                      from              levels   who
    _rule(Action.ACCEPT, Status.PROPOSED, {1}, {PR}),
    _rule(Action.DECLINE, Status.PROPOSED, {1}, {PR}),
    _rule(Action.HANDOVER, Status.ACCEPTED, {1}, {C}),
    _rule(Action.ESCALATE, Status.PROPOSED, {1}, {P}),
    _rule(Action.ESCALATE, Status.ACCEPTED, {1}, {P}),
    _rule(Action.ESCALATE, Status.ESCALATED, {2}, {M}),
    _rule(Action.CLOSE, Status.ACCEPTED, {1}, {C}),
    _rule(Action.CLOSE, Status.ESCALATED, {2, 3}, {M}),
    _rule(Action.CONFIRM, Status.ACCEPTED, {1}, {C}, unagreed=True),
    _rule(Action.ASSIGN, Status.ESCALATED, {2, 3}, {M}),
    _rule(Action.DE_ESCALATE, Status.ESCALATED, {2, 3}, {M}),
    _rule(Action.RESPOND_DEADLINE, Status.PROPOSED, {1}, {S}),
    _rule(Action.REMIND, Status.ACCEPTED, {1}, {S}, unagreed=True),
    _rule(Action.COORDINATE_DEADLINE, Status.ACCEPTED, {1}, {S}, unagreed=True),
    _rule(Action.COORDINATOR_LEFT, Status.PROPOSED, {1}, {S}),
    _rule(Action.COORDINATOR_LEFT, Status.ACCEPTED, {1}, {S}),
    _rule(Action.MATCH_CLOSED, Status.PROPOSED, {1}, {S}),
    _rule(Action.MATCH_CLOSED, Status.ACCEPTED, {1}, {S}),
    _rule(Action.MATCH_CLOSED, Status.ESCALATED, {2, 3}, {S}),
)
"""Every allowed transition: the action, the status and levels it starts from, and who may.
Where it leads is :func:`step`'s (a decline, for one, leads to the next proposal or to the
municipality). ``unagreed`` rules apply only before the coordinator confirms the coordination
as agreed: a confirmed coordination is neither confirmed again nor reminded nor escalated by
its deadline. A new match enters through :func:`start` (``proposed`` at level 1, or
``escalated`` at level 2 when no participant is eligible). Nothing leaves ``closed``."""

PROFESSIONAL_ACTIONS = frozenset(
    {Action.ACCEPT, Action.DECLINE, Action.HANDOVER, Action.ESCALATE, Action.CLOSE, Action.CONFIRM}
)
MUNICIPALITY_ACTIONS = frozenset({Action.ASSIGN, Action.DE_ESCALATE, Action.ESCALATE, Action.CLOSE})


class DeclineReason(StrEnum):
    NO_CAPACITY = "no-capacity"
    OTHER_BETTER_PLACED = "other-better-placed"
    NOT_INVOLVED_ENOUGH = "not-involved-enough"
    OUTSIDE_MANDATE = "outside-mandate"
    CONFLICT_OF_INTEREST = "conflict-of-interest"


class EscalateReason(StrEnum):
    NO_COORDINATOR = "no-coordinator"
    NO_PROGRESS = "no-progress"
    SAFETY_CONCERN = "safety-concern"
    DISAGREEMENT = "disagreement"
    BEYOND_MANDATE = "beyond-mandate"


class SystemReason(StrEnum):
    """Reasons the index records for its own transitions (never given by a caller)."""

    NO_ELIGIBLE_PARTICIPANT = "no-eligible-participant"
    RESPOND_DEADLINE = "respond-deadline"
    COORDINATE_DEADLINE = "coordinate-deadline"
    COORDINATOR_LEFT = "coordinator-left"
    MATCH_CLOSED = "match-closed"


class ClosureCheck(StrEnum):
    RISKS_COVERED = "risks-covered"
    AFTERCARE_ARRANGED = "aftercare-arranged"
    PROFESSIONALS_TOLD = "registering-professionals-told"


def closure_reason(checks: Sequence[str]) -> str:
    """The closure checks as the history records them; every check is required."""
    given: set[ClosureCheck] = set()
    for check in checks:
        try:
            given.add(ClosureCheck(check))
        except ValueError:
            raise InvalidInput(
                "reason holds an unknown closure check; known: "
                + ", ".join(c.value for c in ClosureCheck)
            ) from None
    missing = [c.value for c in ClosureCheck if c not in given]
    if missing:
        raise InvalidInput("closing needs every closure check; missing: " + ", ".join(missing))
    return ",".join(c.value for c in ClosureCheck)


def coded(kind: type[StrEnum], value: str | None, field_name: str = "reason") -> str:
    """``value`` when it is a code of ``kind``; :class:`InvalidInput` listing the codes."""
    try:
        return kind(value or "").value
    except ValueError:
        raise InvalidInput(
            f"{field_name} must be one of: " + ", ".join(c.value for c in kind)
        ) from None


class TransitionNotAllowed(Conflict):
    code = "coordination-transition-not-allowed"


class ActorNotAllowed(Forbidden):
    code = "coordination-actor-not-allowed"


class CoordinationChanged(Conflict):
    code = "coordination-changed"


@dataclass(frozen=True, slots=True)
class Participant:
    """An open registration in the match, as the proposal orders them."""

    organisation_id: str
    registration_id: str
    sector: str
    registered_at: datetime


@dataclass(frozen=True, slots=True)
class Terms:
    """The covenant terms a coordination runs under (the version its match started with)."""

    sectors: tuple[str, ...]
    respond_within: timedelta
    coordinate_within: timedelta


Seat = tuple[str, str]
"""(organisation id, registration id)."""


@dataclass(frozen=True, slots=True)
class State:
    status: Status
    level: int
    coordinator: Seat | None = None
    handover_from: Seat | None = None
    """While a handover waits for the target's acceptance: the coordinator who handed over."""
    declined: frozenset[str] = field(default_factory=frozenset)
    """Organisations that declined in this round of proposals."""
    due_at: datetime | None = None
    coordinate_due_at: datetime | None = None
    reminded: bool = False
    agreed_at: datetime | None = None
    """When the coordinator confirmed that the professionals agreed who does what; None
    while not (or no longer) agreed."""


@dataclass(frozen=True, slots=True)
class Outcome:
    state: State
    events: tuple[EventType, ...]
    reason: str | None = None


def rules_for(action: Action, status: Status, level: int, *, agreed: bool = False) -> list[Rule]:
    return [
        r
        for r in TRANSITIONS
        if r.action is action
        and r.source is status
        and level in r.levels
        and not (agreed and r.unagreed)
    ]


def check(state: State, action: Action, kinds: frozenset[ActorKind]) -> None:
    """Raise :class:`TransitionNotAllowed` (409) when the state does not allow the action,
    :class:`ActorNotAllowed` (403) when it does but not for this actor."""
    agreed = state.agreed_at is not None
    rules = rules_for(action, state.status, state.level, agreed=agreed)
    if not rules:
        raise TransitionNotAllowed(
            f"{action.value} is not allowed while the coordination is {state.status.value}"
            f"{' and agreed' if agreed else ''} at level {state.level}"
        )
    if not any(r.actors & kinds for r in rules):
        raise ActorNotAllowed(f"this organisation may not {action.value} this coordination now")


def candidates(
    participants: Sequence[Participant], terms: Terms, declined: frozenset[str]
) -> list[Participant]:
    """Eligible participants, best first: by the covenant's sector order, then the earliest
    registration; organisations that declined in this round are passed over."""
    order = {sector: i for i, sector in enumerate(terms.sectors)}
    eligible = [p for p in participants if p.sector in order and p.organisation_id not in declined]
    return sorted(eligible, key=lambda p: (order[p.sector], p.registered_at, p.registration_id))


def seat_of(participants: Sequence[Participant], organisation_id: str) -> Seat | None:
    """The organisation's earliest open registration in the match."""
    mine = sorted(
        (p for p in participants if p.organisation_id == organisation_id),
        key=lambda p: (p.registered_at, p.registration_id),
    )
    return (mine[0].organisation_id, mine[0].registration_id) if mine else None


def _propose(
    participants: Sequence[Participant], terms: Terms, declined: frozenset[str], now: datetime
) -> Outcome:
    best = candidates(participants, terms, declined)
    if not best:
        return Outcome(
            State(Status.ESCALATED, 2, declined=declined),
            (EventType.COORDINATION_ESCALATED,),
            SystemReason.NO_ELIGIBLE_PARTICIPANT.value,
        )
    seat = (best[0].organisation_id, best[0].registration_id)
    return Outcome(
        State(
            Status.PROPOSED,
            1,
            coordinator=seat,
            declined=declined,
            due_at=now + terms.respond_within,
        ),
        (EventType.COORDINATION_PROPOSED,),
    )


def start(participants: Sequence[Participant], terms: Terms, now: datetime) -> Outcome:
    """A new match's coordination: the first proposal, or level 2 when nobody is eligible."""
    return _propose(participants, terms, frozenset(), now)


def _escalated(state: State, level: int, events: tuple[EventType, ...], reason: str) -> Outcome:
    return Outcome(State(Status.ESCALATED, level, declined=state.declined), events, reason)


def step(
    state: State,
    action: Action,
    kinds: frozenset[ActorKind],
    *,
    participants: Sequence[Participant],
    terms: Terms,
    now: datetime,
    reason: str | None = None,
    target: str | None = None,
) -> Outcome:
    """The next state after ``action`` by an actor of ``kinds``. Raises 409/403 errors when
    the table does not allow it, :class:`InvalidInput` for a target that is not a
    participant."""
    check(state, action, kinds)
    if action is Action.ACCEPT:
        assert state.coordinator is not None
        due = now + terms.coordinate_within
        return Outcome(
            State(
                Status.ACCEPTED, 1, coordinator=state.coordinator, due_at=due, coordinate_due_at=due
            ),
            (EventType.COORDINATION_ACCEPTED,),
        )
    if action is Action.DECLINE:
        if state.handover_from is not None:
            # A declined handover leaves the coordination with whoever handed it over.
            return Outcome(
                State(
                    Status.ACCEPTED,
                    1,
                    coordinator=state.handover_from,
                    declined=state.declined,
                    due_at=state.coordinate_due_at,
                    coordinate_due_at=state.coordinate_due_at,
                    reminded=state.reminded,
                ),
                (EventType.COORDINATION_DECLINED,),
                reason,
            )
        assert state.coordinator is not None
        declined = state.declined | {state.coordinator[0]}
        after = _propose(participants, terms, declined, now)
        return Outcome(after.state, (EventType.COORDINATION_DECLINED, *after.events), reason)
    if action is Action.HANDOVER:
        assert state.coordinator is not None and target is not None
        if target == state.coordinator[0]:
            raise InvalidInput("organisation_id must be another participant")
        seat = seat_of(participants, target)
        if seat is None:
            raise InvalidInput("organisation_id must be a participant of the match")
        return Outcome(
            replace(
                state,
                status=Status.PROPOSED,
                coordinator=seat,
                handover_from=state.coordinator,
                due_at=now + terms.respond_within,
                agreed_at=None,
            ),
            (EventType.COORDINATION_HANDED_OVER,),
        )
    if action is Action.ESCALATE:
        level = 3 if state.status is Status.ESCALATED else 2
        return _escalated(state, level, (EventType.COORDINATION_ESCALATED,), reason or "")
    if action is Action.CLOSE or action is Action.MATCH_CLOSED:
        return Outcome(
            State(
                Status.CLOSED,
                state.level,
                coordinator=state.coordinator if state.status is Status.ACCEPTED else None,
                agreed_at=state.agreed_at if state.status is Status.ACCEPTED else None,
            ),
            (EventType.COORDINATION_CLOSED,),
            reason,
        )
    if action is Action.CONFIRM:
        # Agreed: the coordination deadline no longer applies (the coordinator closes when the
        # plan is carried out). The deadline as it stood is kept for a handover that is
        # declined, which returns the coordination, no longer agreed, to its giver.
        return Outcome(
            replace(state, due_at=None, reminded=False, agreed_at=now),
            (EventType.COORDINATION_CONFIRMED,),
        )
    if action is Action.ASSIGN:
        assert target is not None
        seat = seat_of(participants, target)
        if seat is None:
            raise InvalidInput("organisation_id must be a participant of the match")
        return Outcome(
            State(Status.PROPOSED, 1, coordinator=seat, due_at=now + terms.respond_within),
            (EventType.COORDINATION_PROPOSED,),
        )
    if action is Action.DE_ESCALATE:
        if state.level == 3:
            return Outcome(State(Status.ESCALATED, 2), (EventType.COORDINATION_DE_ESCALATED,))
        after = _propose(participants, terms, frozenset(), now)
        if after.state.status is Status.ESCALATED:
            raise TransitionNotAllowed(
                "no participant is eligible to coordinate; assign one instead"
            )
        return Outcome(after.state, (EventType.COORDINATION_DE_ESCALATED, *after.events))
    if action is Action.RESPOND_DEADLINE:
        return _escalated(
            state, 2, (EventType.COORDINATION_ESCALATED,), SystemReason.RESPOND_DEADLINE.value
        )
    if action is Action.REMIND:
        return Outcome(
            replace(
                state,
                reminded=True,
                due_at=now + terms.respond_within,
                coordinate_due_at=now + terms.respond_within,
            ),
            (EventType.COORDINATION_REMINDER,),
        )
    if action is Action.COORDINATE_DEADLINE:
        return _escalated(
            state, 2, (EventType.COORDINATION_ESCALATED,), SystemReason.COORDINATE_DEADLINE.value
        )
    if action is Action.COORDINATOR_LEFT:
        if state.handover_from is not None and state.status is Status.PROPOSED:
            # The handover's target left: the coordination stays with who handed it over.
            return Outcome(
                State(
                    Status.ACCEPTED,
                    1,
                    coordinator=state.handover_from,
                    declined=state.declined,
                    due_at=state.coordinate_due_at,
                    coordinate_due_at=state.coordinate_due_at,
                    reminded=state.reminded,
                ),
                (EventType.COORDINATION_ACCEPTED,),
                SystemReason.COORDINATOR_LEFT.value,
            )
        after = _propose(participants, terms, state.declined, now)
        return Outcome(after.state, after.events, SystemReason.COORDINATOR_LEFT.value)
    raise AssertionError(f"unhandled action {action}")  # pragma: no cover

"""A hypothesis state machine of coordination against a plain model: several organisations
and the municipality act in any order, time passes (an injected clock) and the sweep acts on
the deadlines, participants withdraw. Every answer (the new state, or 403/404/409/422) and
the stored state must be the model's. On both databases."""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from sqlalchemy import delete

from notifier import OutboxEvent
from tests.conftest import make_caller
from verwijsindex.accesslog import AccessContext
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext, build_context
from verwijsindex.coordination.models import Coordination, CoordinationEvent
from verwijsindex.coordination.service import ActionInput, CoordinationCaller
from verwijsindex.errors import VerwijsindexError
from verwijsindex.http.problems import status_for
from verwijsindex.matches.models import Match, MatchParticipant
from verwijsindex.organisations.models import Role
from verwijsindex.registrations.index import Actor
from verwijsindex.registrations.models import Registration
from verwijsindex.settings import Settings

PHASES = (
    [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    if os.environ.get("VERWIJSINDEX_TEST_NO_SHRINK")
    else list(Phase)
)
# The default covenant: its order, P2D to accept, P10D to close.
ORDER = [
    "youth-protection",
    "veilig-thuis",
    "municipal-team",
    "youth-care",
    "health-care",
    "education",
    "youth-work",
]
RESPOND = timedelta(days=2)
COORDINATE = timedelta(days=10)
SECTORS = ["education", "youth-care", "youth-protection", "police"]
MUNICIPALITY = len(SECTORS)  # the actor index of the municipality-admin
OUTSIDER = len(SECTORS) + 1  # an organisation that takes no part
ACTIONS = [
    "accept",
    "decline",
    "handover",
    "escalate",
    "close",
    "confirm",
    "assign",
    "de-escalate",
    "bogus",
]
FULL_CLOSE = ["risks-covered", "aftercare-arranged", "registering-professionals-told"]
PRO_ACTIONS = {"accept", "decline", "handover", "escalate", "close", "confirm"}
MUNI_ACTIONS = {"assign", "de-escalate", "escalate", "close"}


@dataclass
class Model:
    """The rules as docs/coordination.md states them, written out plainly."""

    parts: dict[int, datetime] = field(default_factory=dict)
    match_open: bool = True
    status: str = "proposed"
    level: int = 1
    coordinator: int | None = None
    handover_from: int | None = None
    declined: set[int] = field(default_factory=set)
    due: datetime | None = None
    coordinate_due: datetime | None = None
    reminded: bool = False
    agreed: bool = False

    def fresh(self, status: str, level: int, coordinator: int | None = None) -> None:
        self.status, self.level, self.coordinator = status, level, coordinator
        self.handover_from, self.due, self.coordinate_due, self.reminded = None, None, None, False
        self.agreed = False

    def close(self) -> None:
        """The coordinator who closed, and whether it was agreed, stay on record."""
        accepted = self.status == "accepted"
        agreed = self.agreed and accepted
        self.fresh("closed", self.level, self.coordinator if accepted else None)
        self.agreed = agreed

    def propose(self, now: datetime, declined: set[int]) -> None:
        eligible = [o for o in self.parts if SECTORS[o] in ORDER and o not in declined]
        eligible.sort(key=lambda o: (ORDER.index(SECTORS[o]), self.parts[o]))
        if eligible:
            self.fresh("proposed", 1, eligible[0])
            self.due = now + RESPOND
        else:
            self.fresh("escalated", 2)
        self.declined = set(declined)

    def escalate(self, level: int) -> None:
        self.fresh("escalated", level)

    def back_to_handover_from(self) -> None:
        self.status, self.coordinator, self.handover_from = "accepted", self.handover_from, None
        self.due = self.coordinate_due
        self.agreed = False

    def act(self, who: int, action: str, reason: object, target: int, now: datetime) -> int:
        """The status of the answer (200 when the model changed)."""
        if action not in PRO_ACTIONS | MUNI_ACTIONS:
            return 404
        if action not in (MUNI_ACTIONS if who == MUNICIPALITY else PRO_ACTIONS):
            return 403
        valid = {
            "decline": reason == "no-capacity",
            "escalate": reason == "no-progress",
            "close": reason == FULL_CLOSE,
        }
        if not valid.get(action, True):
            return 422
        if who not in self.parts and who != MUNICIPALITY:
            return 404
        allowed = {
            ("accept", "proposed", 1): "proposed",
            ("decline", "proposed", 1): "proposed",
            ("handover", "accepted", 1): "coordinator",
            ("escalate", "proposed", 1): "participant",
            ("escalate", "accepted", 1): "participant",
            ("escalate", "escalated", 2): "municipality",
            ("close", "accepted", 1): "coordinator",
            ("confirm", "accepted", 1): "coordinator",
            ("close", "escalated", 2): "municipality",
            ("close", "escalated", 3): "municipality",
            ("assign", "escalated", 2): "municipality",
            ("assign", "escalated", 3): "municipality",
            ("de-escalate", "escalated", 2): "municipality",
            ("de-escalate", "escalated", 3): "municipality",
        }.get((action, self.status, self.level))
        if allowed is None or (action == "confirm" and self.agreed):
            return 409  # once agreed, nothing more to confirm
        kinds = {"municipality"} if who == MUNICIPALITY else {"participant"}
        if who == self.coordinator and self.status == "proposed":
            kinds.add("proposed")
        if who == self.coordinator and self.status == "accepted":
            kinds.add("coordinator")
        if allowed not in kinds:
            return 403
        if action == "accept":
            self.fresh("accepted", 1, who)
            self.declined = set()
            self.due = self.coordinate_due = now + COORDINATE
        elif action == "decline":
            if self.handover_from is not None:
                self.back_to_handover_from()
            else:
                self.propose(now, self.declined | {who})
        elif action == "handover":
            if target == who or target not in self.parts:
                return 422
            self.status, self.handover_from, self.coordinator = "proposed", who, target
            self.due = now + RESPOND
            self.agreed = False
        elif action == "escalate":
            self.escalate(3 if self.status == "escalated" else 2)
            # the declined organisations are kept
        elif action == "close":
            self.close()
        elif action == "confirm":
            # No deadline once agreed; the one as it stood returns with a declined handover.
            self.agreed, self.due, self.reminded = True, None, False
        elif action == "assign":
            if target not in self.parts:
                return 422
            self.fresh("proposed", 1, target)
            self.declined = set()
            self.due = now + RESPOND
        elif action == "de-escalate":
            if self.level == 3:
                self.fresh("escalated", 2)
                self.declined = set()
            else:
                eligible = [o for o in self.parts if SECTORS[o] in ORDER]
                if not eligible:
                    return 409
                self.propose(now, set())
        return 200

    def sweep(self, now: datetime) -> None:
        if self.due is None or self.due > now:
            return
        if self.status == "proposed" or (self.status == "accepted" and self.reminded):
            self.escalate(2)
        elif self.status == "accepted":
            self.reminded = True
            self.due = self.coordinate_due = now + RESPOND

    def withdraw(self, who: int, now: datetime) -> None:
        del self.parts[who]
        if len(self.parts) < 2:
            self.match_open = False
            self.parts.clear()
            if self.status != "closed":
                self.close()
            return
        if self.status in ("proposed", "accepted") and self.coordinator == who:
            if self.handover_from is not None and self.status == "proposed":
                self.back_to_handover_from()
            else:
                self.propose(now, self.declined)
        elif self.handover_from == who:
            self.handover_from = None


def _machine(
    ctx: AppContext,
    actors: list[Actor],
    municipality: str,
    clock: FrozenClock,
    runner: asyncio.Runner,
) -> type:
    organisations = [a.organisation_id for a in actors]

    class CoordinationMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            clock.set(datetime(2026, 1, 5, 12, tzinfo=UTC))
            self.model = Model()
            self.match_id, self.registrations = runner.run(self._start())

        async def _start(self) -> tuple[str, dict[int, str]]:
            async with ctx.database.transaction() as s:
                for table in (
                    OutboxEvent,
                    CoordinationEvent,
                    Coordination,
                    MatchParticipant,
                    Match,
                    Registration,
                ):
                    await s.execute(delete(table))
            registrations: dict[int, str] = {}
            match_id = None
            for n in range(len(SECTORS)):
                clock.advance(timedelta(minutes=1))
                async with ctx.database.transaction() as s:
                    result = await ctx.index.register(
                        s,
                        actor=actors[n],
                        bsn="111222333",
                        birth_date="2012-05-01",
                        municipality=None,
                    )
                registrations[n] = result.registration.id
                match_id = result.match_id or match_id
                self.model.parts[n] = clock.now()
                if n == 1:
                    self.model.propose(clock.now(), set())
            assert match_id is not None
            return match_id, registrations

        @rule(
            who=st.integers(0, MUNICIPALITY),
            action=st.sampled_from(ACTIONS),
            good=st.booleans(),
            whom=st.integers(0, OUTSIDER),
        )
        def act(self, who: int, action: str, good: bool, whom: int) -> None:
            self._act(who, action, good, whom)

        @rule(
            action=st.sampled_from(
                ["accept", "decline", "handover", "escalate", "close", "confirm"]
            ),
            whom=st.integers(0, len(SECTORS) - 1),
        )
        def the_one_in_charge_acts(self, action: str, whom: int) -> None:
            """Most random actions are refused; this one drives the coordination on: the
            proposed organisation or the coordinator acts, or the municipality when it is
            escalated."""
            m = self.model
            if m.status in ("proposed", "accepted") and m.coordinator in m.parts:
                self._act(m.coordinator, action, True, whom)
            else:
                municipal = {"accept": "assign", "decline": "de-escalate", "handover": "assign"}
                self._act(MUNICIPALITY, municipal.get(action, action), True, whom)

        def _act(self, who: int, action: str, good: bool, target: int) -> None:
            reason: object = None
            if action == "decline":
                reason = "no-capacity" if good else "bogus"
            elif action == "escalate":
                reason = "no-progress" if good else "bogus"
            elif action == "close":
                reason = FULL_CLOSE if good else FULL_CLOSE[:1]
            target_id = None
            if action in ("handover", "assign"):
                target_id = organisations[target] if target < len(actors) else "outsider"
            if who == MUNICIPALITY:
                caller = CoordinationCaller(municipality, Role.MUNICIPALITY_ADMIN)
            else:
                caller = CoordinationCaller(
                    organisations[who], Role.PROFESSIONAL, actors[who].professional_id
                )

            async def go() -> int:
                try:
                    await ctx.coordination.act(
                        AccessContext.system(role="test", started_at=clock.now()),
                        caller,
                        self.match_id,
                        action,
                        ActionInput(reason=reason, organisation_id=target_id),  # type: ignore[arg-type]
                    )
                except VerwijsindexError as exc:
                    return status_for(exc)
                return 200

            model_target = target if target < len(actors) else -1
            expected = self.model.act(who, action, reason, model_target, clock.now())
            assert runner.run(go()) == expected

        @rule(hours=st.sampled_from([1, 24, 48, 72, 240, 241]))
        def time_passes_and_sweep(self, hours: int) -> None:
            clock.advance(timedelta(hours=hours))
            runner.run(ctx.coordination.sweep())
            self.model.sweep(clock.now())

        @rule(who=st.integers(0, len(SECTORS) - 1))
        def withdraw(self, who: int) -> None:
            if who not in self.model.parts:
                return

            async def go() -> None:
                async with ctx.database.transaction() as s:
                    await ctx.index.withdraw(
                        s,
                        actor=actors[who],
                        registration_id=self.registrations[who],
                        reason="other",
                    )

            runner.run(go())
            self.model.withdraw(who, clock.now())

        @invariant()
        def stored_state_is_the_models(self) -> None:
            async def read() -> Coordination | None:
                async with ctx.database.read() as s:
                    return await s.get(Coordination, self.match_id)

            row = runner.run(read())
            assert row is not None
            m = self.model
            coordinator = organisations[m.coordinator] if m.coordinator is not None else None
            if m.status == "escalated":
                coordinator = None
            assert (row.status.value, row.level) == (m.status, m.level)
            assert row.coordinator_organisation_id == coordinator
            if m.status in ("proposed", "accepted"):
                assert row.due_at == m.due
            assert (row.agreed_at is not None) == m.agreed

    return CoordinationMachine


@pytest.mark.slow
def test_coordination_behaves_like_the_model(database_url: str, tmp_path: Path) -> None:
    clock = FrozenClock(datetime(2026, 1, 5, 12, tzinfo=UTC))
    with asyncio.Runner() as runner:
        ctx = build_context(Settings(database_url=database_url, data_dir=tmp_path), clock=clock)
        try:

            async def setup() -> tuple[list[Actor], str]:
                actors = []
                async with ctx.database.transaction() as s:
                    made = [
                        await ctx.admin.create_organisation(
                            s, name=f"Organisation {n}", sector=sector, municipality="0363"
                        )
                        for n, sector in enumerate(SECTORS)
                    ]
                    municipality = await ctx.admin.create_organisation(
                        s, name="Gemeente", sector="municipality", municipality="0363"
                    )
                for n, org in enumerate(made):
                    caller = await make_caller(ctx, 800 + n, organisation_id=org.id)
                    actors.append(Actor(caller.organisation_id, caller.professional_id))
                return actors, municipality.id

            actors, municipality = runner.run(setup())
            machine = _machine(ctx, actors, municipality, clock, runner)
            machine.TestCase.settings = settings(
                max_examples=int(os.environ.get("VERWIJSINDEX_TEST_EXAMPLES", "40")),
                stateful_step_count=30,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
                phases=PHASES,
            )
            machine.TestCase().runTest()
        finally:
            runner.run(ctx.database.dispose())

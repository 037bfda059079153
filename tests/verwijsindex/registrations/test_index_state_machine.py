"""A hypothesis state machine of register / withdraw / sweep against a plain model of the
rules, on both databases: the youth's match and, with parents named on registrations, the
family match."""

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
from sqlalchemy import delete, func, select

from notifier import OutboxEvent
from tests.conftest import make_caller
from verwijsindex.clock import AMSTERDAM, FrozenClock
from verwijsindex.context import AppContext, build_context
from verwijsindex.errors import RegistrationNotActive, SubjectTooOld
from verwijsindex.families.models import FamilyMatch, FamilyMatchParticipant
from verwijsindex.matches.models import Match, MatchParticipant
from verwijsindex.registrations.index import Actor, RegistrationRequest
from verwijsindex.registrations.lifecycle import add_years
from verwijsindex.registrations.models import Registration, RegistrationParent
from verwijsindex.registrations.sweep import sweep_once
from verwijsindex.settings import Settings

PHASES = (
    [Phase.explicit, Phase.reuse, Phase.generate, Phase.target]
    if os.environ.get("VERWIJSINDEX_TEST_NO_SHRINK")
    else list(Phase)
)
YOUTHS = ["111222333", "123456782", "999999990"]
PARENTS = ["100000009", "012345672"]
BIRTH = "2015-06-15"
# The youth turns 23 on 2038-06-15; registrations end at the latest at the start of that month
# (Amsterdam time), or on the birthday itself when made within that month.
MONTH_START = datetime(2038, 6, 1, tzinfo=AMSTERDAM)
BIRTHDAY_23 = datetime(2038, 6, 15, tzinfo=AMSTERDAM)


def expected_end(created: datetime) -> datetime:
    age_limit = MONTH_START if MONTH_START > created else BIRTHDAY_23
    return min(add_years(created, 2), age_limit)


@dataclass
class ModelRegistration:
    id: str
    professional: int
    youth: int
    created_at: datetime
    active: bool = True
    parents: frozenset[int] = frozenset()


def family_linked(a: ModelRegistration, b: ModelRegistration) -> bool:
    """The family match's link: a shared parent, different youths, different professionals."""
    return bool(a.parents & b.parents) and a.youth != b.youth and a.professional != b.professional


@dataclass
class Model:
    registrations: list[ModelRegistration] = field(default_factory=list)

    def active(self, youth: int | None = None) -> list[ModelRegistration]:
        return [r for r in self.registrations if r.active and (youth is None or r.youth == youth)]


def _machine(
    ctx: AppContext, actors: list[Actor], clock: FrozenClock, runner: asyncio.Runner
) -> type:
    class IndexMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.model = Model()
            clock.set(datetime(2026, 1, 5, 12, tzinfo=UTC))
            runner.run(self._reset())

        async def _reset(self) -> None:
            async with ctx.database.transaction() as s:
                for table in (
                    OutboxEvent,
                    FamilyMatchParticipant,
                    FamilyMatch,
                    RegistrationParent,
                    MatchParticipant,
                    Match,
                    Registration,
                ):
                    await s.execute(delete(table))

        @rule(
            p=st.integers(0, len(actors) - 1),
            y=st.integers(0, len(YOUTHS) - 1),
            parents=st.frozensets(st.integers(0, len(PARENTS) - 1)),
        )
        def register(self, p: int, y: int, parents: frozenset[int]) -> None:
            async def go() -> tuple[str, bool]:
                request = RegistrationRequest(
                    actors[p], YOUTHS[y], BIRTH, parents=tuple(PARENTS[i] for i in sorted(parents))
                )
                async with ctx.database.transaction() as s:
                    (res,) = await ctx.index.register_many(s, [request])
                    if isinstance(res, Exception):
                        raise res
                    return res.registration.id, res.created

            if clock.now() >= BIRTHDAY_23:
                with pytest.raises(SubjectTooOld):
                    runner.run(go())
                return
            rid, created = runner.run(go())
            existing = [r for r in self.model.active(y) if r.professional == p]
            if existing:
                assert not created and rid == existing[0].id
            else:
                assert created
                self.model.registrations.append(
                    ModelRegistration(rid, p, y, clock.now(), parents=parents)
                )

        @rule(i=st.integers(0, 30))
        def withdraw(self, i: int) -> None:
            if not self.model.registrations:
                return
            reg = self.model.registrations[i % len(self.model.registrations)]

            async def go() -> None:
                async with ctx.database.transaction() as s:
                    await ctx.index.withdraw(
                        s, actor=actors[reg.professional], registration_id=reg.id, reason="other"
                    )

            if reg.active:
                runner.run(go())
                reg.active = False
            else:
                with pytest.raises(RegistrationNotActive):
                    runner.run(go())

        @rule(days=st.sampled_from([1, 90, 400, 730, 731]))
        def time_passes_and_sweep(self, days: int) -> None:
            clock.advance(timedelta(days=days))
            runner.run(sweep_once(ctx))
            for r in self.model.registrations:
                if r.active and expected_end(r.created_at) <= clock.now():
                    r.active = False
            # retention 0: ended registrations are purged
            self.model.registrations = [r for r in self.model.registrations if r.active]

        @invariant()
        def database_agrees_with_model(self) -> None:
            async def read() -> tuple[set[str], dict[str, set[str]], list[str]]:
                async with ctx.database.transaction() as s:
                    active = set(
                        (
                            await s.execute(
                                select(Registration.id).where(Registration.status == "active")
                            )
                        ).scalars()
                    )
                    rows = await s.execute(
                        select(Match.id, MatchParticipant.registration_id)
                        .join(MatchParticipant, MatchParticipant.match_id == Match.id)
                        .where(Match.status == "open", MatchParticipant.left_at.is_(None))
                    )
                    open_matches: dict[str, set[str]] = {}
                    for mid, rid in rows.all():
                        open_matches.setdefault(mid, set()).add(rid)
                    all_open = list(
                        (await s.execute(select(Match.id).where(Match.status == "open"))).scalars()
                    )
                return active, open_matches, all_open

            active, open_matches, all_open = runner.run(read())
            assert active == {r.id for r in self.model.active()}
            assert set(all_open) == set(open_matches)  # no open match without participants
            expected = [
                {r.id for r in self.model.active(y)}
                for y in range(len(YOUTHS))
                if len(self.model.active(y)) >= 2
            ]
            assert sorted(map(sorted, open_matches.values())) == sorted(map(sorted, expected))

        @invariant()
        def family_matches_agree_with_the_links(self) -> None:
            async def read() -> tuple[dict[str, set[str]], list[str], int]:
                async with ctx.database.transaction() as s:
                    rows = await s.execute(
                        select(FamilyMatch.id, FamilyMatchParticipant.registration_id)
                        .join(
                            FamilyMatchParticipant,
                            FamilyMatchParticipant.family_match_id == FamilyMatch.id,
                        )
                        .where(
                            FamilyMatch.status == "open", FamilyMatchParticipant.left_at.is_(None)
                        )
                    )
                    families: dict[str, set[str]] = {}
                    for fid, rid in rows.all():
                        families.setdefault(fid, set()).add(rid)
                    all_open = list(
                        (
                            await s.execute(
                                select(FamilyMatch.id).where(FamilyMatch.status == "open")
                            )
                        ).scalars()
                    )
                    links = (
                        await s.execute(select(func.count()).select_from(RegistrationParent))
                    ).scalar_one()
                return families, all_open, int(links)

            families, all_open, links = runner.run(read())
            active = {r.id: r for r in self.model.active()}
            # Links live exactly as long as their registration.
            assert links == sum(len(r.parents) for r in active.values())
            assert set(all_open) == set(families)
            family_of: dict[str, str] = {}
            for fid, members in families.items():
                assert len(members) >= 2
                for rid in members:
                    assert rid in active, "an ended registration takes part in a family match"
                    assert rid not in family_of, "a registration in two family matches"
                    family_of[rid] = fid
                    # Every participant is linked to another participant of its family match.
                    assert any(family_linked(active[rid], active[o]) for o in members if o != rid)
            # Every linked pair is in one family match.
            for a in active.values():
                for b in active.values():
                    if a.id < b.id and family_linked(a, b):
                        assert family_of.get(a.id) is not None
                        assert family_of.get(a.id) == family_of.get(b.id)

    return IndexMachine


@pytest.mark.slow
def test_index_behaves_like_the_model(database_url: str, tmp_path: Path) -> None:
    clock = FrozenClock(datetime(2026, 1, 5, 12, tzinfo=UTC))
    with asyncio.Runner() as runner:
        ctx = build_context(Settings(database_url=database_url, data_dir=tmp_path), clock=clock)
        try:
            first = runner.run(make_caller(ctx, 0))
            callers = [first] + [runner.run(make_caller(ctx, n)) for n in (1, 2)]
            callers.append(runner.run(make_caller(ctx, 3, organisation_id=first.organisation_id)))
            actors = [Actor(c.organisation_id, c.professional_id) for c in callers]
            machine = _machine(ctx, actors, clock, runner)
            machine.TestCase.settings = settings(
                max_examples=int(os.environ.get("VERWIJSINDEX_TEST_EXAMPLES", "30")),
                stateful_step_count=25,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
                phases=PHASES,
            )
            machine.TestCase().runTest()
        finally:
            runner.run(ctx.database.dispose())

"""Deadlines in the sweep: no acceptance in time → level 2; not closed in time → a reminder
to the coordinator, then level 2. Exactly once: a second sweep, several sweepers at the same
moment, and a sweep that fails half-way change nothing twice and miss nothing."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from notifier._outbox import OutboxEvent
from tests.verwijsindex.coordination.helpers import World, make_fast_world
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext, build_context
from verwijsindex.coordination import service as coordination_service
from verwijsindex.coordination.models import Coordination, CoordinationEvent
from verwijsindex.settings import Settings


@pytest.fixture
async def world(ctx: AppContext, client: httpx.AsyncClient) -> World:
    return await make_fast_world(ctx, client)


async def _count(ctx: AppContext, model: type[object], *where: object) -> int:
    async with ctx.database.read() as session:
        statement = select(func.count()).select_from(model)  # type: ignore[arg-type]
        for condition in where:
            statement = statement.where(condition)  # type: ignore[arg-type]
        return int((await session.execute(statement)).scalar_one())


async def _actions(ctx: AppContext, match_id: str) -> list[str]:
    async with ctx.database.read() as session:
        rows = await session.execute(
            select(CoordinationEvent.action)
            .where(CoordinationEvent.match_id == match_id)
            .order_by(CoordinationEvent.at, CoordinationEvent.id)
        )
        return list(rows.scalars())


class TestDeadlines:
    async def test_no_acceptance_escalates_once(
        self, world: World, ctx: AppContext, clock: FrozenClock
    ) -> None:
        match_id, _ = await world.register(world.bsn(), "care", "protect")
        assert match_id is not None
        clock.advance(timedelta(seconds=1))
        assert await ctx.coordination.sweep() == 0
        clock.advance(timedelta(seconds=1))  # exactly at the deadline
        assert await ctx.coordination.sweep() == 1
        state = await world.coordination("M", match_id)
        assert (state["status"], state["level"], state["coordinator"]) == ("escalated", 2, None)
        assert await ctx.coordination.sweep() == 0
        clock.advance(timedelta(days=30))
        assert await ctx.coordination.sweep() == 0
        assert await _actions(ctx, match_id) == ["start", "respond-deadline"]
        escalated = await _count(
            ctx,
            OutboxEvent,
            OutboxEvent.match_id == match_id,
            OutboxEvent.event_type == "coordination.escalated",
        )
        assert escalated == 3  # both participants and the municipality

    async def test_reminder_then_escalation(
        self, world: World, ctx: AppContext, clock: FrozenClock
    ) -> None:
        match_id, regs = await world.register(world.bsn(), "care", "protect")
        assert match_id is not None
        r = await world.act("protect", match_id, "accept")
        assert r.status_code == 200
        clock.advance(timedelta(seconds=10))
        assert await ctx.coordination.sweep() == 1
        state = await world.coordination("care", match_id)
        assert state["status"] == "accepted"  # reminded, two more seconds of grace
        assert await ctx.coordination.sweep() == 0
        async with ctx.database.read() as session:
            reminders = (
                await session.execute(
                    select(OutboxEvent.organisation_id).where(
                        OutboxEvent.match_id == match_id,
                        OutboxEvent.event_type == "coordination.reminder",
                    )
                )
            ).all()
        assert reminders == [(world.orgs["protect"].id,)]
        clock.advance(timedelta(seconds=2))
        assert await ctx.coordination.sweep() == 1
        state = await world.coordination("care", match_id)
        assert (state["status"], state["level"]) == ("escalated", 2)
        assert await _actions(ctx, match_id) == [
            "start",
            "accept",
            "remind",
            "coordinate-deadline",
        ]
        # Accepting again after the municipality assigns starts a fresh deadline.
        r = await world.act("M", match_id, "assign", {"organisation_id": world.orgs["care"].id})
        r = await world.act("care", match_id, "accept")
        assert r.json()["coordinator"]["registration_id"] == regs["care"]

    async def test_a_sweep_that_fails_half_way_changes_nothing(
        self, world: World, ctx: AppContext, clock: FrozenClock, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        match_id, _ = await world.register(world.bsn(), "care", "protect")
        assert match_id is not None
        clock.advance(timedelta(seconds=3))

        async def crash(*_args: object, **_kwargs: object) -> list[str]:
            raise RuntimeError("the process dies here")

        monkeypatch.setattr(coordination_service, "enqueue_many", crash)
        with pytest.raises(RuntimeError):
            await ctx.coordination.sweep()
        monkeypatch.undo()
        assert (await world.coordination("M", match_id))["status"] == "proposed"
        assert await _actions(ctx, match_id) == ["start"]
        assert await ctx.coordination.sweep() == 1
        assert await _actions(ctx, match_id) == ["start", "respond-deadline"]


class TestSeveralSweepers:
    async def test_each_deadline_is_acted_on_exactly_once(
        self, world: World, ctx: AppContext, clock: FrozenClock, database_url: str, tmp_path: Path
    ) -> None:
        matches = []
        for _ in range(12):
            match_id, _ = await world.register(world.bsn(), "care", "protect")
            assert match_id is not None
            matches.append(match_id)
        clock.advance(timedelta(seconds=5))
        others = [
            build_context(
                Settings(database_url=database_url, data_dir=tmp_path, run_sweeper=False),
                clock=clock,
            )
            for _ in range(3)
        ]
        try:
            done = await asyncio.gather(
                ctx.coordination.sweep(), *(o.coordination.sweep() for o in others)
            )
        finally:
            for other in others:
                await other.database.dispose()
        assert sum(done) == len(matches)
        for match_id in matches:
            assert await _actions(ctx, match_id) == ["start", "respond-deadline"]
        assert await _count(
            ctx, Coordination, Coordination.status == "escalated", Coordination.version == 2
        ) == len(matches)

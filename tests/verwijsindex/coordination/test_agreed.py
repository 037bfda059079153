"""Confirmed as agreed: the accepted coordinator confirms that the professionals agreed who
does what. The status stays ``accepted``, ``agreed_at`` is shown and the coordination deadline
no longer reminds nor escalates; a handover, a new acceptance or an escalation clears it."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from notifier._outbox import OutboxEvent
from tests.conftest import make_caller, registration_body
from tests.verwijsindex.coordination.helpers import CLOSE, World, make_fast_world
from verwijsindex.accesslog._models import AccessLogRecord
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.coordination import repository as repo
from verwijsindex.coordination.state import CoordinationStatus
from verwijsindex.registrations.index import JoinedMatch


@pytest.fixture
async def world(ctx: AppContext, client: httpx.AsyncClient) -> World:
    return await make_fast_world(ctx, client)


async def _events(ctx: AppContext, match_id: str, event_type: str) -> list[tuple[str, object]]:
    async with ctx.database.read() as session:
        rows = await session.execute(
            select(OutboxEvent.organisation_id, OutboxEvent.payload)
            .where(OutboxEvent.match_id == match_id, OutboxEvent.event_type == event_type)
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
        )
        return [(o, json.loads(p)["data"]) for o, p in rows]


async def _history(world: World, match_id: str) -> list[dict[str, object]]:
    r = await world.client.get(
        f"/v1/matches/{match_id}/coordination/history", headers=world.orgs["care"].headers
    )
    assert r.status_code == 200
    items: list[dict[str, object]] = r.json()["items"]
    return items


class TestConfirm:
    async def test_only_the_accepted_coordinator_confirms(
        self, world: World, ctx: AppContext, clock: FrozenClock
    ) -> None:
        match_id, regs = await world.register(world.bsn(), "care", "protect", "school")
        assert match_id is not None
        # While proposed there is nothing to confirm, not even for the proposed one.
        r = await world.act("protect", match_id, "confirm")
        assert r.status_code == 409, r.text
        assert r.json()["type"].endswith("/coordination-transition-not-allowed")
        assert (await world.act("protect", match_id, "accept")).status_code == 200
        # Another participant may not; the municipality's role never confirms; an outsider
        # does not see the match; confirm takes no body.
        r = await world.act("care", match_id, "confirm")
        assert r.status_code == 403 and r.headers["content-type"] == "application/problem+json"
        assert r.json()["type"].endswith("/coordination-actor-not-allowed")
        r = await world.act("M", match_id, "confirm")
        assert r.status_code == 403
        assert r.json()["type"].endswith("/coordination-actor-not-allowed")
        r = await world.act("protect", match_id, "confirm", {"reason": "no-capacity"})
        assert r.status_code == 422
        r = await world.act("protect", "no-such-match", "confirm")
        assert r.status_code == 404

        clock.advance(timedelta(seconds=3))
        r = await world.act("protect", match_id, "confirm")
        assert r.status_code == 200, r.text
        body = r.json()
        assert (body["status"], body["level"], body["due_at"]) == ("accepted", 1, None)
        assert body["agreed_at"] is not None
        assert body["coordinator"]["registration_id"] == regs["protect"]
        r = await world.act("protect", match_id, "confirm")
        assert r.status_code == 409  # once agreed, there is nothing more to confirm
        assert "agreed" in r.json()["detail"]

        # Every participant sees it on the match, with the history and the access log.
        r = await world.client.get(f"/v1/matches/{match_id}", headers=world.orgs["school"].headers)
        assert r.json()["coordination"]["agreed_at"] == body["agreed_at"]
        assert r.json()["coordination"]["status"] == "accepted"
        items = await _history(world, match_id)
        assert [i["action"] for i in items] == ["start", "accept", "confirm"]
        assert items[-1]["status"] == "accepted"
        assert items[-1]["actor"] == {
            "role": "professional",
            "organisation_id": world.orgs["protect"].id,
        }
        async with ctx.database.read() as session:
            acts = (
                await session.execute(
                    select(AccessLogRecord.reason, AccessLogRecord.status).where(
                        AccessLogRecord.operation == "coordination.act",
                        AccessLogRecord.subject_ref == match_id,
                    )
                )
            ).all()
        assert ("confirm", "success") in acts
        # coordination.confirmed to every participant, each with its own registration.
        confirmed = await _events(ctx, match_id, "coordination.confirmed")
        assert sorted(confirmed, key=str) == sorted(
            [
                (world.orgs[n].id, {"match_id": match_id, "registration_id": regs[n]})
                for n in ("care", "protect", "school")
            ],
            key=str,
        )
        # The coordinator closes when done; the agreement stays on record.
        r = await world.act("protect", match_id, "close", CLOSE)
        assert r.status_code == 200
        assert r.json()["status"] == "closed" and r.json()["agreed_at"] == body["agreed_at"]


class TestDeadlineOnceAgreed:
    async def test_no_reminder_nor_escalation_once_agreed(
        self, world: World, ctx: AppContext, clock: FrozenClock
    ) -> None:
        match_id, _ = await world.register(world.bsn(), "care", "protect")
        assert match_id is not None
        await world.act("protect", match_id, "accept")
        clock.advance(timedelta(seconds=10))
        assert await ctx.coordination.sweep() == 1  # reminded
        assert (await world.act("protect", match_id, "confirm")).status_code == 200
        clock.advance(timedelta(days=400))
        assert await ctx.coordination.sweep() == 0
        state = await world.coordination("care", match_id)
        assert (state["status"], state["due_at"]) == ("accepted", None)
        assert [i["action"] for i in await _history(world, match_id)] == [
            "start",
            "accept",
            "remind",
            "confirm",
        ]

    async def test_handover_clears_the_agreement(
        self, world: World, ctx: AppContext, clock: FrozenClock
    ) -> None:
        match_id, regs = await world.register(world.bsn(), "care", "protect", "school")
        assert match_id is not None
        await world.act("protect", match_id, "accept")
        assert (await world.act("protect", match_id, "confirm")).status_code == 200
        clock.advance(timedelta(seconds=30))
        r = await world.act(
            "protect", match_id, "handover", {"organisation_id": world.orgs["care"].id}
        )
        assert r.status_code == 200 and r.json()["agreed_at"] is None
        # Declined: back with the one who handed over, no longer agreed, under the
        # coordination deadline as it stood (passed): the sweep reminds, then escalates.
        r = await world.act("care", match_id, "decline", {"reason": "no-capacity"})
        assert r.json()["status"] == "accepted" and r.json()["agreed_at"] is None
        assert r.json()["coordinator"]["registration_id"] == regs["protect"]
        assert await ctx.coordination.sweep() == 1
        assert len(await _events(ctx, match_id, "coordination.reminder")) == 1
        # Confirmed again, and accepted anew after a handover: a new acceptance is not agreed.
        assert (await world.act("protect", match_id, "confirm")).status_code == 200
        await world.act("protect", match_id, "handover", {"organisation_id": world.orgs["care"].id})
        r = await world.act("care", match_id, "accept")
        assert r.json()["agreed_at"] is None and r.json()["due_at"] is not None
        # An escalation clears it too.
        assert (await world.act("care", match_id, "confirm")).status_code == 200
        r = await world.act("school", match_id, "escalate", {"reason": "no-progress"})
        assert (r.json()["status"], r.json()["agreed_at"]) == ("escalated", None)
        r = await world.act("M", match_id, "confirm")
        assert r.status_code == 403


class TestJoinerIsTold:
    """A registration joining an open match gets the coordination event of its state, in the
    join's transaction; the earlier participants hear nothing new about coordination."""

    async def _join(self, world: World, bsn: str) -> str:
        _, regs = await world.register(bsn, "school")
        return regs["school"]

    @pytest.mark.parametrize(
        ("steps", "expected"),
        [
            ([], "coordination.proposed"),
            ([("protect", "accept", None)], "coordination.accepted"),
            ([("protect", "accept", None), ("protect", "confirm", None)], "coordination.confirmed"),
            ([("care", "escalate", {"reason": "no-progress"})], "coordination.escalated"),
            ([("protect", "accept", None), ("protect", "close", CLOSE)], "coordination.closed"),
        ],
    )
    async def test_the_event_of_the_current_state(
        self,
        world: World,
        ctx: AppContext,
        steps: list[tuple[str, str, dict[str, object] | None]],
        expected: str,
    ) -> None:
        bsn = world.bsn()
        match_id, _ = await world.register(bsn, "care", "protect")
        assert match_id is not None
        for who, action, body in steps:
            assert (await world.act(who, match_id, action, body)).status_code == 200
        before = await _events(ctx, match_id, expected)
        joined = await self._join(world, bsn)
        after = await _events(ctx, match_id, expected)
        told = (world.orgs["school"].id, {"match_id": match_id, "registration_id": joined})
        assert sorted(after, key=str) == sorted([*before, told], key=str)
        # The join changes the coordination in nothing.
        assert [i["action"] for i in await _history(world, match_id)] == [
            "start",
            *(a for _w, a, _b in steps),
        ]

    async def test_one_call_per_write_and_none_without_a_join(
        self, world: World, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        hooks = ctx.index.hooks
        assert hooks is not None
        calls: list[list[str]] = []
        real = hooks.matches_joined

        async def spy(session: object, joined: list[JoinedMatch]) -> list[object]:
            calls.append([j.match_id for j in joined])
            return list(await real(session, joined))  # type: ignore[arg-type]

        monkeypatch.setattr(hooks, "matches_joined", spy)
        youth_a, youth_b, youth_c = world.bsn(), world.bsn(), world.bsn()
        match_a, _ = await world.register(youth_a, "care", "protect")
        match_b, _ = await world.register(youth_b, "care", "protect")
        assert calls == []  # a first registration and an opening join nothing
        school = world.orgs["school"].caller
        colleagues = [
            await make_caller(ctx, 950 + n, organisation_id=school.organisation_id)
            for n in range(2)
        ]
        items = [
            registration_body(youth_a),
            # A colleague's registration: the organisation already takes part, told once.
            {**registration_body(youth_a), "professional_id": colleagues[0].professional_id},
            registration_body(youth_b),
            # Youth C's match opens and is joined again in the same write: told as it opens.
            registration_body(youth_c),
            {**registration_body(youth_c), "professional_id": colleagues[0].professional_id},
            {**registration_body(youth_c), "professional_id": colleagues[1].professional_id},
        ]
        r = await world.client.post(
            "/v1/registrations:batch", json={"items": items}, headers=school.headers
        )
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [x["status"] for x in results] == [201] * 6
        assert calls == [[match_a, match_a, match_b]]
        match_c = results[5]["registration"]["match_id"]
        assert match_c is not None and results[4]["registration"]["match_id"] == match_c
        proposed = await _events(ctx, match_c, "coordination.proposed")
        first_c = results[3]["registration"]["id"]
        assert proposed == [
            (school.organisation_id, {"match_id": match_c, "registration_id": first_c})
        ]
        for match_id, result in ((match_a, results[0]), (match_b, results[2])):
            told = [
                e
                for e in await _events(ctx, match_id, "coordination.proposed")
                if e[0] == school.organisation_id
            ]
            mine = result["registration"]["id"]
            assert told == [
                (school.organisation_id, {"match_id": match_id, "registration_id": mine})
            ]

    async def test_a_join_waits_for_an_action_in_progress(
        self, world: World, ctx: AppContext, backend: str
    ) -> None:
        """An action holding the coordination row: the join waits for it and tells the
        joiner the state it left (on SQLite the one writer orders them anyway)."""
        if backend != "postgresql":
            pytest.skip("row locks are PostgreSQL's; SQLite has one writer")
        bsn = world.bsn()
        match_id, _ = await world.register(bsn, "care", "protect")
        assert match_id is not None
        async with ctx.database.transaction() as session:
            row = await repo.lock(session, match_id)
            assert row is not None and row.status is CoordinationStatus.PROPOSED
            join = asyncio.create_task(world.register(bsn, "school"))
            await asyncio.sleep(0.5)
            assert not join.done()
            values = {"status": CoordinationStatus.ACCEPTED}
            assert await repo.update_if_version(session, match_id, row.version, values)
        _, regs = await join
        told = [
            e
            for e in await _events(ctx, match_id, "coordination.accepted")
            if e[0] == world.orgs["school"].id
        ]
        assert told == [
            (world.orgs["school"].id, {"match_id": match_id, "registration_id": regs["school"]})
        ]

"""Coordination through the API: the proposal by the covenant's order, every action, who may
take it, the history, the webhooks and the access log."""

from __future__ import annotations

import json
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from notifier._outbox import OutboxEvent
from tests.verwijsindex.coordination.helpers import CLOSE, World, make_world
from verwijsindex.accesslog._models import AccessLogRecord
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext

SECTORS = {
    "care": "youth-care",
    "protect": "youth-protection",
    "school": "education",
    "police": "police",
    "police2": "police",
}


@pytest.fixture
async def world(ctx: AppContext, client: httpx.AsyncClient) -> World:
    return await make_world(ctx, client, SECTORS)


async def _events(world: World, match_id: str) -> list[tuple[str, str, dict[str, str]]]:
    async with world.ctx.database.read() as session:
        rows = await session.execute(
            select(OutboxEvent.event_type, OutboxEvent.organisation_id, OutboxEvent.payload)
            .where(OutboxEvent.match_id == match_id, OutboxEvent.event_type.like("coordination.%"))
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
        )
        return [(t, o, json.loads(p)["data"]) for t, o, p in rows]


class TestProposal:
    async def test_covenant_order_then_earliest_registration(self, world: World) -> None:
        match_id, regs = await world.register(world.bsn(), "school", "care", "protect")
        assert match_id is not None
        # Opened by school + care: youth-care comes before education in the default covenant.
        state = await world.coordination("care", match_id)
        assert state["status"] == "proposed" and state["level"] == 1
        assert state["coordinator"] == {
            "organisation_id": world.orgs["care"].id,
            "registration_id": regs["care"],
        }
        assert state["due_at"] is not None
        events = await _events(world, match_id)
        # protect joined later: told of the proposal as it stands, which it does not change.
        assert sorted((t, o) for t, o, _ in events) == sorted(
            [
                ("coordination.proposed", world.orgs["school"].id),
                ("coordination.proposed", world.orgs["care"].id),
                ("coordination.proposed", world.orgs["protect"].id),
            ]
        )
        for _t, organisation, data in events:
            mine = next(k for k, v in world.orgs.items() if v.id == organisation)
            assert data == {"match_id": match_id, "registration_id": regs[mine]}
        r = await world.client.get(f"/v1/matches/{match_id}", headers=world.orgs["school"].headers)
        assert r.json()["coordination"]["coordinator"]["organisation_id"] == world.orgs["care"].id

    async def test_nobody_eligible_goes_to_the_municipality(self, world: World) -> None:
        match_id, regs = await world.register(world.bsn(), "police", "police2")
        assert match_id is not None
        state = await world.coordination("M", match_id)
        assert (state["status"], state["level"], state["coordinator"]) == ("escalated", 2, None)
        events = await _events(world, match_id)
        assert ("coordination.escalated", world.municipality_id, {"match_id": match_id}) in events
        assert (
            "coordination.escalated",
            world.orgs["police"].id,
            {"match_id": match_id, "registration_id": regs["police"]},
        ) in events

    async def test_covenant_version_is_kept(self, world: World, clock: FrozenClock) -> None:
        body = {
            "coordinator_sectors": ["education", "youth-care"],
            "respond_within": "PT2S",
            "coordinate_within": "PT10S",
        }
        r = await world.client.put(
            "/v1/municipalities/0363/covenant", json=body, headers=world.municipality_headers
        )
        assert r.status_code == 200
        match_id, _ = await world.register(world.bsn(), "care", "school")
        assert match_id is not None
        state = await world.coordination("care", match_id)
        assert state["coordinator"]["organisation_id"] == world.orgs["school"].id
        due = (clock.now() + timedelta(seconds=2)).strftime("%Y-%m-%dT%H:%M:%S")
        assert state["due_at"].startswith(due)
        # A later covenant does not change this match's terms: the decline still proposes by
        # the first version's order.
        body2 = {**body, "coordinator_sectors": ["police"], "respond_within": "P2D"}
        r = await world.client.put(
            "/v1/municipalities/0363/covenant", json=body2, headers=world.municipality_headers
        )
        assert r.status_code == 200
        r = await world.act("school", match_id, "decline", {"reason": "no-capacity"})
        assert r.status_code == 200, r.text
        assert r.json()["coordinator"]["organisation_id"] == world.orgs["care"].id, (
            r.json(),
            {k: v.id for k, v in world.orgs.items()},
        )
        assert r.json()["due_at"].startswith(due)


class TestActions:
    async def test_accept_handover_close_and_history(self, world: World) -> None:
        match_id, regs = await world.register(world.bsn(), "care", "protect", "school")
        assert match_id is not None
        assert (await world.coordination("care", match_id))["coordinator"][
            "organisation_id"
        ] == world.orgs["protect"].id
        # Only the proposed organisation accepts.
        r = await world.act("care", match_id, "accept")
        assert r.status_code == 403, r.text
        assert r.json()["type"].endswith("/coordination-actor-not-allowed")
        r = await world.act("protect", match_id, "accept")
        assert r.status_code == 200 and r.json()["status"] == "accepted"
        r = await world.act("protect", match_id, "accept")
        assert r.status_code == 409
        assert r.json()["type"].endswith("/coordination-transition-not-allowed")
        r = await world.act("protect", match_id, "handover", {"organisation_id": "nobody"})
        assert r.status_code == 422
        r = await world.act(
            "protect", match_id, "handover", {"organisation_id": world.orgs["school"].id}
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "proposed"
        assert r.json()["coordinator"]["registration_id"] == regs["school"]
        r = await world.act("school", match_id, "decline", {"reason": "no-capacity"})
        assert r.status_code == 200 and r.json()["status"] == "accepted"
        assert r.json()["coordinator"]["organisation_id"] == world.orgs["protect"].id
        r = await world.act(
            "protect", match_id, "handover", {"organisation_id": world.orgs["care"].id}
        )
        r = await world.act("care", match_id, "accept")
        assert r.json()["coordinator"]["organisation_id"] == world.orgs["care"].id
        r = await world.act("care", match_id, "close", {"reason": ["risks-covered"]})
        assert r.status_code == 422
        assert "aftercare-arranged" in r.json()["detail"]
        r = await world.act("school", match_id, "close", CLOSE)
        assert r.status_code == 403
        r = await world.act("care", match_id, "close", CLOSE)
        assert r.status_code == 200 and r.json()["status"] == "closed"
        for action in ("accept", "escalate", "close"):
            r = await world.act("care", match_id, action, {"reason": "no-progress"})
            assert r.status_code in (409, 422)
        r = await world.client.get(
            f"/v1/matches/{match_id}/coordination/history", headers=world.orgs["school"].headers
        )
        assert r.status_code == 200
        items = r.json()["items"]
        assert [i["action"] for i in items] == [
            "start",
            "accept",
            "handover",
            "decline",
            "handover",
            "accept",
            "close",
        ]
        assert items[0]["actor"] == {"role": "system", "organisation_id": None}
        assert items[1]["actor"] == {
            "role": "professional",
            "organisation_id": world.orgs["protect"].id,
        }
        assert items[-1]["reason"] == (
            "risks-covered,aftercare-arranged,registering-professionals-told"
        )
        types = [t for t, _o, _d in await _events(world, match_id)]
        for expected in (
            "coordination.proposed",
            "coordination.accepted",
            "coordination.handed_over",
            "coordination.declined",
            "coordination.closed",
        ):
            assert expected in types
        async with world.ctx.database.read() as session:
            acts = (
                await session.execute(
                    select(AccessLogRecord.reason).where(
                        AccessLogRecord.operation == "coordination.act",
                        AccessLogRecord.subject_ref == match_id,
                        AccessLogRecord.status == "success",
                    )
                )
            ).scalars()
            assert sorted(acts) == sorted(
                ["accept", "handover", "decline", "handover", "accept", "close"]
            )

    async def test_decline_passes_on_then_municipality(self, world: World) -> None:
        match_id, _ = await world.register(world.bsn(), "care", "protect", "police")
        assert match_id is not None
        r = await world.act("protect", match_id, "decline", {"reason": "no-capacity"})
        assert r.json()["coordinator"]["organisation_id"] == world.orgs["care"].id
        r = await world.act("care", match_id, "decline", {"reason": "wrong"})
        assert r.status_code == 422
        r = await world.act("care", match_id, "decline", {"reason": "outside-mandate"})
        # police is not in the default covenant: nobody eligible is left.
        assert r.json()["status"] == "escalated" and r.json()["level"] == 2
        assert r.json()["coordinator"] is None
        r = await world.act("care", match_id, "assign", {"organisation_id": world.orgs["care"].id})
        assert r.status_code == 403
        r = await world.act("M", match_id, "escalate", {"reason": "beyond-mandate"})
        assert r.json()["level"] == 3
        r = await world.act("M", match_id, "escalate", {"reason": "beyond-mandate"})
        assert r.status_code == 409
        r = await world.act("M", match_id, "de-escalate")
        assert (r.json()["status"], r.json()["level"]) == ("escalated", 2)
        r = await world.act("M", match_id, "assign", {"organisation_id": world.orgs["police"].id})
        assert r.status_code == 200, r.text
        assert r.json()["coordinator"]["organisation_id"] == world.orgs["police"].id
        r = await world.act("police", match_id, "accept")
        assert r.json()["status"] == "accepted"
        r = await world.act("care", match_id, "escalate", {"reason": "safety-concern"})
        assert (r.json()["status"], r.json()["level"]) == ("escalated", 2)
        r = await world.act("M", match_id, "de-escalate")
        assert r.json()["status"] == "proposed"
        assert r.json()["coordinator"]["organisation_id"] == world.orgs["protect"].id
        r = await world.act("M", match_id, "accept")
        assert r.status_code == 403

    async def test_outsiders_and_bad_input(self, world: World, ctx: AppContext) -> None:
        match_id, _ = await world.register(world.bsn(), "care", "protect")
        assert match_id is not None
        r = await world.act("school", match_id, "escalate", {"reason": "no-progress"})
        assert r.status_code == 404
        r = await world.act("care", match_id, "frobnicate")
        assert r.status_code == 404 and r.headers["content-type"] == "application/problem+json"
        r = await world.act("care", "no-such-match", "accept")
        assert r.status_code == 404
        r = await world.act("care", match_id, "escalate", {"reason": "no-progress", "x": 1})
        assert r.status_code == 422
        r = await world.act("care", match_id, "escalate", {"reason": "x" * 500})
        assert r.status_code == 422
        r = await world.act("care", match_id, "escalate", {"reason": ["a", "b"]})
        assert r.status_code == 422
        r = await world.act("protect", match_id, "accept", {"reason": "no-capacity"})
        assert r.status_code == 422
        r = await world.client.post(
            f"/v1/matches/{match_id}/coordination/accept",
            content=b"[]",
            headers={**world.orgs["protect"].headers, "Content-Type": "application/json"},
        )
        assert r.status_code == 422
        # Another municipality's admin neither reads nor acts.
        async with ctx.database.transaction() as session:
            other = await ctx.admin.create_organisation(
                session, name="Elders", sector="municipality", municipality="0599"
            )
            key = await ctx.admin.create_api_key(
                session, organisation_id=other.id, role="municipality-admin"
            )
        headers = {"Authorization": f"Bearer {key.key}"}
        r = await world.client.get(f"/v1/matches/{match_id}/coordination", headers=headers)
        assert r.status_code == 404
        r = await world.client.post(
            f"/v1/matches/{match_id}/coordination/de-escalate", headers=headers
        )
        assert r.status_code == 404
        r = await world.client.get("/v1/municipalities/0363/coordinations", headers=headers)
        assert r.status_code == 403
        r = await world.client.get(
            "/v1/municipalities/0363/coordinations?status=all", headers=world.municipality_headers
        )
        assert [i["match_id"] for i in r.json()["items"]] == [match_id]


class TestParticipantsComeAndGo:
    async def test_coordinator_leaving_and_match_closing(self, world: World) -> None:
        match_id, regs = await world.register(world.bsn(), "care", "protect", "school")
        assert match_id is not None
        await world.act("protect", match_id, "accept")
        r = await world.client.post(
            f"/v1/registrations/{regs['protect']}/withdraw",
            json={"reason": "risk_resolved"},
            headers=world.orgs["protect"].headers,
        )
        assert r.status_code == 200
        state = await world.coordination("care", match_id)
        assert state["status"] == "proposed"
        assert state["coordinator"]["organisation_id"] == world.orgs["care"].id
        r = await world.client.post(
            f"/v1/registrations/{regs['school']}/withdraw",
            json={"reason": "risk_resolved"},
            headers=world.orgs["school"].headers,
        )
        state = await world.coordination("care", match_id)
        assert state["status"] == "closed"
        r = await world.client.get(
            f"/v1/matches/{match_id}/coordination/history", headers=world.orgs["care"].headers
        )
        assert [i["action"] for i in r.json()["items"]][-2:] == [
            "coordinator-left",
            "match-closed",
        ]
        types = [(t, o) for t, o, _ in await _events(world, match_id)]
        assert ("coordination.closed", world.orgs["care"].id) in types

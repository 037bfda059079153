"""The registration and match user story through the API, on both databases."""

from __future__ import annotations

from datetime import timedelta

import httpx
from sqlalchemy import func, select

from notifier import OutboxEvent
from tests.conftest import Caller, registration_body
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.matches.models import Match, MatchParticipant
from verwijsindex.registrations.models import Registration
from verwijsindex.registrations.sweep import sweep_once

PROBLEM = "https://verwijsindex.nl/problems/"


async def _count(ctx: AppContext, model: type) -> int:
    async with ctx.database.transaction() as session:
        return int((await session.execute(select(func.count()).select_from(model))).scalar_one())


async def _events(ctx: AppContext) -> list[tuple[str, str]]:
    """The match and registration events (coordination's are tested in
    tests/verwijsindex/coordination)."""
    async with ctx.database.transaction() as session:
        rows = await session.execute(
            select(OutboxEvent.event_type, OutboxEvent.organisation_id)
            .where(OutboxEvent.event_type.not_like("coordination.%"))
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
        )
        return [(t, o) for t, o in rows.all()]


class TestRegister:
    async def test_new_registration_is_201_with_expiry(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        r = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[0].headers
        )
        assert r.status_code == 201, r.text
        body = r.json()
        assert body["status"] == "active"
        assert body["match_id"] is None
        assert body["created_at"].startswith("2026-03-02T09:30")
        # Two years after creation comes before the 23rd birthday of a youth born in 2012.
        assert body["expires_at"].startswith("2028-03-02T09:30")
        assert r.headers["location"] == f"/v1/registrations/{body['id']}"

    async def test_same_professional_again_is_200_same_registration(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        first = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[0].headers
        )
        again = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[0].headers
        )
        assert (first.status_code, again.status_code) == (201, 200)
        assert again.json()["id"] == first.json()["id"]
        assert await _count(ctx, Registration) == 1
        assert await _count(ctx, Match) == 0

    async def test_expiry_at_age_limit_is_rounded_to_month_start(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        # Born 2004-07-19: turns 23 on 2027-07-19, before created + 2 years (2028-03-02).
        r = await client.post(
            "/v1/registrations",
            json=registration_body(birth_date="2004-07-19"),
            headers=callers[0].headers,
        )
        assert r.status_code == 201
        # Midnight 1 July 2027 in Amsterdam (CEST, UTC+2): the birth day is not disclosed.
        assert r.json()["expires_at"] == "2027-06-30T22:00:00Z"

    async def test_municipality_defaults_to_organisation_and_can_be_given(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        r = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[0].headers
        )
        assert r.json()["municipality"] == "0363"
        r = await client.post(
            "/v1/registrations",
            json={**registration_body("123456782"), "municipality": "0599"},
            headers=callers[0].headers,
        )
        assert r.json()["municipality"] == "0599"


class TestMatch:
    async def test_second_professional_makes_one_match_for_both(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        a = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[0].headers
        )
        b = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[1].headers
        )
        match_id = b.json()["match_id"]
        assert match_id is not None
        again = await client.get(f"/v1/registrations/{a.json()['id']}", headers=callers[0].headers)
        assert again.json()["match_id"] == match_id
        assert sorted(await _events(ctx)) == sorted(
            [
                ("match.created", callers[0].organisation_id),
                ("match.created", callers[1].organisation_id),
            ]
        )

    async def test_third_professional_joins_the_same_match(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        ids = []
        for caller in callers:
            r = await client.post(
                "/v1/registrations", json=registration_body(), headers=caller.headers
            )
            ids.append(r.json()["match_id"])
        assert ids[0] is None and ids[1] == ids[2]
        assert await _count(ctx, Match) == 1
        assert await _count(ctx, MatchParticipant) == 3
        joined = [e for e in await _events(ctx) if e[0] == "match.participant_joined"]
        assert sorted(o for _, o in joined) == sorted(c.organisation_id for c in callers)

    async def test_match_shows_contact_details_and_nothing_about_the_youth(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        await client.post("/v1/registrations", json=registration_body(), headers=callers[0].headers)
        b = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[1].headers
        )
        r = await client.get(f"/v1/matches/{b.json()['match_id']}", headers=callers[0].headers)
        assert r.status_code == 200
        match = r.json()
        assert set(match) == {
            "id",
            "status",
            "created_at",
            "closed_at",
            "participants",
            "coordination",
            "scope",
        }
        assert match["scope"] == "regional"
        assert {p["region"] for p in match["participants"]} == {None}
        emails = sorted(p["professional"]["email"] for p in match["participants"])
        assert emails == ["pro0@org.example", "pro1@org.example"]
        assert {p["organisation"]["sector"] for p in match["participants"]} == {
            "youth-care",
            "education",
        }
        text = r.text
        for forbidden in ("111222333", "2012-05-01", "p1.", "pseudonym"):
            assert forbidden not in text

    async def test_different_youths_do_not_match(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        await client.post(
            "/v1/registrations", json=registration_body("111222333"), headers=callers[0].headers
        )
        r = await client.post(
            "/v1/registrations", json=registration_body("123456782"), headers=callers[1].headers
        )
        assert r.json()["match_id"] is None

    async def test_other_organisation_cannot_read_the_match(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        await client.post("/v1/registrations", json=registration_body(), headers=callers[0].headers)
        b = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[1].headers
        )
        r = await client.get(f"/v1/matches/{b.json()['match_id']}", headers=callers[2].headers)
        assert r.status_code == 404
        assert r.json()["type"] == PROBLEM + "not-found"
        listed = await client.get("/v1/matches", headers=callers[2].headers)
        assert listed.json()["items"] == []


class TestWithdraw:
    async def test_withdraw_closes_a_two_party_match_and_never_matches_again(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        a = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[0].headers
        )
        b = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[1].headers
        )
        match_id = b.json()["match_id"]
        w = await client.post(
            f"/v1/registrations/{a.json()['id']}/withdraw",
            json={"reason": "risk_resolved"},
            headers=callers[0].headers,
        )
        assert w.status_code == 200
        assert w.json()["status"] == "withdrawn"
        assert w.json()["end_reason"] == "risk_resolved"
        m = await client.get(f"/v1/matches/{match_id}", headers=callers[1].headers)
        assert m.json()["status"] == "closed"
        assert (await client.get("/v1/matches", headers=callers[1].headers)).json()["items"] == []
        closed = await client.get("/v1/matches?status=closed", headers=callers[1].headers)
        assert [x["id"] for x in closed.json()["items"]] == [match_id]
        # The withdrawn registration does not match a newcomer; the remaining one does.
        c = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[2].headers
        )
        new_match = c.json()["match_id"]
        assert new_match is not None and new_match != match_id
        m2 = await client.get(f"/v1/matches/{new_match}", headers=callers[2].headers)
        regs = {p["registration_id"] for p in m2.json()["participants"]}
        assert regs == {b.json()["id"], c.json()["id"]}
        types = [t for t, _ in await _events(ctx)]
        assert "match.participant_left" in types and "match.closed" in types
        assert "registration.ended" in types

    async def test_withdraw_from_three_party_match_keeps_it_open(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        regs = [
            (
                await client.post("/v1/registrations", json=registration_body(), headers=c.headers)
            ).json()
            for c in callers
        ]
        await client.post(
            f"/v1/registrations/{regs[2]['id']}/withdraw",
            json={"reason": "other"},
            headers=callers[2].headers,
        )
        m = await client.get(f"/v1/matches/{regs[2]['match_id']}", headers=callers[0].headers)
        assert m.json()["status"] == "open"
        active = [p for p in m.json()["participants"] if p["left_at"] is None]
        assert len(active) == 2

    async def test_withdraw_twice_is_409_and_changes_nothing(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        a = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[0].headers
        )
        url = f"/v1/registrations/{a.json()['id']}/withdraw"
        await client.post(url, json={"reason": "unjustified"}, headers=callers[0].headers)
        r = await client.post(url, json={"reason": "other"}, headers=callers[0].headers)
        assert r.status_code == 409
        assert r.json()["type"] == PROBLEM + "registration-not-active"
        got = await client.get(f"/v1/registrations/{a.json()['id']}", headers=callers[0].headers)
        assert got.json()["end_reason"] == "unjustified"

    async def test_withdraw_other_organisations_registration_is_404(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        a = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[0].headers
        )
        r = await client.post(
            f"/v1/registrations/{a.json()['id']}/withdraw",
            json={"reason": "other"},
            headers=callers[1].headers,
        )
        assert r.status_code == 404

    async def test_withdraw_with_unknown_reason_is_422(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        a = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[0].headers
        )
        r = await client.post(
            f"/v1/registrations/{a.json()['id']}/withdraw",
            json={"reason": "bored"},
            headers=callers[0].headers,
        )
        assert r.status_code == 422


class TestListing:
    async def test_lists_only_own_organisation_with_cursor(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        from tests.conftest import make_bsn

        for i in range(5):
            await client.post(
                "/v1/registrations", json=registration_body(make_bsn(i)), headers=callers[0].headers
            )
        await client.post(
            "/v1/registrations", json=registration_body(make_bsn(99)), headers=callers[1].headers
        )
        seen: list[str] = []
        url = "/v1/registrations?limit=2"
        while True:
            page = (await client.get(url, headers=callers[0].headers)).json()
            seen += [item["id"] for item in page["items"]]
            assert all(i["organisation_id"] == callers[0].organisation_id for i in page["items"])
            if page["next_cursor"] is None:
                break
            url = f"/v1/registrations?limit=2&cursor={page['next_cursor']}"
        assert len(seen) == len(set(seen)) == 5

    async def test_bad_cursor_is_422(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        r = await client.get("/v1/registrations?cursor=!!!", headers=callers[0].headers)
        assert r.status_code == 422


class TestLifecycle:
    async def test_sweep_ends_due_registrations_closes_match_and_purges(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, clock: FrozenClock
    ) -> None:
        a = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[0].headers
        )
        clock.advance(timedelta(days=30))
        b = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[1].headers
        )
        assert b.json()["match_id"] is not None
        clock.advance(timedelta(days=2 * 365 - 29))  # past a's two-year term, not b's
        result = await sweep_once(ctx)
        assert result.ended == 1
        assert result.purged_registrations == 1  # retention 0 days: purged at once
        assert await _count(ctx, Registration) == 1
        got = await client.get(f"/v1/registrations/{a.json()['id']}", headers=callers[0].headers)
        assert got.status_code == 404
        # The match closed (one participant left) and, with zero retention, was purged.
        assert await _count(ctx, Match) == 0
        b_now = await client.get(f"/v1/registrations/{b.json()['id']}", headers=callers[1].headers)
        assert b_now.json()["status"] == "active" and b_now.json()["match_id"] is None

    async def test_retention_keeps_ended_registrations_until_due(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, clock: FrozenClock
    ) -> None:
        ctx.settings.retention_days = 30
        a = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[0].headers
        )
        await client.post(
            f"/v1/registrations/{a.json()['id']}/withdraw",
            json={"reason": "other"},
            headers=callers[0].headers,
        )
        assert (await sweep_once(ctx)).purged_registrations == 0
        clock.advance(timedelta(days=31))
        assert (await sweep_once(ctx)).purged_registrations == 1

"""The duty to inform, renewable terms, the sweeper's reminders and earlier involvement,
through the API and the sweep, on both databases. The inform deadline and earlier
involvement come from the municipality's covenant (``PUT /v1/municipalities/{code}/covenant``)."""

from __future__ import annotations

import asyncio
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from notifier import OutboxEvent
from tests.conftest import Caller, make_bsn, make_caller
from tests.verwijsindex.helpers import privacy_officer_headers
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.registrations.models import (
    EarlierInvolvement,
    RegistrationInforming,
    RegistrationReminder,
)
from verwijsindex.registrations.sweep import sweep_once

PROBLEM = "https://verwijsindex.nl/problems/"
YOUTH = make_bsn(700)
BIRTH = "2014-04-04"


async def register(
    client: httpx.AsyncClient, caller: Caller, youth: str = YOUTH, **extra: Any
) -> dict[str, Any]:
    r = await client.post(
        "/v1/registrations",
        json={"bsn": youth, "birth_date": BIRTH, **extra},
        headers=caller.headers,
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def events_of(ctx: AppContext, kind: str) -> list[tuple[str, dict[str, Any]]]:
    async with ctx.database.transaction() as s:
        rows = await s.execute(
            select(OutboxEvent.organisation_id, OutboxEvent.payload)
            .where(OutboxEvent.event_type == kind)
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
        )
        return [(o, json.loads(p)["data"]) for o, p in rows.all()]


async def count(ctx: AppContext, model: type) -> int:
    async with ctx.database.transaction() as s:
        return int((await s.execute(select(func.count()).select_from(model))).scalar_one())


async def set_covenant(
    ctx: AppContext, client: httpx.AsyncClient, code: str = "0363", **terms: Any
) -> None:
    async with ctx.database.transaction() as session:
        org = await ctx.admin.create_organisation(
            session, name=f"Gemeente {code}", sector="municipality", municipality=code
        )
        key = await ctx.admin.create_api_key(
            session, organisation_id=org.id, role="municipality-admin"
        )
    body = {
        "coordinator_sectors": ["youth-care", "education"],
        "respond_within": "P2D",
        "coordinate_within": "P10D",
        **terms,
    }
    r = await client.put(
        f"/v1/municipalities/{code}/covenant",
        json=body,
        headers={"Authorization": f"Bearer {key.key}"},
    )
    assert r.status_code == 200, r.text


@pytest.fixture
async def pros(ctx: AppContext) -> list[Caller]:
    return [await make_caller(ctx, n) for n in range(3)]


class TestInforming:
    async def test_informed_and_postponed_records_are_the_registrations_state(
        self, client: httpx.AsyncClient, pros: list[Caller], clock: FrozenClock
    ) -> None:
        reg = await register(client, pros[0])
        url = f"/v1/registrations/{reg['id']}/informing"
        empty = await client.get(url, headers=pros[0].headers)
        assert empty.json() == {"current": None, "records": []}
        postponed = await client.post(
            url,
            json={"status": "postponed", "reason": "safety_youth", "revisit_on": "2026-04-01"},
            headers=pros[0].headers,
        )
        assert postponed.status_code == 201, postponed.text
        assert postponed.json()["reason"] == "safety_youth"
        informed = await client.post(
            url,
            json={
                "status": "informed",
                "informed": ["youth", "parents"],
                "informed_on": "2026-03-02",
            },
            headers=pros[0].headers,
        )
        assert informed.status_code == 201, informed.text
        state = (await client.get(url, headers=pros[0].headers)).json()
        assert [r["status"] for r in state["records"]] == ["postponed", "informed"]
        assert state["current"]["informed"] == ["youth", "parents"]
        assert state["current"]["informed_on"] == "2026-03-02"
        assert state["current"]["professional_id"] == pros[0].professional_id

    @pytest.mark.parametrize(
        "body",
        [
            {"status": "informed", "informed": [], "informed_on": "2026-03-01"},
            {"status": "informed", "informed": ["youth"], "informed_on": "2026-03-09"},
            {"status": "informed", "informed": ["youth"]},
            {"status": "postponed", "revisit_on": "2026-04-01"},
            {"status": "postponed", "reason": "safety_youth", "revisit_on": "2026-03-01"},
            {"status": "postponed", "reason": "safety_youth", "revisit_on": "2031-01-01"},
            {"status": "postponed", "reason": "because", "revisit_on": "2026-04-01"},
            {"status": "maybe"},
        ],
    )
    async def test_incomplete_or_impossible_records_are_422(
        self, client: httpx.AsyncClient, pros: list[Caller], body: dict[str, Any]
    ) -> None:
        reg = await register(client, pros[0])
        r = await client.post(
            f"/v1/registrations/{reg['id']}/informing", json=body, headers=pros[0].headers
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")

    async def test_only_the_registering_organisation_and_only_while_active(
        self, client: httpx.AsyncClient, pros: list[Caller]
    ) -> None:
        reg = await register(client, pros[0])
        url = f"/v1/registrations/{reg['id']}/informing"
        body = {"status": "informed", "informed": ["youth"], "informed_on": "2026-03-01"}
        assert (await client.post(url, json=body, headers=pros[1].headers)).status_code == 404
        assert (await client.get(url, headers=pros[1].headers)).status_code == 404
        await client.post(
            f"/v1/registrations/{reg['id']}/withdraw",
            json={"reason": "other"},
            headers=pros[0].headers,
        )
        assert (await client.post(url, json=body, headers=pros[0].headers)).status_code == 409


class TestInformDue:
    async def test_a_registration_without_a_record_is_due_after_fourteen_days_once(
        self, client: httpx.AsyncClient, pros: list[Caller], ctx: AppContext, clock: FrozenClock
    ) -> None:
        quiet = await register(client, pros[0])
        informed = await register(client, pros[1], make_bsn(701))
        await client.post(
            f"/v1/registrations/{informed['id']}/informing",
            json={"status": "informed", "informed": ["parents"], "informed_on": "2026-03-02"},
            headers=pros[1].headers,
        )
        clock.advance(timedelta(days=13))
        await sweep_once(ctx)
        assert await events_of(ctx, "registration.inform_due") == []
        clock.advance(timedelta(days=1, minutes=1))
        await sweep_once(ctx)
        await sweep_once(ctx)  # again: nothing more
        assert await events_of(ctx, "registration.inform_due") == [
            (pros[0].organisation_id, {"registration_id": quiet["id"]})
        ]

    async def test_the_covenant_sets_the_deadline(
        self, client: httpx.AsyncClient, pros: list[Caller], ctx: AppContext, clock: FrozenClock
    ) -> None:
        await set_covenant(ctx, client, inform_within="P3D")
        reg = await register(client, pros[0])
        clock.advance(timedelta(days=3, minutes=1))
        await sweep_once(ctx)
        assert [d for _, d in await events_of(ctx, "registration.inform_due")] == [
            {"registration_id": reg["id"]}
        ]

    async def test_a_postponement_reminds_on_its_day_to_look_again(
        self, client: httpx.AsyncClient, pros: list[Caller], ctx: AppContext, clock: FrozenClock
    ) -> None:
        reg = await register(client, pros[0])
        await client.post(
            f"/v1/registrations/{reg['id']}/informing",
            json={"status": "postponed", "reason": "safety_others", "revisit_on": "2026-05-01"},
            headers=pros[0].headers,
        )
        clock.advance(timedelta(days=30))
        await sweep_once(ctx)
        assert await events_of(ctx, "registration.inform_due") == []
        clock.advance(timedelta(days=31))  # 2 May
        await sweep_once(ctx)
        await sweep_once(ctx)
        assert len(await events_of(ctx, "registration.inform_due")) == 1

    async def test_concurrent_sweepers_send_each_reminder_once(
        self, client: httpx.AsyncClient, pros: list[Caller], ctx: AppContext, clock: FrozenClock
    ) -> None:
        for n in range(12):
            await register(client, pros[n % 3], make_bsn(800 + n))
        clock.advance(timedelta(days=15))
        await asyncio.gather(*(ctx.registrations.send_reminders() for _ in range(4)))
        assert len(await events_of(ctx, "registration.inform_due")) == 12
        assert await count(ctx, RegistrationReminder) == 12


class TestTerms:
    async def test_a_chosen_term_and_its_limits(
        self, client: httpx.AsyncClient, pros: list[Caller]
    ) -> None:
        reg = await register(client, pros[0], term="P6M")
        # The same local time (10:30 in Amsterdam) six months on, in summer time.
        assert reg["expires_at"].startswith("2026-09-02T08:30")
        for bad in ("P3Y", "P25M", "P0D", "1Y", "PT5H", "P"):
            r = await client.post(
                "/v1/registrations",
                json={"bsn": make_bsn(702), "birth_date": BIRTH, "term": bad},
                headers=pros[0].headers,
            )
            assert r.status_code == 422, bad
        near_23 = await client.post(
            "/v1/registrations",
            json={"bsn": make_bsn(703), "birth_date": "2003-09-15", "term": "P1Y"},
            headers=pros[0].headers,
        )
        # The 23rd birthday (15 September 2026) comes first: the month's first day.
        assert near_23.json()["expires_at"].startswith("2026-08-31T22:00")

    async def test_renewal_gives_a_new_term_from_now_with_the_same_limits(
        self, client: httpx.AsyncClient, pros: list[Caller], clock: FrozenClock
    ) -> None:
        reg = await register(client, pros[0], term="P3M")
        clock.advance(timedelta(days=80))
        url = f"/v1/registrations/{reg['id']}/renew"
        r = await client.post(
            url, json={"bsn": YOUTH, "birth_date": BIRTH, "term": "P1Y"}, headers=pros[0].headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["expires_at"].startswith("2027-05-21")
        assert r.json()["id"] == reg["id"]
        longest = await client.post(
            url, json={"bsn": YOUTH, "birth_date": BIRTH}, headers=pros[0].headers
        )
        assert longest.json()["expires_at"].startswith("2028-05-21")
        wrong = await client.post(
            url, json={"bsn": make_bsn(704), "birth_date": BIRTH}, headers=pros[0].headers
        )
        assert wrong.status_code == 422
        assert make_bsn(704) not in wrong.text
        too_long = await client.post(
            url, json={"bsn": YOUTH, "birth_date": BIRTH, "term": "P30M"}, headers=pros[0].headers
        )
        assert too_long.status_code == 422
        other = await client.post(
            url, json={"bsn": YOUTH, "birth_date": BIRTH}, headers=pros[1].headers
        )
        assert other.status_code == 404

    async def test_an_ended_registration_cannot_be_renewed(
        self, client: httpx.AsyncClient, pros: list[Caller], ctx: AppContext, clock: FrozenClock
    ) -> None:
        reg = await register(client, pros[0], term="P1M")
        clock.advance(timedelta(days=32))
        r = await client.post(
            f"/v1/registrations/{reg['id']}/renew",
            json={"bsn": YOUTH, "birth_date": BIRTH},
            headers=pros[0].headers,
        )
        assert r.status_code == 409

    async def test_expiring_is_sent_thirty_days_before_the_end_once_per_end(
        self, client: httpx.AsyncClient, pros: list[Caller], ctx: AppContext, clock: FrozenClock
    ) -> None:
        reg = await register(client, pros[0], term="P2M")
        clock.advance(timedelta(days=20))
        await sweep_once(ctx)
        assert await events_of(ctx, "registration.expiring") == []
        clock.advance(timedelta(days=15))
        await sweep_once(ctx)
        await sweep_once(ctx)
        assert await events_of(ctx, "registration.expiring") == [
            (pros[0].organisation_id, {"registration_id": reg["id"]})
        ]
        await client.post(
            f"/v1/registrations/{reg['id']}/renew",
            json={"bsn": YOUTH, "birth_date": BIRTH, "term": "P2M"},
            headers=pros[0].headers,
        )
        clock.advance(timedelta(days=35))
        await sweep_once(ctx)
        assert len(await events_of(ctx, "registration.expiring")) == 2


class TestEarlierInvolvement:
    async def test_off_by_default_nothing_is_kept(
        self, client: httpx.AsyncClient, pros: list[Caller], ctx: AppContext
    ) -> None:
        reg = await register(client, pros[0])
        await client.post(
            f"/v1/registrations/{reg['id']}/withdraw",
            json={"reason": "risk_resolved"},
            headers=pros[0].headers,
        )
        later = await register(client, pros[1])
        r = await client.get(
            f"/v1/registrations/{later['id']}/earlier-involvement", headers=pros[1].headers
        )
        assert r.json() == {"items": []}
        assert await count(ctx, EarlierInvolvement) == 0

    async def test_switched_on_a_new_registration_learns_of_it_until_the_retention_ends(
        self, client: httpx.AsyncClient, pros: list[Caller], ctx: AppContext, clock: FrozenClock
    ) -> None:
        await set_covenant(ctx, client, earlier_involvement={"enabled": True, "retention": "P1Y"})
        first = await register(client, pros[0])
        unjustified = await register(client, pros[2])
        await client.post(
            f"/v1/registrations/{unjustified['id']}/withdraw",
            json={"reason": "unjustified"},
            headers=pros[2].headers,
        )
        clock.advance(timedelta(days=10))
        await client.post(
            f"/v1/registrations/{first['id']}/withdraw",
            json={"reason": "risk_resolved"},
            headers=pros[0].headers,
        )
        clock.advance(timedelta(days=100))
        later = await register(client, pros[1])
        r = await client.get(
            f"/v1/registrations/{later['id']}/earlier-involvement", headers=pros[1].headers
        )
        assert r.status_code == 200
        items = r.json()["items"]
        assert [i["organisation"]["id"] for i in items] == [pros[0].organisation_id]
        assert items[0]["professional"]["email"] == "pro0@org.example"
        assert items[0]["ended_at"].startswith("2026-03-12")
        assert YOUTH not in r.text
        assert await events_of(ctx, "registration.earlier_involvement") == [
            (pros[1].organisation_id, {"registration_id": later["id"]})
        ]
        other = await client.get(
            f"/v1/registrations/{later['id']}/earlier-involvement", headers=pros[0].headers
        )
        assert other.status_code == 404
        clock.advance(timedelta(days=366))
        await sweep_once(ctx)
        assert await count(ctx, EarlierInvolvement) == 0

    async def test_an_erasure_removes_the_kept_involvement(
        self, client: httpx.AsyncClient, pros: list[Caller], ctx: AppContext
    ) -> None:
        await set_covenant(ctx, client, earlier_involvement={"enabled": True, "retention": "P1Y"})
        reg = await register(client, pros[0])
        await client.post(
            f"/v1/registrations/{reg['id']}/withdraw",
            json={"reason": "other"},
            headers=pros[0].headers,
        )
        assert await count(ctx, EarlierInvolvement) == 1
        r = await client.post(
            "/v1/subject-erasure",
            json={"bsn": YOUTH, "reason": "data-subject-request", "request_reference": "AVG-1"},
            headers=await privacy_officer_headers(ctx),
        )
        assert r.status_code == 200, r.text
        assert await count(ctx, EarlierInvolvement) == 0


class TestStatisticsCanCount:
    async def test_informing_records_carry_their_time(
        self, client: httpx.AsyncClient, pros: list[Caller], ctx: AppContext
    ) -> None:
        reg = await register(client, pros[0])
        await client.post(
            f"/v1/registrations/{reg['id']}/informing",
            json={"status": "postponed", "reason": "unreachable", "revisit_on": "2026-03-20"},
            headers=pros[0].headers,
        )
        async with ctx.database.transaction() as s:
            rows = (
                await s.execute(
                    select(RegistrationInforming.status, RegistrationInforming.recorded_at)
                )
            ).all()
        assert [(str(st), at.isoformat()[:10]) for st, at in rows] == [("postponed", "2026-03-02")]

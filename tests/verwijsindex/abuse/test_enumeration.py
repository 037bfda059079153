"""Enumeration defence: rate limits on registrations (429 + Retry-After) and anomaly flags."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Caller, make_bsn, make_caller, registration_body
from tests.verwijsindex.helpers import privacy_officer_headers, records
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.errors import InvalidInput, NotFound
from verwijsindex.settings import Settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        run_sweeper=False,
        auto_migrate=False,
        rate_limit_professional_per_minute=2,
        rate_limit_professional_per_day=5,
        rate_limit_organisation_per_minute=3,
        anomaly_volume_minimum=3,
        anomaly_volume_factor=5.0,
        anomaly_withdraw_minutes=30,
    )


async def _batch(client: httpx.AsyncClient, caller: Caller, numbers: list[int]) -> Any:
    items = [{"bsn": make_bsn(n), "birth_date": "2012-05-01"} for n in numbers]
    r = await client.post("/v1/registrations:batch", json={"items": items}, headers=caller.headers)
    assert r.status_code == 200, r.text
    return r.json()


async def _register(client: httpx.AsyncClient, caller: Caller, n: int) -> httpx.Response:
    return await client.post(
        "/v1/registrations", json=registration_body(make_bsn(n)), headers=caller.headers
    )


class TestRateLimits:
    async def test_professional_at_the_limit_cannot_register_through_a_batch(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        # Issue 14, finding 3: after 429s on single registrations the same professional
        # registered 2,000 youths in two batch calls and learned each one's match status.
        planted = make_bsn(40)
        assert (await _register(client, callers[1], 40)).status_code == 201
        assert [(await _register(client, callers[0], n)).status_code for n in (1, 2, 3)] == [
            201,
            201,
            429,
        ]
        r = await _batch(client, callers[0], [40, 41, 42])
        assert [x["status"] for x in r["results"]] == [429, 429, 429]
        for result in r["results"]:
            assert result["registration"] is None
            assert result["problem"]["type"].endswith("/rate-limited")
        assert (r["created"], r["existing"], r["failed"]) == (0, 0, 3)
        assert "match" not in json.dumps(r) and planted not in json.dumps(r)
        # Nothing was registered: the planted youth has no match, the refused items no records.
        listed = await client.get("/v1/registrations", headers=callers[0].headers)
        assert len(listed.json()["items"]) == 2
        matches = await client.get("/v1/matches", headers=callers[1].headers)
        assert matches.json()["items"] == []

    async def test_batch_answers_no_more_items_per_window_than_single_registrations(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        ctx: AppContext,
        clock: FrozenClock,
    ) -> None:
        # Per minute: the professional's limit (2); per day: 5. Planted youths among the
        # items: a refused item says nothing about them.
        planted = {7, 12, 19}
        for n in planted:
            assert (await _register(client, callers[1], n)).status_code == 201
            clock.advance(timedelta(minutes=1))
        answered: list[list[int]] = []
        for minute in range(4):
            numbers = list(range(minute * 5 + 5, minute * 5 + 10))
            r = await _batch(client, callers[0], numbers)
            statuses = [x["status"] for x in r["results"]]
            answered.append([n for n, s in zip(numbers, statuses, strict=True) if s == 201])
            for result in r["results"]:
                if result["status"] == 429:
                    assert result["registration"] is None
                    assert set(result["problem"]) == {"type", "status", "detail"}
            clock.advance(timedelta(minutes=1))
        assert [len(a) for a in answered] == [2, 2, 1, 0]
        assert sum(len(a) for a in answered) == ctx.settings.rate_limit_professional_per_day
        # The professional's single registrations share the same windows.
        assert (await _register(client, callers[0], 99)).status_code == 429
        # Another organisation's professional is not affected.
        assert [x["status"] for x in (await _batch(client, callers[2], [1, 2, 3]))["results"]] == [
            201,
            201,
            429,
        ]

    async def test_batch_items_count_against_the_organisations_per_minute_limit(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        # Naming colleagues in the items does not multiply the organisation's limit (3).
        colleague = await make_caller(ctx, 7, organisation_id=callers[0].organisation_id)
        items = [
            {"bsn": make_bsn(n), "birth_date": "2012-05-01", "professional_id": pro}
            for n, pro in enumerate(
                [callers[0].professional_id, colleague.professional_id] * 3, start=1
            )
        ]
        r = await client.post(
            "/v1/registrations:batch", json={"items": items}, headers=callers[0].headers
        )
        assert [x["status"] for x in r.json()["results"]] == [201, 201, 201, 429, 429, 429]

    async def test_bulk_import_grant_replaces_the_limits_for_batch_items(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        ctx: AppContext,
        clock: FrozenClock,
    ) -> None:
        async with ctx.database.transaction() as session:
            grant = await ctx.abuse.grant_bulk_import(
                session, organisation_id=callers[0].organisation_id, items=6, days=1
            )
        # Not held to the professional's per-minute (2) or per-day (5) limits, but to the
        # grant (6 items); an invalid item does not use it up.
        assert [x["status"] for x in (await _batch(client, callers[0], [0]))["results"]] == [201]
        r = await client.post(
            "/v1/registrations:batch",
            json={"items": [{"bsn": "123456789", "birth_date": "2012-05-01"}]},
            headers=callers[0].headers,
        )
        assert [x["status"] for x in r.json()["results"]] == [422]
        r = await _batch(client, callers[0], [1, 2, 3, 4, 5, 6])
        assert [x["status"] for x in r["results"]] == [201] * 5 + [429]
        assert r["results"][5]["problem"]["detail"] == "the bulk-import grant is used up"
        async with ctx.database.read() as session:
            assert await ctx.abuse.bulk_grant_used(session, grant) == 6
        # Single registrations keep their own limits; another organisation has no grant.
        assert (await _register(client, callers[0], 8)).status_code == 201
        statuses = [x["status"] for x in (await _batch(client, callers[1], [9, 10, 11]))["results"]]
        assert statuses == [201, 201, 429]
        # An expired or revoked grant no longer applies: the limits of single registrations do.
        async with ctx.database.transaction() as session:
            other = await ctx.abuse.grant_bulk_import(
                session, organisation_id=callers[1].organisation_id, items=100, days=1
            )
            await ctx.abuse.revoke_bulk_import(session, grant_id=other.id)
        clock.advance(timedelta(days=1, minutes=1))
        assert [
            x["status"] for x in (await _batch(client, callers[0], [20, 21, 22]))["results"]
        ] == [
            201,
            201,
            429,
        ]
        assert [
            x["status"] for x in (await _batch(client, callers[1], [23, 24, 25]))["results"]
        ] == [
            201,
            201,
            429,
        ]

    async def test_bulk_import_grant_is_capped_by_the_organisations_daily_ceiling(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        ctx.settings.rate_limit_organisation_batch_per_day = 3
        async with ctx.database.transaction() as session:
            await ctx.abuse.grant_bulk_import(
                session, organisation_id=callers[0].organisation_id, items=100, days=7
            )
        statuses = [
            x["status"] for x in (await _batch(client, callers[0], [1, 2, 3, 4]))["results"]
        ]
        assert statuses == [201, 201, 201, 429]

    async def test_grant_is_refused_for_bad_values(
        self, ctx: AppContext, callers: list[Caller]
    ) -> None:
        async with ctx.database.transaction() as session:
            for items, days in ((0, 1), (10, 0), (10, 31)):
                with pytest.raises(InvalidInput):
                    await ctx.abuse.grant_bulk_import(
                        session, organisation_id=callers[0].organisation_id, items=items, days=days
                    )
            with pytest.raises(NotFound):
                await ctx.abuse.grant_bulk_import(
                    session, organisation_id="no-such-organisation", items=1, days=1
                )

    async def test_professional_per_minute_limit_is_429_with_retry_after(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        ctx: AppContext,
        clock: FrozenClock,
    ) -> None:
        clock.advance(timedelta(seconds=15))  # 09:30:15
        assert [(await _register(client, callers[0], n)).status_code for n in (1, 2)] == [201, 201]
        limited = await _register(client, callers[0], 3)
        assert limited.status_code == 429
        assert limited.headers["retry-after"] == "45"
        assert limited.json()["type"].endswith("/rate-limited")
        # another professional is not affected
        assert (await _register(client, callers[1], 3)).status_code == 201
        # the refused attempt is in the access log as denied, and did not count
        denied = [r for r in await records(ctx, "registration.create") if r.status == "denied"]
        assert [(r.professional_id, r.subject_pseudonym) for r in denied] == [
            (callers[0].professional_id, None)
        ]
        clock.advance(timedelta(seconds=45))
        assert (await _register(client, callers[0], 3)).status_code == 201

    async def test_professional_per_day_limit(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        clock: FrozenClock,
    ) -> None:
        statuses = []
        for n in range(6):
            statuses.append((await _register(client, callers[0], n)).status_code)
            clock.advance(timedelta(minutes=1))
        assert statuses == [201] * 5 + [429]
        clock.set(clock.now().replace(hour=23, minute=59, second=30))
        r = await _register(client, callers[0], 7)
        assert r.status_code == 429
        assert r.headers["retry-after"] == "30"

    async def test_organisation_per_minute_limit_spans_its_professionals(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        colleague = await make_caller(ctx, 7, organisation_id=callers[0].organisation_id)
        results = [
            (await _register(client, callers[0], 1)).status_code,
            (await _register(client, callers[0], 2)).status_code,
            (await _register(client, colleague, 3)).status_code,
            (await _register(client, colleague, 4)).status_code,
        ]
        assert results == [201, 201, 201, 429]

    async def test_zero_disables_a_limit(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        ctx.settings.rate_limit_professional_per_minute = 0
        ctx.settings.rate_limit_organisation_per_minute = 0
        statuses = {(await _register(client, callers[0], n)).status_code for n in range(4)}
        assert statuses == {201}


class TestAnomalies:
    async def test_volume_far_above_the_organisation_norm_is_flagged_once(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        ctx: AppContext,
        clock: FrozenClock,
    ) -> None:
        statuses = []
        for n in range(5):
            statuses.append((await _register(client, callers[0], n)).status_code)
            clock.advance(timedelta(minutes=1))
        assert statuses == [201] * 5
        officer = await privacy_officer_headers(ctx)
        r = await client.get("/v1/audit/anomalies", headers=officer)
        assert r.status_code == 200
        [flag] = r.json()["items"]
        assert flag["rule"] == "registration-volume"
        assert flag["professional_id"] == callers[0].professional_id
        assert flag["observed"] == 4.0 and flag["threshold"] == 3.0
        assert flag["window_start"] == "2026-03-02T09:00:00Z"
        # the organisation's own auditor sees it, another organisation's does not
        own = await client.get("/v1/audit/anomalies", headers=callers[0].auditor_headers)
        assert [f["id"] for f in own.json()["items"]] == [flag["id"]]
        other = await client.get("/v1/audit/anomalies", headers=callers[1].auditor_headers)
        assert other.json()["items"] == []

    async def test_volume_within_a_busy_organisation_norm_is_not_flagged(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        ctx: AppContext,
        clock: FrozenClock,
    ) -> None:
        colleague = await make_caller(ctx, 8, organisation_id=callers[0].organisation_id)
        ctx.settings.anomaly_volume_factor = 1.0
        ctx.settings.rate_limit_professional_per_day = 0
        ctx.settings.rate_limit_organisation_per_minute = 0
        # a colleague's busy hour yesterday sets the organisation's norm at 5
        clock.advance(timedelta(days=-1))
        for n in range(100, 105):
            assert (await _register(client, colleague, n)).status_code == 201
            clock.advance(timedelta(minutes=1))
        clock.advance(timedelta(days=1))
        for n in range(5):
            assert (await _register(client, callers[0], n)).status_code == 201
            clock.advance(timedelta(minutes=1))
        officer = await privacy_officer_headers(ctx)
        r = await client.get("/v1/audit/anomalies", headers=officer)
        # the colleague's own first busy hour had no norm yet and was flagged; 5 is the norm now
        flagged = [f["professional_id"] for f in r.json()["items"]]
        assert flagged == [colleague.professional_id]

    async def test_withdrawal_soon_after_a_match_is_flagged(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        ctx: AppContext,
        clock: FrozenClock,
    ) -> None:
        body = registration_body("111222333")
        await client.post("/v1/registrations", json=body, headers=callers[0].headers)
        clock.advance(timedelta(hours=2))
        b = await client.post("/v1/registrations", json=body, headers=callers[1].headers)
        assert b.json()["match_id"]
        clock.advance(timedelta(minutes=10))
        w = await client.post(
            f"/v1/registrations/{b.json()['id']}/withdraw",
            json={"reason": "unjustified"},
            headers=callers[1].headers,
        )
        assert w.status_code == 200
        r = await client.get(
            "/v1/audit/anomalies",
            params={"rule": "withdrawn-after-match"},
            headers=callers[1].auditor_headers,
        )
        [flag] = r.json()["items"]
        assert (flag["subject_ref_type"], flag["subject_ref"]) == ("registration", b.json()["id"])
        assert flag["professional_id"] == callers[1].professional_id
        assert flag["observed"] == 10.0

    async def test_withdrawal_without_match_or_later_is_not_flagged(
        self,
        client: httpx.AsyncClient,
        callers: list[Caller],
        ctx: AppContext,
        clock: FrozenClock,
    ) -> None:
        alone = await _register(client, callers[0], 1)
        await client.post(
            f"/v1/registrations/{alone.json()['id']}/withdraw",
            json={"reason": "other"},
            headers=callers[0].headers,
        )
        body = registration_body("111222333")
        await client.post("/v1/registrations", json=body, headers=callers[0].headers)
        b = await client.post("/v1/registrations", json=body, headers=callers[1].headers)
        clock.advance(timedelta(minutes=31))
        await client.post(
            f"/v1/registrations/{b.json()['id']}/withdraw",
            json={"reason": "other"},
            headers=callers[1].headers,
        )
        officer = await privacy_officer_headers(ctx)
        r = await client.get("/v1/audit/anomalies", headers=officer)
        assert r.json()["items"] == []


async def _hits(ctx: AppContext, scope: str, subject_id: str) -> int:
    from sqlalchemy import func, select

    from verwijsindex.abuse import RateLimitCounter

    async with ctx.database.read() as session:
        total = await session.scalar(
            select(func.coalesce(func.sum(RateLimitCounter.hits), 0)).where(
                RateLimitCounter.scope == scope, RateLimitCounter.subject_id == subject_id
            )
        )
    return int(total or 0)


class TestRateLimitsInGroups:
    """Registrations that share one write group are admitted one by one, in order."""

    async def test_admission_counts_only_what_is_admitted_and_not_released(
        self, ctx: AppContext, callers: list[Caller]
    ) -> None:
        pro = (callers[0].organisation_id, callers[0].professional_id)
        async with ctx.database.transaction() as session:
            admissions = await ctx.abuse.admit_registrations(session, [pro] * 5)
            assert [a.refused is None for a in admissions] == [True, True, False, False, False]
            assert all(a.refused.retry_after >= 1 for a in admissions[2:] if a.refused)
            admissions[1].release()  # registered after all? no: it failed validation
            await ctx.abuse.settle(session, admissions)
        assert await _hits(ctx, "pro-minute", callers[0].professional_id) == 1
        assert await _hits(ctx, "pro-day", callers[0].professional_id) == 1
        assert await _hits(ctx, "org-minute", callers[0].organisation_id) == 1
        async with ctx.database.transaction() as session:
            (again,) = await ctx.abuse.admit_registrations(session, [pro])
            (over,) = await ctx.abuse.admit_registrations(session, [pro])
            await ctx.abuse.settle(session, [again, over])
        assert again.refused is None and over.refused is not None
        assert await _hits(ctx, "pro-minute", callers[0].professional_id) == 2

    async def test_concurrent_registrations_in_shared_groups_respect_the_limits(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        import asyncio

        ctx.writes.start()
        try:
            bodies = [registration_body(make_bsn(n)) for n in range(5)]
            bodies.insert(2, registration_body("123456789"))  # fails the 11-test
            responses = await asyncio.gather(
                *(
                    client.post("/v1/registrations", json=b, headers=callers[0].headers)
                    for b in bodies
                )
            )
        finally:
            await ctx.writes.stop()
        statuses = sorted(r.status_code for r in responses)
        assert statuses.count(201) == 2  # the professional's per-minute limit
        # the invalid one is 422 if admitted before the limit was reached, else 429
        assert statuses.count(429) + statuses.count(422) == 4
        assert statuses.count(422) <= 1
        # neither the refused nor the invalid attempts count
        assert await _hits(ctx, "pro-minute", callers[0].professional_id) == 2
        assert await _hits(ctx, "org-minute", callers[0].organisation_id) == 2
        assert ctx.writes.units >= len(bodies)  # all went through the group committer

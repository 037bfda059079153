"""POST /v1/registrations:batch: per-item results with the semantics of single registrations."""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from notifier import OutboxEvent
from tests.conftest import Caller, make_bsn, make_caller
from verwijsindex.context import AppContext
from verwijsindex.http.schemas import RegistrationBatchResult

URL = "/v1/registrations:batch"


def item(bsn: str, professional_id: str | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"bsn": bsn, "birth_date": "2011-11-11", **extra}
    if professional_id:
        out["professional_id"] = professional_id
    return out


async def mixed_items(ctx: AppContext, callers: list[Caller]) -> list[dict[str, Any]]:
    """Items with every kind of result: statuses 201, 422, 200, 201 (a match), 403, 422."""
    colleague = await make_caller(ctx, 9, organisation_id=callers[0].organisation_id)
    return [
        item(make_bsn(1)),
        item("123456789"),  # fails the 11-test
        item(make_bsn(1)),  # same professional again: idempotent
        item(make_bsn(1), colleague.professional_id),  # colleague: a match
        item(make_bsn(2), callers[1].professional_id),  # professional of another org
        item(make_bsn(3), birth_date="1990-01-01"),  # too old
    ]


class TestBatch:
    async def test_per_item_results_and_partial_failure(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        items = await mixed_items(ctx, callers)
        r = await client.post(URL, json={"items": items}, headers=callers[0].headers)
        assert r.status_code == 200, r.text
        body = r.json()
        statuses = [x["status"] for x in body["results"]]
        assert statuses == [201, 422, 200, 201, 403, 422]
        assert (body["created"], body["existing"], body["failed"]) == (2, 1, 3)
        res = body["results"]
        assert res[2]["registration"]["id"] == res[0]["registration"]["id"]
        assert res[0]["registration"]["match_id"] is None
        assert res[3]["registration"]["match_id"] is not None
        assert res[1]["problem"]["type"].endswith("/invalid-bsn")
        assert res[5]["problem"]["type"].endswith("/subject-too-old")
        assert "123456789" not in r.text and "1990-01-01" not in r.text
        listed = await client.get("/v1/registrations", headers=callers[0].headers)
        assert len(listed.json()["items"]) == 2

    async def test_body_is_the_documented_model_serialised(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        # The route builds its body from plain values; it must be byte for byte what its
        # response_model would serialise, for every kind of result.
        items = [*await mixed_items(ctx, callers), item(make_bsn(4), municipality="0344")]
        r = await client.post(URL, json={"items": items}, headers=callers[0].headers)
        assert [x["status"] for x in r.json()["results"]] == [201, 422, 200, 201, 403, 422, 201]
        assert r.headers["content-type"] == "application/json"
        model = RegistrationBatchResult.model_validate_json(r.content)
        assert model.model_dump_json().encode() == r.content
        single = await client.get(
            f"/v1/registrations/{model.results[3].registration.id}",  # type: ignore[union-attr]
            headers=callers[0].headers,
        )
        assert r.json()["results"][3]["registration"] == single.json()

    async def test_batch_joins_existing_registrations_and_matches(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        single = await client.post(
            "/v1/registrations", json=item(make_bsn(5)), headers=callers[1].headers
        )
        r = await client.post(URL, json={"items": [item(make_bsn(5))]}, headers=callers[0].headers)
        match_id = r.json()["results"][0]["registration"]["match_id"]
        assert match_id is not None
        got = await client.get(
            f"/v1/registrations/{single.json()['id']}", headers=callers[1].headers
        )
        assert got.json()["match_id"] == match_id

    async def test_limits(self, client: httpx.AsyncClient, callers: list[Caller]) -> None:
        too_many = {"items": [item(make_bsn(i)) for i in range(1001)]}
        r = await client.post(URL, json=too_many, headers=callers[0].headers)
        assert r.status_code in (413, 422)
        assert (
            await client.post(URL, json={"items": []}, headers=callers[0].headers)
        ).status_code == 422
        r = await client.post(
            URL, json={"items": [item(make_bsn(1), x=1)]}, headers=callers[0].headers
        )
        assert r.status_code == 422

    async def test_thousand_items_in_one_request(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        # With municipality and professional: over the 64 KiB single-request limit.
        async with ctx.database.transaction() as session:
            await ctx.abuse.grant_bulk_import(
                session, organisation_id=callers[0].organisation_id, items=1000, days=1
            )
        colleague = callers[0].professional_id
        items = [item(make_bsn(i), colleague, municipality="0363") for i in range(1000)]
        assert len(json.dumps({"items": items})) > 64 * 1024
        r = await client.post(URL, json={"items": items}, headers=callers[0].headers)
        assert r.status_code == 200
        assert r.json()["created"] == 1000


def _shape(results: list[dict[str, Any]], events: list[str]) -> tuple[Any, ...]:
    """Outcome without ids: statuses, which items share a registration or a match."""
    reg_ids: dict[str, int] = {}
    match_ids: dict[str, int] = {}
    shape = []
    for r in results:
        reg = r.get("registration") or {}
        rid = reg_ids.setdefault(reg.get("id", ""), len(reg_ids))
        mid = reg.get("match_id")
        shape.append(
            (r["status"], rid, None if mid is None else match_ids.setdefault(mid, len(match_ids)))
        )
    return tuple(shape), tuple(sorted(Counter(events).items()))


_SHARED: dict[int, dict[str, Any]] = {}


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(plan=st.lists(st.tuples(st.integers(0, 3), st.integers(0, 3)), min_size=1, max_size=12))
async def test_batch_equals_one_by_one(
    plan: list[tuple[int, int]], client: httpx.AsyncClient, ctx: AppContext
) -> None:
    """One batch naming each item's professional has exactly the outcome of the same
    registrations sent one by one: statuses, shared registrations, matches and events."""
    # The clock stands still across examples, so the rate limits would refuse later ones:
    # compare the registration semantics only.
    ctx.settings.rate_limit_professional_per_minute = 0
    ctx.settings.rate_limit_professional_per_day = 0
    ctx.settings.rate_limit_organisation_per_minute = 0
    # What the examples of one test (one ctx) share: the team, and a round for fresh youths.
    shared = _SHARED.setdefault(id(ctx), {"team": [], "round": 0})
    team: list[Caller] = shared["team"]
    if not team:
        team.append(await make_caller(ctx, 10))
        for n in range(11, 14):
            team.append(await make_caller(ctx, n, organisation_id=team[0].organisation_id))
    shared["round"] += 1
    base = shared["round"] * 100

    async def events_since(seen: set[str]) -> list[str]:
        async with ctx.database.read() as s:
            rows = (await s.execute(select(OutboxEvent))).scalars()
            return [e.event_type for e in rows if e.id not in seen]

    async def seen_now() -> set[str]:
        async with ctx.database.read() as s:
            return {e.id for e in (await s.execute(select(OutboxEvent))).scalars()}

    seen = await seen_now()
    singles = []
    for p, y in plan:
        r = await client.post(
            "/v1/registrations", json=item(make_bsn(base + y)), headers=team[p].headers
        )
        singles.append({"status": r.status_code, "registration": r.json()})
    one_by_one = _shape(singles, await events_since(seen))

    seen = await seen_now()
    items = [item(make_bsn(base + 50 + y), team[p].professional_id) for p, y in plan]
    r = await client.post(URL, json={"items": items}, headers=team[0].headers)
    batched = _shape(r.json()["results"], await events_since(seen))
    assert batched == one_by_one


class TestBatchAbuseAccounting:
    async def test_a_large_batch_counts_every_new_youth_towards_the_volume_rule(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        from verwijsindex.abuse import RULE_VOLUME, AnomalyFlag

        items = [item(make_bsn(3000 + i)) for i in range(ctx.settings.anomaly_volume_minimum + 5)]
        r = await client.post(URL, json={"items": items}, headers=callers[0].headers)
        assert r.json()["created"] == len(items)
        async with ctx.database.read() as s:
            flags = list((await s.execute(select(AnomalyFlag))).scalars())
        assert [(f.rule, f.professional_id, f.observed) for f in flags] == [
            (RULE_VOLUME, callers[0].professional_id, float(len(items)))
        ]

"""Parents on registrations and the family match through the API, on both databases."""

from __future__ import annotations

import json
import secrets
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from crypto import parse_bsn
from notifier import OutboxEvent
from tests.conftest import Caller, make_bsn, make_caller
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.families.models import FamilyMatch, FamilyMatchParticipant
from verwijsindex.keys import KeyRing, MasterKey
from verwijsindex.registrations.index import Actor, MatchIndex, RegistrationRequest
from verwijsindex.registrations.models import RegistrationParent
from verwijsindex.registrations.sweep import sweep_once

PROBLEM = "https://verwijsindex.nl/problems/"
MOTHER, FATHER, STEPFATHER = make_bsn(900), make_bsn(901), make_bsn(902)
KIDS = [make_bsn(910 + i) for i in range(6)]


def body(youth: str, *parents: str, **extra: Any) -> dict[str, Any]:
    return {"bsn": youth, "birth_date": "2014-04-04", "parents": [{"bsn": p} for p in parents]}


async def register(
    client: httpx.AsyncClient, caller: Caller, youth: str, *parents: str, status: int = 201
) -> dict[str, Any]:
    r = await client.post("/v1/registrations", json=body(youth, *parents), headers=caller.headers)
    assert r.status_code == status, r.text
    result: dict[str, Any] = r.json()
    return result


async def count(ctx: AppContext, model: type, *where: Any) -> int:
    async with ctx.database.transaction() as s:
        query = select(func.count()).select_from(model)
        if where:
            query = query.where(*where)
        return int((await s.execute(query)).scalar_one())


async def events(
    ctx: AppContext, prefix: str = "family_match."
) -> list[tuple[str, str, dict[str, Any]]]:
    async with ctx.database.transaction() as s:
        rows = await s.execute(
            select(OutboxEvent.event_type, OutboxEvent.organisation_id, OutboxEvent.payload)
            .where(OutboxEvent.event_type.startswith(prefix))
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
        )
        return [(t, o, json.loads(p)["data"]) for t, o, p in rows.all()]


@pytest.fixture
async def five(ctx: AppContext) -> list[Caller]:
    return [await make_caller(ctx, n) for n in range(5)]


class TestParentsOnARegistration:
    @pytest.mark.parametrize(
        "parents",
        [["123456789"], ["12345678"], ["abcdefghi"], [make_bsn(1)] * 0 + ["111222334"]],
    )
    async def test_a_parent_failing_the_eleven_test_is_422(
        self, client: httpx.AsyncClient, five: list[Caller], ctx: AppContext, parents: list[str]
    ) -> None:
        r = await client.post(
            "/v1/registrations", json=body(KIDS[0], *parents), headers=five[0].headers
        )
        assert r.status_code == 422, r.text
        assert r.headers["content-type"].startswith("application/problem+json")
        for value in parents:
            assert value not in r.text
        assert await count(ctx, RegistrationParent) == 0

    async def test_more_than_four_parents_is_422(
        self, client: httpx.AsyncClient, five: list[Caller]
    ) -> None:
        parents = [make_bsn(950 + i) for i in range(5)]
        r = await client.post(
            "/v1/registrations", json=body(KIDS[0], *parents), headers=five[0].headers
        )
        assert r.status_code == 422
        assert r.json()["type"] == PROBLEM + "invalid-input"

    async def test_the_youth_as_its_own_parent_is_422(
        self, client: httpx.AsyncClient, five: list[Caller]
    ) -> None:
        r = await client.post(
            "/v1/registrations", json=body(KIDS[0], KIDS[0]), headers=five[0].headers
        )
        assert r.status_code == 422

    async def test_duplicates_count_once_and_links_are_pseudonyms(
        self, client: httpx.AsyncClient, five: list[Caller], ctx: AppContext
    ) -> None:
        out = await register(client, five[0], KIDS[0], MOTHER, MOTHER, FATHER)
        assert out["family_match_id"] is None
        async with ctx.database.transaction() as s:
            links = (await s.execute(select(RegistrationParent))).scalars().all()
        assert len(links) == 2
        youth = ctx.keys.pseudonymise(parse_bsn(KIDS[0]))
        for link in links:
            assert link.registration_id == out["id"]
            assert link.pseudonym.startswith("p1.") and link.pseudonym != youth
            assert MOTHER not in link.pseudonym and FATHER not in link.pseudonym

    def test_parent_pseudonyms_are_their_own_purpose(self, ctx: AppContext) -> None:
        bsn = parse_bsn(MOTHER)
        parent = ctx.keys.all_parent_pseudonyms(bsn)[0]
        assert parent != ctx.keys.pseudonymise(bsn)
        assert parent not in ctx.keys.all_access_log_subjects(bsn, [None, "org"])


class TestFamilyMatch:
    async def test_two_children_of_one_parent_by_two_professionals_match(
        self, client: httpx.AsyncClient, five: list[Caller], ctx: AppContext
    ) -> None:
        first = await register(client, five[0], KIDS[0], MOTHER)
        second = await register(client, five[1], KIDS[1], MOTHER, FATHER)
        family_id = second["family_match_id"]
        assert first["family_match_id"] is None and family_id is not None
        assert second["match_id"] is None  # a family match is not the youth's match
        read = await client.get(f"/v1/registrations/{first['id']}", headers=five[0].headers)
        assert read.json()["family_match_id"] == family_id

        r = await client.get(f"/v1/family-matches/{family_id}", headers=five[0].headers)
        assert r.status_code == 200, r.text
        family = r.json()
        assert set(family) == {"id", "status", "created_at", "closed_at", "participants"}
        by_org = {p["organisation"]["id"]: p for p in family["participants"]}
        assert set(by_org) == {five[0].organisation_id, five[1].organisation_id}
        # Its own registration with id; the other's without (never which child).
        assert by_org[five[0].organisation_id]["registration_id"] == first["id"]
        assert by_org[five[1].organisation_id]["registration_id"] is None
        assert by_org[five[1].organisation_id]["registered_at"] is None
        assert by_org[five[1].organisation_id]["professional"]["email"] == "pro1@org.example"
        for secret in (MOTHER, FATHER, KIDS[0], KIDS[1], "p1."):
            assert secret not in r.text

        listed = await client.get("/v1/family-matches", headers=five[1].headers)
        assert [f["id"] for f in listed.json()["items"]] == [family_id]
        outsider = await client.get(f"/v1/family-matches/{family_id}", headers=five[2].headers)
        assert outsider.status_code == 404
        assert (await client.get("/v1/family-matches", headers=five[2].headers)).json()[
            "items"
        ] == []

        created = await events(ctx)
        assert sorted((t, o) for t, o, _ in created) == sorted(
            [
                ("family_match.created", five[0].organisation_id),
                ("family_match.created", five[1].organisation_id),
            ]
        )
        for _, organisation, data in created:
            assert set(data) == {"family_match_id", "registration_id"}
            mine = first if organisation == five[0].organisation_id else second
            assert data == {"family_match_id": family_id, "registration_id": mine["id"]}

    async def test_siblings_by_one_professional_do_not_match(
        self, client: httpx.AsyncClient, five: list[Caller], ctx: AppContext
    ) -> None:
        await register(client, five[0], KIDS[0], MOTHER)
        again = await register(client, five[0], KIDS[1], MOTHER)
        assert again["family_match_id"] is None
        assert await count(ctx, FamilyMatch) == 0

    async def test_one_youth_by_two_professionals_is_its_own_match_only(
        self, client: httpx.AsyncClient, five: list[Caller], ctx: AppContext
    ) -> None:
        await register(client, five[0], KIDS[0], MOTHER)
        second = await register(client, five[1], KIDS[0], MOTHER)
        assert second["match_id"] is not None
        assert second["family_match_id"] is None
        assert await count(ctx, FamilyMatch) == 0

    async def test_a_third_sibling_joins_the_existing_family_match(
        self, client: httpx.AsyncClient, five: list[Caller], ctx: AppContext
    ) -> None:
        await register(client, five[0], KIDS[0], MOTHER)
        second = await register(client, five[1], KIDS[1], MOTHER)
        third = await register(client, five[2], KIDS[2], FATHER, MOTHER)
        assert third["family_match_id"] == second["family_match_id"]
        assert await count(ctx, FamilyMatch) == 1
        assert await count(ctx, FamilyMatchParticipant) == 3
        joined = [e for e in await events(ctx) if e[0] == "family_match.participant_joined"]
        assert sorted(o for _, o, _ in joined) == sorted(c.organisation_id for c in five[:3])

    async def test_the_first_professional_with_siblings_takes_part_with_each(
        self, client: httpx.AsyncClient, five: list[Caller], ctx: AppContext
    ) -> None:
        a = await register(client, five[0], KIDS[0], MOTHER)
        b = await register(client, five[0], KIDS[1], MOTHER)
        c = await register(client, five[1], KIDS[2], MOTHER)
        assert c["family_match_id"] is not None
        family = (
            await client.get(f"/v1/family-matches/{c['family_match_id']}", headers=five[0].headers)
        ).json()
        own = {p["registration_id"] for p in family["participants"]} - {None}
        assert own == {a["id"], b["id"]}
        seen_by_other = (
            await client.get(f"/v1/family-matches/{c['family_match_id']}", headers=five[1].headers)
        ).json()
        # The other organisation sees the first professional once, not how many children.
        assert len(seen_by_other["participants"]) == 2

    async def test_a_registration_naming_both_families_merges_them_into_the_oldest(
        self, client: httpx.AsyncClient, five: list[Caller], ctx: AppContext, clock: FrozenClock
    ) -> None:
        await register(client, five[0], KIDS[0], MOTHER)
        older = (await register(client, five[1], KIDS[1], MOTHER))["family_match_id"]
        clock.advance(timedelta(minutes=1))
        await register(client, five[2], KIDS[2], STEPFATHER)
        younger = (await register(client, five[3], KIDS[3], STEPFATHER))["family_match_id"]
        assert older != younger
        clock.advance(timedelta(minutes=1))
        half = await register(client, five[4], KIDS[4], MOTHER, STEPFATHER)
        assert half["family_match_id"] == older
        closed = (await client.get(f"/v1/family-matches/{younger}", headers=five[2].headers)).json()
        assert closed["status"] == "closed"
        merged = (await client.get(f"/v1/family-matches/{older}", headers=five[2].headers)).json()
        assert merged["status"] == "open"
        assert {
            p["organisation"]["id"] for p in merged["participants"] if p["left_at"] is None
        } == {c.organisation_id for c in five}
        closes = [e for e in await events(ctx) if e[0] == "family_match.closed"]
        assert sorted(o for _, o, _ in closes) == sorted(
            [five[2].organisation_id, five[3].organisation_id]
        )
        assert all(d["reason"] == "merged" for _, _, d in closes)
        async with ctx.database.transaction() as s:
            open_ids = (
                (await s.execute(select(FamilyMatch.id).where(FamilyMatch.status == "open")))
                .scalars()
                .all()
            )
        assert list(open_ids) == [older]

    async def test_leaving_closes_the_family_match_below_a_pair(
        self, client: httpx.AsyncClient, five: list[Caller], ctx: AppContext
    ) -> None:
        first = await register(client, five[0], KIDS[0], MOTHER)
        second = await register(client, five[1], KIDS[1], MOTHER)
        third = await register(client, five[2], KIDS[2], MOTHER)
        family_id = third["family_match_id"]
        r = await client.post(
            f"/v1/registrations/{third['id']}/withdraw",
            json={"reason": "other"},
            headers=five[2].headers,
        )
        assert r.status_code == 200
        left = [e for e in await events(ctx) if e[0] == "family_match.participant_left"]
        assert sorted(o for _, o, _ in left) == sorted(c.organisation_id for c in five[:2])
        assert await count(ctx, RegistrationParent) == 2  # the ended one's link is gone
        await client.post(
            f"/v1/registrations/{first['id']}/withdraw",
            json={"reason": "other"},
            headers=five[0].headers,
        )
        family = (
            await client.get(f"/v1/family-matches/{family_id}", headers=five[1].headers)
        ).json()
        assert family["status"] == "closed"
        assert all(p["left_at"] is not None for p in family["participants"])
        closes = [e for e in await events(ctx) if e[0] == "family_match.closed"]
        assert [(o, d["reason"]) for _, o, d in closes] == [
            (five[1].organisation_id, "no_pair_left")
        ]
        read = await client.get(f"/v1/registrations/{second['id']}", headers=five[1].headers)
        assert read.json()["family_match_id"] is None

    async def test_the_sweep_ends_and_purges_links_and_family_matches(
        self, client: httpx.AsyncClient, five: list[Caller], ctx: AppContext, clock: FrozenClock
    ) -> None:
        await register(client, five[0], KIDS[0], MOTHER)
        await register(client, five[1], KIDS[1], MOTHER)
        clock.advance(timedelta(days=2 * 366))
        await sweep_once(ctx)
        for model in (RegistrationParent, FamilyMatchParticipant, FamilyMatch):
            assert await count(ctx, model) == 0


class TestKeyRotation:
    async def test_parents_still_match_after_rotation_and_move_to_the_new_version(
        self, ctx: AppContext, five: list[Caller], clock: FrozenClock
    ) -> None:
        v1 = MasterKey(version=1, development=True, _material=secrets.token_bytes(32))
        v2 = MasterKey(version=2, development=True, _material=secrets.token_bytes(32))
        before = MatchIndex(keys=KeyRing([v1]), clock=clock)
        after = MatchIndex(keys=KeyRing([v1, v2]), clock=clock)
        actors = [Actor(c.organisation_id, c.professional_id) for c in five[:2]]
        async with ctx.database.transaction() as s:
            (first,) = await before.register_many(
                s,
                [RegistrationRequest(actors[0], KIDS[1], "2014-04-04", parents=(MOTHER,))],
            )
            assert not isinstance(first, Exception)
            versions = (await s.execute(select(RegistrationParent.key_version))).scalars().all()
            assert list(versions) == [1]
        async with ctx.database.transaction() as s:
            (second,) = await after.register_many(
                s,
                [RegistrationRequest(actors[1], KIDS[2], "2014-04-04", parents=(MOTHER,))],
            )
        assert not isinstance(second, Exception)
        assert second.family_match_id is not None
        async with ctx.database.transaction() as s:
            versions = (await s.execute(select(RegistrationParent.key_version))).scalars().all()
        assert sorted(versions) == [2, 2]


class TestBatch:
    async def test_a_batch_with_parents_makes_the_family_match_within_it(
        self, client: httpx.AsyncClient, ctx: AppContext, five: list[Caller]
    ) -> None:
        colleague = await make_caller(ctx, 9, organisation_id=five[0].organisation_id)
        items = [
            {**body(KIDS[0], MOTHER), "professional_id": five[0].professional_id},
            {**body(KIDS[1], MOTHER, FATHER), "professional_id": colleague.professional_id},
            {**body(KIDS[2], "123456789"), "professional_id": colleague.professional_id},
            {**body(KIDS[3], *[make_bsn(960 + i) for i in range(5)])},
        ]
        r = await client.post(
            "/v1/registrations:batch", json={"items": items}, headers=five[0].headers
        )
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [x["status"] for x in results] == [201, 201, 422, 422]
        family = results[1]["registration"]["family_match_id"]
        assert family is not None
        assert results[0]["registration"]["family_match_id"] is None  # the first of the pair
        read = await client.get(
            f"/v1/registrations/{results[0]['registration']['id']}", headers=five[0].headers
        )
        assert read.json()["family_match_id"] == family
        for secret in (MOTHER, FATHER, "123456789"):
            assert secret not in r.text

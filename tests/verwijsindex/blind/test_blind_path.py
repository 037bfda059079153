"""The index's blind path in process (the key service's app over an ASGI transport): the
request forms, the gate, direct and blind registrations of one youth, the federation seam,
a key service that is down, and that no token is stored."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import text

import crypto
from tests.conftest import Caller, make_bsn, registration_body
from tests.verwijsindex.blind.helpers import attach_key_service as _attach
from tests.verwijsindex.blind.helpers import in_process_key_service
from tests.verwijsindex.helpers import privacy_officer_headers
from verwijsindex.accesslog import AccessContext
from verwijsindex.blind import federation_input
from verwijsindex.blind.service import BlindPath
from verwijsindex.context import AppContext
from verwijsindex.keyservice import keys as key_files
from verwijsindex.keyservice.client import AsyncKeyServiceClient
from verwijsindex.keyservice.settings import KeyServiceSettings
from verwijsindex.registrations.index import Actor, RegistrationRequest

BIRTH = "2012-05-01"


@pytest.fixture
async def keyservice(tmp_path: Path) -> AsyncIterator[AsyncKeyServiceClient]:
    """An organisation's client of an in-process key service (the index gets its own)."""
    async with in_process_key_service(tmp_path / "keyservice") as client:
        yield client


@dataclass
class World:
    """The index's client and context, three organisations, an organisation's key-service
    client and the index's own."""

    client: httpx.AsyncClient
    ctx: AppContext
    callers: list[Caller]
    keys: AsyncKeyServiceClient
    index_keys: AsyncKeyServiceClient

    def attach(self) -> BlindPath:
        return _attach(self.ctx, self.index_keys)

    async def post(self, body: dict[str, object], caller: int) -> httpx.Response:
        return await self.client.post(
            "/v1/registrations", json=body, headers=self.callers[caller].headers
        )


@pytest.fixture
def world(
    client: httpx.AsyncClient,
    ctx: AppContext,
    callers: list[Caller],
    keyservice: AsyncKeyServiceClient,
) -> World:
    return World(client, ctx, callers, keyservice, keyservice.index_client)  # type: ignore[attr-defined]


async def _token_body(keys: AsyncKeyServiceClient, bsn: str) -> dict[str, object]:
    (tokens,) = await keys.tokens([crypto.parse_bsn(bsn)])
    body: dict[str, object] = {"subject_token": tokens.current, "birth_date": BIRTH}
    if tokens.earlier:
        body["earlier_subject_tokens"] = list(tokens.earlier)
    return body


class TestRequestForms:
    @pytest.mark.parametrize(
        "body",
        [
            {"birth_date": BIRTH},
            {"bsn": "111222333", "subject_token": "t1." + "A" * 86, "birth_date": BIRTH},
            {"bsn": "111222333", "earlier_subject_tokens": ["t1." + "A" * 86], "birth_date": BIRTH},
        ],
    )
    async def test_exactly_one_subject(
        self, client: httpx.AsyncClient, callers: list[Caller], body: dict[str, object]
    ) -> None:
        response = await client.post("/v1/registrations", json=body, headers=callers[0].headers)
        assert response.status_code == 422
        assert "111222333" not in response.text

    async def test_without_a_key_service_the_blind_path_is_closed(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        body = {"subject_token": "t1." + "A" * 86, "birth_date": BIRTH}
        response = await client.post("/v1/registrations", json=body, headers=callers[0].headers)
        assert response.status_code == 409
        assert response.json()["type"].endswith("/blind-path-closed")

    async def test_a_malformed_token_is_invalid_input(self, world: World) -> None:
        world.attach()
        for token in ("t1.short", "x1." + "A" * 86, "t1." + "A" * 85 + "!"):
            response = await world.post({"subject_token": token, "birth_date": BIRTH}, 0)
            assert response.status_code == 422, token
            assert token not in response.text


class TestBothPaths:
    async def test_direct_then_blind_then_direct_is_one_youth_with_one_match(
        self, world: World
    ) -> None:
        world.attach()
        assert (await world.post(registration_body("123456782"), 0)).status_code == 201
        blind = await world.post(await _token_body(world.keys, "123456782"), 1)
        assert blind.status_code == 201 and blind.json()["match_id"]
        third = await world.post(registration_body("123456782"), 2)
        assert third.json()["match_id"] == blind.json()["match_id"]
        async with world.ctx.database.read() as session:
            rows = (await session.execute(text("SELECT pseudonym FROM registrations"))).all()
            open_matches = (
                await session.execute(text("SELECT count(*) FROM matches WHERE status = 'open'"))
            ).scalar_one()
        assert len({r[0] for r in rows}) == 1 and rows[0][0].startswith("b1.")
        assert open_matches == 1

    async def test_the_gate_opens_once_the_bsn_pseudonyms_have_moved_over(
        self, world: World
    ) -> None:
        before = await world.post(registration_body("999999990"), 0)
        assert before.status_code == 201  # no key service yet: a p1. pseudonym
        blind_path = world.attach()
        assert await blind_path.direct_pseudonyms_remaining() == 1
        token = await _token_body(world.keys, "999999990")
        closed = await world.post(token, 1)
        assert closed.status_code == 409
        assert closed.json()["type"].endswith("/blind-path-closed")
        again = await world.post(registration_body("999999990"), 0)
        assert again.status_code == 200 and again.json()["id"] == before.json()["id"]
        assert await blind_path.direct_pseudonyms_remaining() == 0
        opened = await world.post(token, 1)
        assert opened.status_code == 201 and opened.json()["match_id"]

    async def test_a_direct_batch_gets_its_tokens_in_one_exchange(self, world: World) -> None:
        """A batch on the direct path (its group operations in a thread from 16 BSNs on) is
        stored under the same pseudonyms as the blind path's."""
        world.attach()
        bsns = [make_bsn(300 + n) for n in range(20)]
        batch = await world.client.post(
            "/v1/registrations:batch",
            json={"items": [registration_body(b) for b in bsns]},
            headers=world.callers[0].headers,
        )
        assert batch.status_code == 200 and batch.json()["created"] == 20
        for bsn in (bsns[0], bsns[-1]):
            blind = await world.post(await _token_body(world.keys, bsn), 1)
            assert blind.status_code == 201 and blind.json()["match_id"]
        async with world.ctx.database.read() as session:
            rows = (await session.execute(text("SELECT pseudonym FROM registrations"))).all()
        assert len(rows) == 22 and len({r[0] for r in rows}) == 20
        assert all(r[0].startswith("b1.") for r in rows)

    async def test_federation_input_is_the_same_on_both_paths(self, world: World) -> None:
        world.attach()
        ctx, callers = world.ctx, world.callers
        access = AccessContext.system(role="system", started_at=ctx.clock.now())
        (tokens,) = await world.keys.tokens([crypto.parse_bsn("100000009")])
        direct = await ctx.registrations.register(
            access,
            RegistrationRequest(
                actor=Actor(callers[0].organisation_id, callers[0].professional_id),
                bsn="100000009",
                birth_date=BIRTH,
            ),
        )
        blind = await ctx.registrations.register(
            access,
            RegistrationRequest(
                actor=Actor(callers[1].organisation_id, callers[1].professional_id),
                bsn=None,
                birth_date=BIRTH,
                subject_token=tokens.current,
            ),
        )
        assert federation_input(direct) == federation_input(blind) == tokens.current
        assert blind.bsn is None and blind.match_id is not None
        assert tokens.current not in repr(blind)

    async def test_key_service_rotation_and_retirement(self, world: World, tmp_path: Path) -> None:
        world.attach()
        settings = KeyServiceSettings(data_dir=tmp_path / "keyservice")
        first = await world.post(registration_body("123456782"), 0)  # tokens under v1
        key_files.rotate(settings)
        moved = await world.post(await _token_body(world.keys, "123456782"), 1)  # v2 and v1
        assert moved.status_code == 201 and moved.json()["match_id"]
        key_files.retire(settings, version=1)
        only_new = await _token_body(world.keys, "123456782")
        assert "earlier_subject_tokens" not in only_new
        again = await world.post(only_new, 1)  # the index learns that v1 is gone
        assert again.status_code == 200 and again.json()["match_id"] == moved.json()["match_id"]
        direct = await world.post(registration_body("123456782"), 2)
        assert direct.json()["match_id"] == moved.json()["match_id"]
        assert first.json()["id"] != moved.json()["id"]

    async def test_no_token_is_stored(self, world: World) -> None:
        world.attach()
        body = await _token_body(world.keys, "111222333")
        assert (await world.post(body, 0)).status_code == 201
        token = str(body["subject_token"])
        async with world.ctx.database.read() as session:
            for table in ("registrations", "matches", "access_log", "outbox_events"):
                rows = (await session.execute(text(f"SELECT * FROM {table}"))).all()
                assert rows or table in ("matches", "outbox_events")
                dump = repr(rows)
                assert token not in dump and token[3:40] not in dump, table


class TestKeyServiceDown:
    async def test_the_direct_path_waits_rather_than_store_a_bsn_pseudonym(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller]
    ) -> None:
        def refuse(_request: httpx.Request) -> httpx.Response:
            raise httpx.ConnectError("refused")

        down = httpx.AsyncClient(transport=httpx.MockTransport(refuse), base_url="http://keys.test")
        _attach(ctx, AsyncKeyServiceClient("http://keys.test", api_key="vks_x", http=down))
        response = await client.post(
            "/v1/registrations", json=registration_body(), headers=callers[0].headers
        )
        assert response.status_code == 503
        assert response.json()["type"].endswith("/keyservice-unavailable")
        async with ctx.database.read() as session:
            count = (await session.execute(text("SELECT count(*) FROM registrations"))).scalar()
        assert count == 0
        await down.aclose()


MOTHER = "100000009"
FATHER = "123456782"
KID_DIRECT = "111222333"
KID_BLIND = "999999990"


async def _parent_tokens(keys: AsyncKeyServiceClient, *bsns: str) -> list[dict[str, object]]:
    parents: list[dict[str, object]] = []
    for tokens in await keys.tokens([crypto.parse_bsn(b) for b in bsns]):
        parent: dict[str, object] = {"subject_token": tokens.current}
        if tokens.earlier:
            parent["earlier_subject_tokens"] = list(tokens.earlier)
        parents.append(parent)
    return parents


def _direct_body(bsn: str, *parents: str) -> dict[str, object]:
    return {**registration_body(bsn), "parents": [{"bsn": p} for p in parents]}


async def _table_dump(ctx: AppContext, *tables: str) -> str:
    dumps = []
    async with ctx.database.read() as session:
        for table in tables:
            dumps.append(repr((await session.execute(text(f"SELECT * FROM {table}"))).all()))
    return "".join(dumps)


class TestParentsByToken:
    """Parents on the blind path: stored under the index's HMAC of the parent's token under
    a purpose of its own; the direct path with a key service stores the same value."""

    async def test_siblings_on_both_paths_form_one_family_match(self, world: World) -> None:
        world.attach()
        direct = await world.post(_direct_body(KID_DIRECT, MOTHER, FATHER), 0)
        assert direct.status_code == 201 and direct.json()["family_match_id"] is None
        blind = await world.post(
            {
                **await _token_body(world.keys, KID_BLIND),
                "parents": await _parent_tokens(world.keys, MOTHER),
            },
            1,
        )
        assert blind.status_code == 201, blind.text
        family = blind.json()["family_match_id"]
        assert family is not None and blind.json()["match_id"] is None  # siblings, not one youth
        # A third sibling, blind, by the father only: the same family match.
        third = await world.post(
            {
                **await _token_body(world.keys, "100000010"),
                "parents": await _parent_tokens(world.keys, FATHER),
            },
            2,
        )
        assert third.json()["family_match_id"] == family
        (mother_token,) = await world.keys.tokens([crypto.parse_bsn(MOTHER)])
        expected = world.ctx.keys.blind_parent_pseudonyms(mother_token.current)[0]
        async with world.ctx.database.read() as session:
            links = (
                await session.execute(text("SELECT pseudonym FROM registration_parents"))
            ).all()
            youths = (await session.execute(text("SELECT pseudonym FROM registrations"))).all()
        stored = {r[0] for r in links}
        assert expected in stored and len(stored) == 2  # mother and father, one value each
        assert all(p.startswith("b1.") for p in stored)
        assert expected not in world.ctx.keys.blind_pseudonyms(mother_token.current)
        assert not stored & {r[0] for r in youths}

    async def test_a_parents_rights_find_links_made_on_either_path(self, world: World) -> None:
        world.attach()
        direct = await world.post(_direct_body(KID_DIRECT, MOTHER), 0)
        blind = await world.post(
            {
                **await _token_body(world.keys, KID_BLIND),
                "parents": await _parent_tokens(world.keys, MOTHER),
            },
            1,
        )
        officer = await privacy_officer_headers(world.ctx)
        r = await world.client.post(
            "/v1/subject-access/parent", json={"bsn": MOTHER}, headers=officer
        )
        assert r.status_code == 200, r.text
        found = {link["registration"]["id"] for link in r.json()["links"]}
        assert found == {direct.json()["id"], blind.json()["id"]}
        body = {"bsn": MOTHER, "reason": "court-order", "request_reference": "RB-1"}
        r = await world.client.post("/v1/subject-erasure/parent", json=body, headers=officer)
        assert r.json()["unlinked_registrations"] == 2
        assert await _table_dump(world.ctx, "registration_parents") == "[]"

    async def test_blind_first_then_direct(self, world: World) -> None:
        world.attach()
        blind = await world.post(
            {
                **await _token_body(world.keys, KID_BLIND),
                "parents": await _parent_tokens(world.keys, MOTHER),
            },
            0,
        )
        assert blind.status_code == 201
        batch = await world.client.post(
            "/v1/registrations:batch",
            json={"items": [_direct_body(KID_DIRECT, MOTHER)]},
            headers=world.callers[1].headers,
        )
        (result,) = batch.json()["results"]
        assert result["status"] == 201
        assert result["registration"]["family_match_id"] is not None

    async def test_no_parent_bsn_or_token_is_stored(self, world: World) -> None:
        world.attach()
        parents = await _parent_tokens(world.keys, MOTHER, FATHER)
        body = {**await _token_body(world.keys, KID_BLIND), "parents": parents}
        assert (await world.post(body, 0)).status_code == 201
        sibling = {**await _token_body(world.keys, KID_DIRECT), "parents": parents[:1]}
        assert (await world.post(sibling, 1)).json()["family_match_id"]
        dump = await _table_dump(
            world.ctx,
            "registrations",
            "registration_parents",
            "family_matches",
            "family_match_participants",
            "access_log",
            "outbox_events",
        )
        for value in (MOTHER, FATHER, *(str(p["subject_token"]) for p in parents)):
            assert value not in dump and value[3:40] not in dump

    @pytest.mark.parametrize(
        "parent",
        [
            {"bsn": MOTHER, "subject_token": "t1." + "A" * 86},
            {},
            {"bsn": MOTHER, "earlier_subject_tokens": ["t1." + "A" * 86]},
        ],
    )
    async def test_a_parent_names_exactly_one_form(
        self, world: World, parent: dict[str, object]
    ) -> None:
        world.attach()
        response = await world.post({**registration_body(KID_DIRECT), "parents": [parent]}, 0)
        assert response.status_code == 422
        assert MOTHER not in response.text

    async def test_mixed_forms_are_refused(self, world: World) -> None:
        world.attach()
        youth_token = await _token_body(world.keys, KID_BLIND)
        parent_token = await _parent_tokens(world.keys, MOTHER)
        mixed = [
            {**youth_token, "parents": [{"bsn": MOTHER}]},
            {**registration_body(KID_DIRECT), "parents": parent_token},
            {**registration_body(KID_DIRECT), "parents": [{"bsn": FATHER}, *parent_token]},
        ]
        for body in mixed:
            response = await world.post(body, 0)
            assert response.status_code == 422, body
            assert response.json()["type"].endswith("/invalid-input")
            assert MOTHER not in response.text and FATHER not in response.text
        batch = await world.client.post(
            "/v1/registrations:batch",
            json={"items": [mixed[1], _direct_body(KID_DIRECT, MOTHER)]},
            headers=world.callers[0].headers,
        )
        refused, registered = batch.json()["results"]
        assert refused["status"] == 422 and registered["status"] == 201
        own = {**youth_token, "parents": await _parent_tokens(world.keys, KID_BLIND)}
        assert (await world.post(own, 0)).status_code == 422
        assert await _table_dump(world.ctx, "registration_parents") != "[]"

    async def test_without_a_key_service_a_parent_by_token_is_refused(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        body = {**registration_body(KID_DIRECT), "parents": [{"subject_token": "t1." + "A" * 86}]}
        response = await client.post("/v1/registrations", json=body, headers=callers[0].headers)
        assert response.status_code == 422

    async def test_parent_links_move_over_on_presentation(self, world: World) -> None:
        before = await world.post(_direct_body(KID_DIRECT, MOTHER), 0)
        assert before.status_code == 201  # no key service yet: p1. youth and parent
        blind_path = world.attach()
        # Presented again without the parent: the youth moves, the parent's link does not,
        # so the blind path (which could not find it) stays closed.
        assert (await world.post(registration_body(KID_DIRECT), 0)).status_code == 200
        assert await blind_path.direct_pseudonyms_remaining() == 1
        sibling = {
            **await _token_body(world.keys, KID_BLIND),
            "parents": await _parent_tokens(world.keys, MOTHER),
        }
        closed = await world.post(sibling, 1)
        assert closed.status_code == 409
        assert closed.json()["type"].endswith("/blind-path-closed")
        assert (await world.post(_direct_body(KID_DIRECT, MOTHER), 0)).status_code == 200
        assert await blind_path.direct_pseudonyms_remaining() == 0
        opened = await world.post(sibling, 1)
        assert opened.status_code == 201 and opened.json()["family_match_id"]

    async def test_a_parent_token_under_an_old_key_list_is_outdated(
        self, world: World, tmp_path: Path
    ) -> None:
        world.attach()
        parent = await _parent_tokens(world.keys, MOTHER)  # under v1 only
        key_files.rotate(KeyServiceSettings(data_dir=tmp_path / "keyservice"))
        body = {**await _token_body(world.keys, KID_BLIND), "parents": parent}
        response = await world.post(body, 0)
        assert response.status_code == 409
        assert response.json()["type"].endswith("/subject-token-outdated")

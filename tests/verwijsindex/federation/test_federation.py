"""Federation in one process: a hub app and two region apps, wired through ASGI transports
(no network), so that each step is driven by hand: signatures in both directions,
idempotent hand-offs and reports, the webhooks of a cross-region match, what each region
shows of the other's participants, and the checks of configured URLs."""

from __future__ import annotations

import base64
import json
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from crypto import PseudonymKey, SubjectToken, parse_bsn, signature_header
from notifier import OutboxEvent
from tests.conftest import Caller, DatabaseTemplate, make_bsn, make_caller, registration_body
from tests.verwijsindex.blind.helpers import attach_key_service, in_process_key_service
from tests.verwijsindex.federation.helpers import three_databases
from tests.verwijsindex.helpers import privacy_officer_headers
from verwijsindex.accesslog import AccessContext
from verwijsindex.accesslog._models import AccessLogRecord
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext, build_context
from verwijsindex.errors import ConfigurationError
from verwijsindex.federation import transport
from verwijsindex.federation.keys import (
    TO_HUB,
    TO_REGION,
    FederationKeys,
    bsn_input,
    direction_key,
    parse_region_key,
    token_input,
)
from verwijsindex.federation.models import (
    FederatedMatch,
    FederatedParticipant,
    HubMatch,
    HubRegistration,
)
from verwijsindex.http.app import create_app
from verwijsindex.registrations.index import Actor, RegistrationRequest
from verwijsindex.settings import Settings

HUB = "http://127.0.0.1:9001"
_CLOCK = FrozenClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))
CALLBACK = {"a": "http://127.0.0.1:9002", "b": "http://127.0.0.1:9003"}


class _Router(httpx.AsyncBaseTransport):
    """Sends each request to the app of its host and port."""

    def __init__(self, apps: dict[str, FastAPI]) -> None:
        self._transports = {base: httpx.ASGITransport(app=app) for base, app in apps.items()}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        base = f"{request.url.scheme}://{request.url.host}:{request.url.port}"
        return await self._transports[base].handle_async_request(request)


@dataclass
class World:
    hub: FastAPI
    regions: dict[str, FastAPI]
    keys: dict[str, str]
    federation_key: str
    http: httpx.AsyncClient

    def ctx(self, name: str) -> AppContext:
        app = self.hub if name == "hub" else self.regions[name]
        context: AppContext = app.state.ctx
        return context

    async def sync(self) -> None:
        """Regions hand off, the hub reports back: until nothing is pending."""
        for _ in range(5):
            moved = 0
            for name in ("a", "b"):
                federation = self.ctx(name).federation
                assert federation is not None
                moved += await federation.drain_once(self.http)
            hub = self.ctx("hub").hub
            assert hub is not None
            moved += await hub.drain_once(self.http)
            if not moved:
                return


@pytest.fixture
def databases(
    backend: str, db_templates: dict[str, DatabaseTemplate], tmp_path: Path
) -> Iterator[dict[str, str]]:
    yield from three_databases(backend, db_templates[backend].template, tmp_path)


def _settings(tmp_path: Path, name: str, url: str, **extra: Any) -> Settings:
    return Settings(
        data_dir=tmp_path / name,
        database_url=url,
        run_sweeper=False,
        run_webhook_worker=False,
        run_federation_worker=False,
        auto_migrate=False,
        **extra,
    )


@pytest.fixture
def federation_input() -> str:
    """What the regions derive the federated pseudonym from: the BSN here (no key service);
    a test of the subject token parametrizes this."""
    return "bsn"


@pytest.fixture
async def world(
    databases: dict[str, str], tmp_path: Path, clock: FrozenClock, federation_input: str
) -> AsyncIterator[World]:
    async with AsyncExitStack() as stack:
        hub = create_app(_settings(tmp_path, "hub", databases["hub"], role="hub"), clock=clock)
        await stack.enter_async_context(hub.router.lifespan_context(hub))
        hub_service = hub.state.ctx.hub
        keys = {n: await hub_service.add_region(n, CALLBACK[n]) for n in ("a", "b")}
        federation_key = base64.b64encode(secrets.token_bytes(32)).decode()
        regions = {}
        for name in ("a", "b"):
            settings = _settings(
                tmp_path,
                name,
                databases[name],
                federation_region_id=name,
                federation_hub_url=HUB,
                federation_region_key=keys[name],
                federation_key=federation_key,
                federation_share_contacts="contacts",
                federation_input=federation_input,
            )
            regions[name] = create_app(settings, clock=clock)
            await stack.enter_async_context(regions[name].router.lifespan_context(regions[name]))
        http = httpx.AsyncClient(
            transport=_Router({HUB: hub, **{CALLBACK[n]: regions[n] for n in regions}})
        )
        await stack.enter_async_context(http)
        yield World(hub, regions, keys, federation_key, http)


def _signed(
    body: bytes, key: bytes, region: str, *, timestamp: int | None = None
) -> dict[str, str]:
    now = timestamp or int(time.time())
    return {
        "content-type": "application/json",
        "webhook-id": "msg_test",
        "webhook-timestamp": str(now),
        "webhook-signature": signature_header(
            msg_id="msg_test", timestamp=now, body=body, secrets=[key]
        ),
        transport.REGION_HEADER: region,
    }


async def _events(ctx: AppContext, organisation_id: str) -> list[tuple[str, dict[str, Any]]]:
    async with ctx.database.read() as session:
        rows = await session.execute(
            select(OutboxEvent.event_type, OutboxEvent.payload)
            .where(OutboxEvent.organisation_id == organisation_id)
            .order_by(OutboxEvent.created_at, OutboxEvent.id)
        )
        return [(t, json.loads(p) if isinstance(p, str) else p) for t, p in rows]


class TestSignatures:
    async def test_the_hub_takes_only_what_the_region_signed_with_its_own_key(
        self, world: World
    ) -> None:
        body = b'{"items":[]}'
        url = HUB + "/hub/v1/submissions"
        a = parse_region_key(world.keys["a"])
        b = parse_region_key(world.keys["b"])
        refused = [
            {"content-type": "application/json"},  # unsigned
            _signed(body, direction_key(b, TO_HUB), "a"),  # b's key claiming to be a
            _signed(body, direction_key(a, TO_REGION), "a"),  # a callback reflected back
            _signed(body, direction_key(a, TO_HUB), "a", timestamp=int(time.time()) - 3600),
            _signed(body, direction_key(a, TO_HUB), "c"),  # an unknown region
            {"content-type": "application/json", "authorization": "Bearer vi_key"},
        ]
        for headers in refused:
            r = await world.http.post(url, content=body, headers=headers)
            assert r.status_code == 401, (headers, r.text)
            assert r.headers["content-type"] == "application/problem+json"
        ok = await world.http.post(
            url, content=body, headers=_signed(body, direction_key(a, TO_HUB), "a")
        )
        assert ok.status_code == 200, ok.text
        assert ok.json() == {"applied": 0, "duplicates": 0}

    async def test_a_region_takes_only_reports_the_hub_signed_for_it(self, world: World) -> None:
        body = b'{"messages":[]}'
        url = CALLBACK["a"] + "/federation/v1/reports"
        a = parse_region_key(world.keys["a"])
        b = parse_region_key(world.keys["b"])
        for headers in (
            _signed(body, direction_key(a, TO_HUB), "a"),  # the region's own request reflected
            _signed(body, direction_key(b, TO_REGION), "a"),  # b's callback key
            _signed(body, direction_key(a, TO_REGION), "b"),  # a's key, but addressed to b
            {"content-type": "application/json"},
        ):
            r = await world.http.post(url, content=body, headers=headers)
            assert r.status_code == 401, r.text
        ok = await world.http.post(
            url, content=body, headers=_signed(body, direction_key(a, TO_REGION), "a")
        )
        assert ok.status_code == 200 and ok.json() == {"applied": 0}

    async def test_the_hub_openapi_in_the_docs_is_the_code_s(self, world: World) -> None:
        documented = json.loads(
            (Path(__file__).parents[3] / "docs" / "hub-openapi.json").read_text()
        )
        assert documented == json.loads(json.dumps(world.hub.openapi()))

    async def test_the_hub_serves_its_routes_only(self, world: World) -> None:
        hub = httpx.AsyncClient(transport=httpx.ASGITransport(app=world.hub), base_url=HUB)
        async with hub:
            assert (await hub.get("/v1/matches")).status_code == 404
            assert (await hub.post("/v1/registrations", json={})).status_code == 404
            spec = (await hub.get("/openapi.json")).json()
        assert {"/hub/v1/submissions", "/hub/v1/catch-up"} <= set(spec["paths"])
        assert not any(p.startswith("/v1/") for p in spec["paths"])


class TestCrossRegionMatch:
    async def test_match_webhooks_idempotency_and_withdrawal(self, world: World) -> None:
        a_ctx, b_ctx, hub_ctx = world.ctx("a"), world.ctx("b"), world.ctx("hub")
        a_caller, b_caller = await make_caller(a_ctx, 1), await make_caller(b_ctx, 2)
        clients = {
            n: httpx.AsyncClient(
                transport=httpx.ASGITransport(app=world.regions[n]), base_url=CALLBACK[n]
            )
            for n in ("a", "b")
        }
        bsn = make_bsn(7)
        ra = await clients["a"].post(
            "/v1/registrations", json=registration_body(bsn), headers=a_caller.headers
        )
        rb = await clients["b"].post(
            "/v1/registrations", json=registration_body(bsn), headers=b_caller.headers
        )
        assert ra.status_code == rb.status_code == 201

        # The hand-off is in the outbox, not yet at the hub: registration never calls out.
        assert a_ctx.federation is not None and await a_ctx.federation.pending() == 1
        await world.sync()
        assert await a_ctx.federation.pending() == 0

        listed = (await clients["a"].get("/v1/matches", headers=a_caller.headers)).json()["items"]
        assert [m["scope"] for m in listed] == ["cross_region"]
        match_id = listed[0]["id"]
        read = (await clients["a"].get(f"/v1/matches/{match_id}", headers=a_caller.headers)).json()
        remote = next(p for p in read["participants"] if p["region"] == "b")
        mine = next(p for p in read["participants"] if p["region"] is None)
        assert mine["registration_id"] == ra.json()["id"]
        assert remote["organisation"] == {
            "id": b_caller.organisation_id,
            "name": "Organisation 2",
            "sector": remote["organisation"]["sector"],
        }
        # Both regions share contacts here: the professional is shown.
        assert remote["professional"]["email"] == "pro2@org.example"
        assert remote["registration_id"] != rb.json()["id"]  # b's opaque reference only

        created = await _events(a_ctx, a_caller.organisation_id)
        assert [(t, d["data"]["scope"]) for t, d in created] == [("match.created", "cross_region")]
        assert created[0][1]["data"]["registration_id"] == ra.json()["id"]

        # A retried hand-off and a redelivered report change nothing.
        async with hub_ctx.database.read() as session:
            before = (
                await session.execute(select(func.count()).select_from(HubRegistration))
            ).scalar_one()
        a_fed = a_ctx.federation
        item_body = json.dumps(
            {
                "items": [
                    {
                        "key": "01900000-0000-7000-8000-000000000001",
                        "kind": "active",
                        "reference": "r" * 44,
                        "federated_pseudonym": "f1." + "A" * 43,
                        "card": "c1.x",
                    }
                ]
            }
        ).encode()
        key_a = direction_key(parse_region_key(world.keys["a"]), TO_HUB)
        for expected in ({"applied": 1, "duplicates": 0}, {"applied": 0, "duplicates": 1}):
            r = await world.http.post(
                HUB + "/hub/v1/submissions",
                content=item_body,
                headers=_signed(item_body, key_a, "a"),
            )
            assert r.json() == expected
        async with hub_ctx.database.read() as session:
            after = (
                await session.execute(select(func.count()).select_from(HubRegistration))
            ).scalar_one()
        assert after == before + 1
        report = {
            "messages": [
                {
                    "key": "k1",
                    "match_id": match_id,
                    "version": 1,
                    "status": "open",
                    "created_at": "2026-03-02T09:30:00Z",
                    "closed_at": None,
                    "participants": [],
                }
            ]
        }
        raw = json.dumps(report).encode()
        to_a = direction_key(parse_region_key(world.keys["a"]), TO_REGION)
        r = await world.http.post(
            CALLBACK["a"] + "/federation/v1/reports", content=raw, headers=_signed(raw, to_a, "a")
        )
        assert r.json() == {"applied": 0}  # an old version
        assert len(await _events(a_ctx, a_caller.organisation_id)) == 1

        # b withdraws: the participant leaves and the cross-region match closes in a.
        w = await clients["b"].post(
            f"/v1/registrations/{rb.json()['id']}/withdraw",
            json={"reason": "unjustified"},
            headers=b_caller.headers,
        )
        assert w.status_code == 200
        await world.sync()
        read = (await clients["a"].get(f"/v1/matches/{match_id}", headers=a_caller.headers)).json()
        assert read["status"] == "closed"
        assert all(p["left_at"] is not None for p in read["participants"])
        types = [t for t, _ in await _events(a_ctx, a_caller.organisation_id)]
        assert sorted(types) == ["match.closed", "match.created", "match.participant_left"]
        async with hub_ctx.database.read() as session:
            matches = list((await session.execute(select(HubMatch.status))).scalars())
        assert [str(s) for s in matches] == ["closed"]
        assert a_fed is a_ctx.federation

        # Both regions' access logs hold the hand-offs and the applied reports.
        for ctx in (a_ctx, b_ctx):
            async with ctx.database.read() as session:
                operations = set(
                    (await session.execute(select(AccessLogRecord.operation))).scalars()
                )
            assert {"federation.handoff", "federation.report"} <= operations

        # Retention at the hub: the closed match and the ended registrations go; the active
        # one (and the test's own registration) stay.
        assert hub_ctx.hub is not None
        assert await hub_ctx.hub.purge() == 1
        async with hub_ctx.database.read() as session:
            assert not list((await session.execute(select(HubMatch.id))).scalars())
            left = list((await session.execute(select(HubRegistration.active))).scalars())
        assert left == [True, True]
        for c in clients.values():
            await c.aclose()


class TestLeaving:
    async def test_a_participant_leaves_and_the_match_stays_open_while_two_regions_remain(
        self, world: World
    ) -> None:
        a_ctx, b_ctx = world.ctx("a"), world.ctx("b")
        a1, a2 = await make_caller(a_ctx, 1), await make_caller(a_ctx, 3)
        b1 = await make_caller(b_ctx, 2)
        bsn = make_bsn(51)
        made = {}
        for name, caller in (("a1", a1), ("a2", a2), ("b1", b1)):
            app = world.regions[name[0]]
            async with httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url=CALLBACK[name[0]]
            ) as client:
                r = await client.post(
                    "/v1/registrations", json=registration_body(bsn), headers=caller.headers
                )
                assert r.status_code == 201
                made[name] = r.json()["id"]
        await world.sync()
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=world.regions["a"]), base_url=CALLBACK["a"]
        ) as client:
            listed = (await client.get("/v1/matches", headers=a1.headers)).json()["items"]
            assert sorted(m["scope"] for m in listed) == ["cross_region", "regional"]
            cross = next(m["id"] for m in listed if m["scope"] == "cross_region")
            w = await client.post(
                f"/v1/registrations/{made['a2']}/withdraw",
                json={"reason": "other"},
                headers=a2.headers,
            )
            assert w.status_code == 200
            await world.sync()
            read = (await client.get(f"/v1/matches/{cross}", headers=a1.headers)).json()
        assert read["status"] == "open"
        left = {p["registration_id"]: p["left_at"] for p in read["participants"]}
        assert left[made["a2"]] is not None and left[made["a1"]] is None
        for ctx, caller in ((b_ctx, b1), (a_ctx, a1)):
            kinds = [
                (t, d["data"].get("participant_region"))
                for t, d in await _events(ctx, caller.organisation_id)
                if d["data"].get("scope") == "cross_region"
            ]
            assert sorted(kinds, key=str) == [
                ("match.created", None),
                ("match.participant_left", "a"),
            ]


async def _in_both_regions(world: World, callers: dict[str, Caller], bsn: str) -> dict[str, str]:
    """Register the youth in region a and in region b, then let the hub match them; the two
    registrations' ids by region."""
    registered = {}
    for name in ("a", "b"):
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=world.regions[name]), base_url=CALLBACK[name]
        )
        async with client:
            r = await client.post(
                "/v1/registrations", json=registration_body(bsn), headers=callers[name].headers
            )
            assert r.status_code == 201
            registered[name] = str(r.json()["id"])
    await world.sync()
    return registered


class TestSubjectAccess:
    async def test_the_report_lists_the_youths_cross_region_matches(self, world: World) -> None:
        a_ctx, b_ctx = world.ctx("a"), world.ctx("b")
        callers = {"a": await make_caller(a_ctx, 1), "b": await make_caller(b_ctx, 2)}
        bsn = make_bsn(42)
        registered = await _in_both_regions(world, callers, bsn)
        officer = await privacy_officer_headers(a_ctx)
        client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=world.regions["a"]), base_url=CALLBACK["a"]
        )
        async with client:
            r = await client.post("/v1/subject-access", json={"bsn": bsn}, headers=officer)
            other = await client.post(
                "/v1/subject-access", json={"bsn": make_bsn(43)}, headers=officer
            )
        assert r.status_code == 200, r.text
        [match] = r.json()["cross_region_matches"]
        assert match["status"] == "open" and r.json()["matches"] == []
        by_region = {p["region"]: p for p in match["participants"]}
        assert set(by_region) == {None, "b"}
        assert by_region[None]["registration_id"] == registered["a"]
        assert by_region[None]["organisation"]["id"] == callers["a"].organisation_id
        assert by_region["b"]["registration_id"] is None  # another region's id is not ours
        assert by_region["b"]["organisation"]["name"] == "Organisation 2"
        assert other.json()["cross_region_matches"] == []


class TestErasure:
    async def test_an_erasure_ends_the_cross_region_match_and_leaves_no_reference(
        self, world: World, clock: FrozenClock
    ) -> None:
        a_ctx, b_ctx = world.ctx("a"), world.ctx("b")
        callers = {"a": await make_caller(a_ctx, 1), "b": await make_caller(b_ctx, 2)}
        bsn = make_bsn(41)
        await _in_both_regions(world, callers, bsn)
        report = await b_ctx.subject_rights.request_erasure(
            AccessContext.system(role="privacy-officer", started_at=clock.now()),
            bsn=parse_bsn(bsn),
            reason="art. 17",
            request_reference="req-1",
            actor_organisation_id=None,
        )
        assert any(e.name == "federation" and e.erased == 1 for e in report.extensions)
        async with b_ctx.database.read() as session:
            assert not list((await session.execute(select(FederatedParticipant.id))).scalars())
            assert not list((await session.execute(select(FederatedMatch.id))).scalars())
        await world.sync()
        async with a_ctx.database.read() as session:
            statuses = list((await session.execute(select(FederatedMatch.status))).scalars())
        assert [str(s) for s in statuses] == ["closed"]
        async with b_ctx.database.read() as session:  # the closing report stored nothing
            assert not list((await session.execute(select(FederatedMatch.id))).scalars())


class TestSubjectTokenInput:
    @pytest.mark.parametrize("federation_input", ["subject-token"])
    async def test_the_subject_token_matches_across_regions_without_a_bsn(
        self, world: World, clock: FrozenClock, tmp_path: Path
    ) -> None:
        """Both regions use one key service: a direct registration in one region (the index
        obtains the youth's token itself) and a blind one in the other (the organisation's
        token) are handed off by subject token and match at the hub; a direct registration in
        a region without a key service has no token and stays regional."""
        a_ctx, b_ctx = world.ctx("a"), world.ctx("b")
        callers = {"a": await make_caller(a_ctx, 1), "b": await make_caller(b_ctx, 2)}
        direct = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=world.regions["a"]), base_url=CALLBACK["a"]
        )
        async with direct:
            r = await direct.post(
                "/v1/registrations",
                json=registration_body(make_bsn(31)),
                headers=callers["a"].headers,
            )
            assert r.status_code == 201
            assert a_ctx.federation is not None and await a_ctx.federation.pending() == 0

            async with in_process_key_service(tmp_path / "keyservice") as organisation_keys:
                for ctx in (a_ctx, b_ctx):
                    attach_key_service(ctx, organisation_keys.index_client)  # type: ignore[attr-defined]
                r = await direct.post(
                    "/v1/registrations",
                    json=registration_body(make_bsn(32)),
                    headers=callers["a"].headers,
                )
                assert r.status_code == 201
                assert await a_ctx.federation.pending() == 1
                (tokens,) = await organisation_keys.tokens([parse_bsn(make_bsn(32))])
                token = SubjectToken(tokens.current)
                await b_ctx.registrations.register(
                    AccessContext.system(role="operator", started_at=clock.now()),
                    RegistrationRequest(
                        actor=Actor(callers["b"].organisation_id, callers["b"].professional_id),
                        bsn=None,
                        birth_date="2012-05-01",
                        subject_token=token,
                    ),
                )
        await world.sync()
        hub = world.ctx("hub")
        async with hub.database.read() as session:
            stored = list(
                (await session.execute(select(HubRegistration.federated_pseudonym))).scalars()
            )
            matches = list((await session.execute(select(HubMatch.status))).scalars())
        keys = FederationKeys.from_setting(world.federation_key, version=1)
        assert stored == [keys.federated_pseudonym(token_input(token))] * 2
        assert [str(m) for m in matches] == ["open"]


class TestKeys:
    def test_the_federated_pseudonym_is_neither_a_regional_pseudonym_nor_derivable_from_one(
        self,
    ) -> None:
        master = secrets.token_bytes(32)
        bsn = parse_bsn(make_bsn(11))
        federated = FederationKeys.from_setting(base64.b64encode(master).decode(), version=1)
        value = federated.federated_pseudonym(bsn_input(bsn))
        assert value.startswith("f1.") and len(value) == 46
        # Even under the very same secret, the regional pseudonym is another HKDF purpose.
        regional = PseudonymKey.derive(master_key=master, version=1)
        assert regional.pseudonymise(bsn).partition(".")[2] != value.partition(".")[2]
        other = FederationKeys.from_setting(
            base64.b64encode(secrets.token_bytes(32)).decode(), version=1
        )
        assert other.federated_pseudonym(bsn_input(bsn)) != value

    def test_a_card_opens_only_for_its_region_and_reference_under_the_federation_key(self) -> None:
        keys = FederationKeys.from_setting(
            base64.b64encode(secrets.token_bytes(32)).decode(), version=1
        )
        card = {"organisation": {"id": "o", "name": "N", "sector": "care"}}
        sealed = keys.seal_card(card, region="a", reference="ref1")
        assert keys.open_card(sealed, region="a", reference="ref1") == card
        assert keys.open_card(sealed, region="b", reference="ref1") is None
        assert keys.open_card(sealed, region="a", reference="ref2") is None
        other = FederationKeys.from_setting(
            base64.b64encode(secrets.token_bytes(32)).decode(), version=1
        )
        assert other.open_card(sealed, region="a", reference="ref1") is None
        assert b"care" not in sealed.encode()


class TestConfiguration:
    def _region(self, tmp_path: Path, **extra: Any) -> Settings:
        values: dict[str, Any] = {
            "data_dir": tmp_path,
            "federation_region_id": "a",
            "federation_hub_url": "http://127.0.0.1:9001",
            "federation_region_key": "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
            "federation_key": base64.b64encode(secrets.token_bytes(32)).decode(),
        }
        return Settings(**{**values, **extra})

    @pytest.mark.parametrize(
        "url",
        [
            "http://10.0.0.5:8080",
            "http://169.254.169.254",
            "http://192.168.1.1",
            "http://[::ffff:10.0.0.1]",
            "http://user:pw@127.0.0.1:9001",
            "ftp://127.0.0.1",
        ],
    )
    def test_a_hub_url_is_checked_like_a_webhook_url(self, tmp_path: Path, url: str) -> None:
        with pytest.raises(ConfigurationError):
            build_context(self._region(tmp_path, federation_hub_url=url), clock=_CLOCK)

    def test_development_reaches_a_hub_on_loopback(self, tmp_path: Path) -> None:
        ctx = build_context(self._region(tmp_path), clock=_CLOCK)
        assert ctx.federation is not None and ctx.federation.region == "a"

    def test_half_a_federation_and_a_hub_with_the_federation_key_are_refused(
        self, tmp_path: Path
    ) -> None:
        with pytest.raises(ValueError, match="together"):
            Settings(data_dir=tmp_path, federation_region_id="a")
        with pytest.raises(ValueError, match="never holds"):
            Settings(
                data_dir=tmp_path,
                role="hub",
                federation_key=base64.b64encode(secrets.token_bytes(32)).decode(),
            )

    async def test_the_hub_refuses_a_callback_url_outside_loopback(self, world: World) -> None:
        hub = world.ctx("hub").hub
        assert hub is not None
        for url in ("http://10.1.2.3/", "http://169.254.169.254/", "gopher://127.0.0.1/"):
            with pytest.raises(ConfigurationError):
                await hub.add_region("c", url)


def test_production_refuses_a_weak_federation_key_and_a_hub_over_http(tmp_path: Path) -> None:
    from verwijsindex.production import check_production

    weak = base64.b64encode(b"federation-key-federation-key-12").decode()
    settings = Settings(
        env="production",
        data_dir=tmp_path,
        database_url="postgresql+asyncpg://127.0.0.1/x",
        federation_region_id="a",
        federation_hub_url="https://hub.example.org",
        federation_region_key="whsec_" + base64.b64encode(secrets.token_bytes(32)).decode(),
        federation_key=weak,
    )
    with pytest.raises(ConfigurationError, match="FEDERATION_KEY"):
        check_production(settings)
    from pydantic import SecretStr

    strong = settings.model_copy(
        update={"federation_key": SecretStr(base64.b64encode(secrets.token_bytes(32)).decode())}
    )
    check_production(strong)
    with pytest.raises(ConfigurationError, match="refused"):
        transport.check_url("http://hub.example.org", strong)
    transport.check_url("https://hub.example.org", strong)

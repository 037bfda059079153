"""A small world for coordination tests: organisations of chosen sectors with a professional
each, the municipality with its municipality-admin, and a youth registered by several."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.conftest import Caller, make_bsn, make_caller, registration_body
from verwijsindex.context import AppContext


@dataclass
class Org:
    sector: str
    caller: Caller

    @property
    def id(self) -> str:
        return self.caller.organisation_id

    @property
    def headers(self) -> dict[str, str]:
        return self.caller.headers


@dataclass
class World:
    ctx: AppContext
    client: httpx.AsyncClient
    orgs: dict[str, Org] = field(default_factory=dict)
    municipality_id: str = ""
    municipality_headers: dict[str, str] = field(default_factory=dict)
    youths: int = 0

    async def register(self, bsn: str, *names: str) -> tuple[str | None, dict[str, str]]:
        """Register the youth at each named organisation in turn: the match id (or None)
        and each organisation's registration id."""
        match_id = None
        registrations = {}
        for name in names:
            r = await self.client.post(
                "/v1/registrations", json=registration_body(bsn), headers=self.orgs[name].headers
            )
            assert r.status_code in (200, 201), r.text
            registrations[name] = r.json()["id"]
            match_id = r.json()["match_id"] or match_id
        return match_id, registrations

    def bsn(self) -> str:
        self.youths += 1
        return make_bsn(5000 + self.youths)

    async def act(
        self, who: str, match_id: str, action: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        headers = self.municipality_headers if who == "M" else self.orgs[who].headers
        return await self.client.post(
            f"/v1/matches/{match_id}/coordination/{action}", json=body, headers=headers
        )

    async def coordination(self, who: str, match_id: str) -> dict[str, Any]:
        headers = self.municipality_headers if who == "M" else self.orgs[who].headers
        r = await self.client.get(f"/v1/matches/{match_id}/coordination", headers=headers)
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        return body


async def make_world(ctx: AppContext, client: httpx.AsyncClient, sectors: dict[str, str]) -> World:
    ctx.settings.rate_limit_professional_per_minute = 0
    ctx.settings.rate_limit_professional_per_day = 0
    ctx.settings.rate_limit_organisation_per_minute = 0
    world = World(ctx=ctx, client=client)
    async with ctx.database.transaction() as session:
        made = {}
        for name, sector in sectors.items():
            made[name] = await ctx.admin.create_organisation(
                session, name=f"Organisation {name}", sector=sector, municipality="0363"
            )
        municipality = await ctx.admin.create_organisation(
            session, name="Gemeente", sector="municipality", municipality="0363"
        )
        key = await ctx.admin.create_api_key(
            session, organisation_id=municipality.id, role="municipality-admin"
        )
    for n, (name, sector) in enumerate(sectors.items()):
        caller = await make_caller(ctx, 700 + n, organisation_id=made[name].id)
        world.orgs[name] = Org(sector, caller)
    world.municipality_id = municipality.id
    world.municipality_headers = {"Authorization": f"Bearer {key.key}"}
    return world


CLOSE = {"reason": ["risks-covered", "aftercare-arranged", "registering-professionals-told"]}


FAST_SECTORS = {"care": "youth-care", "protect": "youth-protection", "school": "education"}
FAST = {
    "coordinator_sectors": ["youth-protection", "youth-care", "education"],
    "respond_within": "PT2S",
    "coordinate_within": "PT10S",
}
"""A covenant of seconds (development accepts them) for trying the deadlines out."""


async def make_fast_world(ctx: AppContext, client: httpx.AsyncClient) -> World:
    """Three organisations (care, protect, school) under the :data:`FAST` covenant."""
    world = await make_world(ctx, client, FAST_SECTORS)
    r = await client.put(
        "/v1/municipalities/0363/covenant", json=FAST, headers=world.municipality_headers
    )
    assert r.status_code == 200
    return world

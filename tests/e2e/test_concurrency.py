"""Real concurrent requests against a real server: exactly one match, one registration."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import Caller, make_caller
from tests.e2e.conftest import Server
from verwijsindex.clock import SystemClock
from verwijsindex.context import build_context
from verwijsindex.matches.models import Match, MatchParticipant
from verwijsindex.registrations.models import Registration
from verwijsindex.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def _callers(
    database_url: str, tmp_path: Path, n: int, *, same_org: bool = False
) -> list[Caller]:
    ctx = build_context(Settings(database_url=database_url, data_dir=tmp_path), clock=SystemClock())
    try:
        first = await make_caller(ctx, 0)
        out = [first]
        for i in range(1, n):
            out.append(
                await make_caller(
                    ctx, i, organisation_id=first.organisation_id if same_org else None
                )
            )
        return out
    finally:
        await ctx.database.dispose()


async def _counts(database_url: str, tmp_path: Path) -> tuple[int, int, int]:
    ctx = build_context(Settings(database_url=database_url, data_dir=tmp_path), clock=SystemClock())
    try:
        async with ctx.database.transaction() as s:
            regs = (await s.execute(select(func.count()).select_from(Registration))).scalar_one()
            matches = (await s.execute(select(func.count()).select_from(Match))).scalar_one()
            parts = (
                await s.execute(select(func.count()).select_from(MatchParticipant))
            ).scalar_one()
        return regs, matches, parts
    finally:
        await ctx.database.dispose()


async def _fire(
    server: Server, requests: list[dict[str, str]], body: dict[str, str]
) -> list[httpx.Response]:
    limits = httpx.Limits(max_connections=len(requests))
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as http:
        gate = asyncio.Event()

        async def one(headers: dict[str, str]) -> httpx.Response:
            await gate.wait()
            return await http.post("/v1/registrations", json=body, headers=headers)

        tasks = [asyncio.create_task(one(h)) for h in requests]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(*tasks)


class TestConcurrentRegistration:
    async def test_fifty_professionals_at_once_make_exactly_one_match(
        self, server: Server, database_url: str, tmp_path: Path
    ) -> None:
        callers = await _callers(database_url, tmp_path, 50)
        responses = await _fire(
            server, [c.headers for c in callers], {"bsn": "999999990", "birth_date": "2010-10-10"}
        )
        assert [r.status_code for r in responses] == [201] * 50
        match_ids = {r.json()["match_id"] for r in responses} - {None}
        assert len(match_ids) == 1
        assert sum(r.json()["match_id"] is None for r in responses) == 1  # the very first
        assert await _counts(database_url, tmp_path) == (50, 1, 50)
        async with httpx.AsyncClient(base_url=server.base_url) as http:
            match = await http.get(f"/v1/matches/{match_ids.pop()}", headers=callers[7].headers)
        assert len(match.json()["participants"]) == 50

    async def test_two_professionals_at_once_many_times(
        self, server: Server, database_url: str, tmp_path: Path
    ) -> None:
        from tests.conftest import make_bsn

        callers = await _callers(database_url, tmp_path, 2)
        for i in range(20):
            responses = await _fire(
                server,
                [c.headers for c in callers],
                {"bsn": make_bsn(i), "birth_date": "2011-02-03"},
            )
            assert sorted(r.status_code for r in responses) == [201, 201]
            assert len({r.json()["match_id"] for r in responses} - {None}) == 1
        assert await _counts(database_url, tmp_path) == (40, 20, 40)

    async def test_same_professional_racing_itself_makes_one_registration(
        self, server: Server, database_url: str, tmp_path: Path
    ) -> None:
        (caller,) = await _callers(database_url, tmp_path, 1)
        responses = await _fire(
            server, [caller.headers] * 20, {"bsn": "111222333", "birth_date": "2010-10-10"}
        )
        assert sorted(r.status_code for r in responses) == [200] * 19 + [201]
        assert len({r.json()["id"] for r in responses}) == 1
        assert await _counts(database_url, tmp_path) == (1, 0, 0)

"""Real concurrent requests against a real server: thirty professionals registering thirty
siblings of one parent at once make exactly one family match with thirty participants."""

from __future__ import annotations

import asyncio
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from tests.conftest import make_bsn
from tests.e2e.conftest import Server
from tests.e2e.test_concurrency import _callers
from verwijsindex.clock import SystemClock
from verwijsindex.context import build_context
from verwijsindex.families.models import FamilyMatch, FamilyMatchParticipant
from verwijsindex.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

PARENT = make_bsn(5000)


async def _family_counts(database_url: str, tmp_path: Path) -> tuple[int, int, int]:
    ctx = build_context(Settings(database_url=database_url, data_dir=tmp_path), clock=SystemClock())
    try:
        async with ctx.database.transaction() as s:
            families = (await s.execute(select(func.count()).select_from(FamilyMatch))).scalar_one()
            current = (
                await s.execute(
                    select(func.count())
                    .select_from(FamilyMatchParticipant)
                    .where(FamilyMatchParticipant.left_at.is_(None))
                )
            ).scalar_one()
            closed = (
                await s.execute(
                    select(func.count())
                    .select_from(FamilyMatch)
                    .where(FamilyMatch.status != "open")
                )
            ).scalar_one()
        return families, current, closed
    finally:
        await ctx.database.dispose()


async def test_thirty_siblings_of_one_parent_at_once_make_one_family_match(
    server: Server, database_url: str, tmp_path: Path
) -> None:
    callers = await _callers(database_url, tmp_path, 30)
    limits = httpx.Limits(max_connections=30)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as http:
        gate = asyncio.Event()

        async def one(n: int) -> httpx.Response:
            await gate.wait()
            return await http.post(
                "/v1/registrations",
                json={
                    "bsn": make_bsn(6000 + n),
                    "birth_date": "2012-02-02",
                    "parents": [{"bsn": PARENT}],
                },
                headers=callers[n].headers,
            )

        tasks = [asyncio.create_task(one(n)) for n in range(30)]
        await asyncio.sleep(0.05)
        gate.set()
        responses = await asyncio.gather(*tasks)
        assert [r.status_code for r in responses] == [201] * 30
        family_ids = {r.json()["family_match_id"] for r in responses} - {None}
        assert len(family_ids) == 1
        assert sum(r.json()["family_match_id"] is None for r in responses) == 1  # the first
        family_id = family_ids.pop()
        assert await _family_counts(database_url, tmp_path) == (1, 30, 0)
        seen = await http.get(f"/v1/family-matches/{family_id}", headers=callers[11].headers)
        assert seen.status_code == 200
        participants = seen.json()["participants"]
        assert len(participants) == 30
        assert {p["organisation"]["id"] for p in participants} == {
            c.organisation_id for c in callers
        }
        assert PARENT not in seen.text
    assert PARENT not in server.logs()

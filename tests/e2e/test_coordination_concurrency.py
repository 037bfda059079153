"""Coordination under real concurrency: ``serve --workers 2`` answering accepts that arrive at
the same moment on separate connections, and a ``verwijsindex sweep`` killed with SIGKILL
half-way. Both databases."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from tests.conftest import make_bsn, make_caller
from tests.e2e.conftest import Server, start_server
from tests.e2e.test_workers import NO_RATE_LIMITS
from verwijsindex.clock import SystemClock
from verwijsindex.context import build_context
from verwijsindex.coordination.models import Coordination, CoordinationEvent
from verwijsindex.registrations.index import Actor, RegistrationRequest
from verwijsindex.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


async def _setup(database_url: str, tmp_path: Path) -> dict[str, Any]:
    """A youth-care and a youth-protection organisation (proposed first by the default
    covenant), and the municipality's admin key."""
    ctx = build_context(Settings(database_url=database_url, data_dir=tmp_path), clock=SystemClock())
    try:
        async with ctx.database.transaction() as session:
            orgs = {
                name: await ctx.admin.create_organisation(
                    session, name=name, sector=sector, municipality="0363"
                )
                for name, sector in (("care", "youth-care"), ("protect", "youth-protection"))
            }
            municipality = await ctx.admin.create_organisation(
                session, name="Gemeente", sector="municipality", municipality="0363"
            )
            key = await ctx.admin.create_api_key(
                session, organisation_id=municipality.id, role="municipality-admin"
            )
        callers = {
            name: await make_caller(ctx, n, organisation_id=org.id)
            for n, (name, org) in enumerate(orgs.items())
        }
        return {"callers": callers, "municipality": {"Authorization": f"Bearer {key.key}"}}
    finally:
        await ctx.database.dispose()


async def _history(database_url: str, tmp_path: Path, match_id: str) -> list[str]:
    ctx = build_context(Settings(database_url=database_url, data_dir=tmp_path), clock=SystemClock())
    try:
        async with ctx.database.read() as session:
            rows = await session.execute(
                select(CoordinationEvent.action)
                .where(CoordinationEvent.match_id == match_id)
                .order_by(CoordinationEvent.at, CoordinationEvent.id)
            )
            return list(rows.scalars())
    finally:
        await ctx.database.dispose()


@pytest.fixture
def workers_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    srv = start_server(
        database_url, tmp_path, "--workers", "2", "--no-webhook-worker", **NO_RATE_LIMITS
    )
    try:
        yield srv
    finally:
        srv.stop()


class TestSimultaneousAccepts:
    async def test_exactly_one_coordinator(
        self, workers_server: Server, database_url: str, tmp_path: Path
    ) -> None:
        world = await _setup(database_url, tmp_path)
        care, protect = world["callers"]["care"], world["callers"]["protect"]
        limits = httpx.Limits(max_connections=32, max_keepalive_connections=0)
        async with httpx.AsyncClient(
            base_url=workers_server.base_url, timeout=60, limits=limits
        ) as http:
            for round_ in range(3):
                body = {"bsn": make_bsn(9000 + round_), "birth_date": "2012-05-01"}
                await http.post("/v1/registrations", json=body, headers=care.headers)
                r = await http.post("/v1/registrations", json=body, headers=protect.headers)
                match_id = r.json()["match_id"]
                gate = asyncio.Event()

                async def accept(
                    headers: dict[str, str], path: str, gate: asyncio.Event = gate
                ) -> httpx.Response:
                    await gate.wait()
                    return await http.post(path, headers=headers)

                path = f"/v1/matches/{match_id}/coordination/accept"
                tasks = [
                    asyncio.create_task(accept(caller.headers, path))
                    for _ in range(6)
                    for caller in (care, protect)
                ]
                await asyncio.sleep(0.05)
                gate.set()
                responses = await asyncio.gather(*tasks)
                statuses = sorted(r.status_code for r in responses)
                assert 500 not in statuses
                assert statuses.count(200) == 1, statuses
                assert set(statuses) <= {200, 403, 409}, statuses
                for response in responses:
                    if response.status_code != 200:
                        assert response.headers["content-type"] == "application/problem+json"
                r = await http.get(f"/v1/matches/{match_id}", headers=care.headers)
                coordination = r.json()["coordination"]
                assert coordination["status"] == "accepted"
                assert coordination["coordinator"]["organisation_id"] == protect.organisation_id
                actions = await _history(database_url, tmp_path, match_id)
                assert actions == ["start", "accept"]


class TestSweepKilled:
    async def test_kill_9_neither_doubles_nor_misses(
        self, database_url: str, tmp_path: Path
    ) -> None:
        world = await _setup(database_url, tmp_path)
        care, protect = world["callers"]["care"], world["callers"]["protect"]
        settings = Settings(database_url=database_url, data_dir=tmp_path)
        ctx = build_context(settings, clock=SystemClock())
        count = 300
        try:
            for caller in (care, protect):
                who = Actor(caller.organisation_id, caller.professional_id)
                async with ctx.database.transaction() as session:
                    await ctx.index.register_many(
                        session,
                        [
                            RegistrationRequest(
                                actor=who, bsn=make_bsn(20000 + i), birth_date="2012-05-01"
                            )
                            for i in range(count)
                        ],
                    )
            async with ctx.database.transaction() as session:
                await session.execute(
                    update(Coordination).values(due_at=datetime.now(UTC) - timedelta(hours=1))
                )
        finally:
            await ctx.database.dispose()
        env = {
            **os.environ,
            "VERWIJSINDEX_DATABASE_URL": database_url,
            "VERWIJSINDEX_DATA_DIR": str(tmp_path),
        }
        process = subprocess.Popen(  # noqa: ASYNC220  (killed below, never awaited)
            [sys.executable, "-m", "verwijsindex.cli", "sweep"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        escalated = 0
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            escalated = await _escalated(database_url, tmp_path)
            if escalated >= 20:
                break
            await asyncio.sleep(0.02)
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert escalated < count, "the sweep finished before it could be killed"
        subprocess.run(  # noqa: ASYNC221  (the test waits for it on purpose)
            [sys.executable, "-m", "verwijsindex.cli", "sweep"], env=env, check=True, timeout=120
        )
        assert await _escalated(database_url, tmp_path) == count
        ctx = build_context(settings, clock=SystemClock())
        try:
            async with ctx.database.read() as session:
                per_match = (
                    await session.execute(
                        select(CoordinationEvent.match_id, func.count())
                        .where(CoordinationEvent.action == "respond-deadline")
                        .group_by(CoordinationEvent.match_id)
                    )
                ).all()
        finally:
            await ctx.database.dispose()
        assert len(per_match) == count
        assert {n for _, n in per_match} == {1}


async def _escalated(database_url: str, tmp_path: Path) -> int:
    ctx = build_context(Settings(database_url=database_url, data_dir=tmp_path), clock=SystemClock())
    try:
        async with ctx.database.read() as session:
            return int(
                (
                    await session.execute(
                        select(func.count())
                        .select_from(Coordination)
                        .where(Coordination.status == "escalated")
                    )
                ).scalar_one()
            )
    finally:
        await ctx.database.dispose()

"""Concurrent API reads reuse the pool's connections: a burst of reads opens connections once
and keeps them (on PostgreSQL a connection opened and closed per burst cost ~1.3 ms of CPU,
more than the read). On both databases."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from tests.conftest import Caller, make_bsn, registration_body
from verwijsindex.context import AppContext
from verwijsindex.settings import Settings

POOL = 2
READERS = 4 * POOL


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        run_sweeper=False,
        auto_migrate=False,
        db_pool_size=POOL,
    )


async def test_bursts_of_reads_open_no_new_connections(
    client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
) -> None:
    made = []
    for n in range(READERS):
        r = await client.post(
            "/v1/registrations", json=registration_body(make_bsn(n)), headers=callers[0].headers
        )
        made.append(r.json()["id"])

    async def burst() -> None:
        reads = await asyncio.gather(
            *(client.get(f"/v1/registrations/{i}", headers=callers[0].headers) for i in made)
        )
        assert [r.status_code for r in reads] == [200] * READERS

    await burst()  # opens what the reads need
    opened: list[Any] = []
    db = ctx.database
    engines = [e.sync_engine for e in (db.engine, db.read_engine) if e]
    for engine in engines:
        event.listen(engine, "connect", lambda *_: opened.append(1))
    for _ in range(3):
        await burst()
    assert opened == []

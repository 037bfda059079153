"""SQLite: the service copies the write-ahead log into the database file in the background."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_bsn, make_caller, registration_body
from verwijsindex.api import create_app
from verwijsindex.settings import Settings

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

_GUARD = 200  # ticks of 0.05 s: a bound against a hang, not a timing assertion


async def _registrations_in_main_file(database: str, tmp_path: Path) -> int:
    # A copy of the database file alone, without its -wal: only checkpointed pages are in it.
    copy = tmp_path / "main-file-only.db"
    shutil.copyfile(database, copy)
    with sqlite3.connect(copy) as conn:
        return int(conn.execute("SELECT count(*) FROM registrations").fetchone()[0])


@pytest.mark.parametrize("interval", [0.05, 0.0])
async def test_committed_registrations_reach_the_database_file(
    settings: Settings, tmp_path: Path, interval: float
) -> None:
    settings = settings.model_copy(
        update={"sqlite_checkpoint_interval_s": interval, "group_commit": True}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ctx = app.state.ctx
        database = ctx.database.path
        assert database is not None
        caller = await make_caller(ctx, 1)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for i in range(5):
                r = await client.post(
                    "/v1/registrations", json=registration_body(make_bsn(i)), headers=caller.headers
                )
                assert r.status_code == 201
        stats = app.state.checkpoints
        before = stats.runs
        for _ in range(_GUARD):
            if interval == 0 or stats.runs >= before + 1:
                break
            await asyncio.sleep(0.05)
        found = await _registrations_in_main_file(database, tmp_path)
    if interval:
        assert stats.runs > before and found == 5
    else:
        # Off: a handful of commits stay in the log (SQLite checkpoints at 1,000 pages).
        assert stats.runs == 0 and found == 0

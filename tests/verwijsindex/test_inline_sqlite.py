"""SQLite write groups: BEGIN runs on the event loop's thread when the write lock is free, and
waits in a worker thread (the loop stays free) while another process holds it."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.context import AppContext
from verwijsindex.db import inline_sqlite
from verwijsindex.db.engine import Database
from verwijsindex.domain.models import Organisation
from verwijsindex.settings import Settings

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

_GUARD = 200  # ticks of 0.01 s: a bound against a hang, not a timing assertion


class _ThreadCalls:
    """Records which statements the inline connection hands to a worker thread."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.statements: list[str] = []
        real = asyncio.to_thread

        async def spy(function: Any, *args: Any, **kwargs: Any) -> Any:
            if not isinstance(
                getattr(function, "__self__", None), sqlite3.Cursor | sqlite3.Connection
            ):
                pass
            elif args and isinstance(args[0], str):
                self.statements.append(args[0].split()[0].upper())
            elif getattr(function, "__name__", None) == "commit":
                self.statements.append("COMMIT")
            return await real(function, *args, **kwargs)

        monkeypatch.setattr(inline_sqlite.asyncio, "to_thread", spy)


async def _add_organisation(ctx: AppContext, session: AsyncSession, name: str) -> None:
    await ctx.admin.create_organisation(session, name=name, sector="other", municipality="0363")


async def _count(database: Database) -> int:
    async with database.read() as session:
        result = await session.execute(select(func.count()).select_from(Organisation))
        return int(result.scalar_one())


async def test_begin_runs_inline_when_the_write_lock_is_free(
    ctx: AppContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = ctx.database
    calls = _ThreadCalls(monkeypatch)
    before = await _count(database)
    for n in range(3):
        async with database.transaction(grouped=True) as session:
            await _add_organisation(ctx, session, f"inline {n}")
    assert await _count(database) == before + 3
    assert "BEGIN" not in calls.statements  # no thread hop to start a transaction
    assert calls.statements.count("COMMIT") == 3  # the fsync stays off the event loop


async def test_begin_waits_off_the_loop_while_another_process_writes(
    ctx: AppContext, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    database = ctx.database
    assert database.path is not None
    before = await _count(database)
    # Another process's writer, holding SQLite's write lock.
    other = sqlite3.connect(database.path, isolation_level=None, check_same_thread=False)
    # In a thread: the service's own background writers may hold the lock for a moment and
    # need the event loop to finish.
    await asyncio.to_thread(other.execute, "BEGIN IMMEDIATE")
    calls = _ThreadCalls(monkeypatch)
    try:

        async def write() -> None:
            async with database.transaction(grouped=True) as session:
                await _add_organisation(ctx, session, "after the other writer")

        task = asyncio.create_task(write())
        ticks = 0
        while "BEGIN" not in calls.statements and ticks < _GUARD:
            await asyncio.sleep(0.01)  # the loop keeps running while the group waits
            ticks += 1
        assert "BEGIN" in calls.statements  # it waits in a worker thread ...
        assert not task.done()  # ... for the other writer, not failing at once
    finally:
        other.execute("COMMIT")
        other.close()
    await task
    assert await _count(database) == before + 1
    assert settings.sqlite_busy_timeout_ms > 0

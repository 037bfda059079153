"""SQLite write groups: BEGIN runs on the event loop's thread when the write lock is free, and
waits in a worker thread (the loop stays free) while another process holds it."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.organisations.models import Organisation
from verwijsindex.settings import Settings
from verwijsindex.storage import inline_sqlite
from verwijsindex.storage.engine import Database, create_database

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

_NOW = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)
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


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    """The service's database set-up without the service: no background writers take the
    write lock while a test holds or measures it."""
    db = create_database(settings)
    try:
        yield db
    finally:
        await db.dispose()


async def _add_organisation(session: AsyncSession, name: str) -> None:
    session.add(Organisation(name=name, sector="other", municipality="0363", created_at=_NOW))
    await session.flush()


async def _count(database: Database) -> int:
    async with database.read() as session:
        result = await session.execute(select(func.count()).select_from(Organisation))
        return int(result.scalar_one())


async def test_begin_runs_inline_when_the_write_lock_is_free(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = _ThreadCalls(monkeypatch)
    before = await _count(database)
    for n in range(3):
        async with database.transaction(grouped=True) as session:
            await _add_organisation(session, f"inline {n}")
    assert await _count(database) == before + 3
    assert "BEGIN" not in calls.statements  # no thread hop to start a transaction
    assert calls.statements.count("COMMIT") == 3  # the fsync stays off the event loop


async def test_begin_waits_off_the_loop_while_another_process_writes(
    database: Database, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert database.path is not None
    before = await _count(database)
    # Another process's writer, holding SQLite's write lock.
    other = sqlite3.connect(database.path, isolation_level=None, check_same_thread=False)
    other.execute("BEGIN IMMEDIATE")
    calls = _ThreadCalls(monkeypatch)
    try:

        async def write() -> None:
            async with database.transaction(grouped=True) as session:
                await _add_organisation(session, "after the other writer")

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


async def test_reads_run_inline_on_a_snapshot_and_cannot_write(
    database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert database.path is not None
    before = await _count(database)
    # A writer in the middle of its transaction: reads neither wait for it nor see its rows.
    other = sqlite3.connect(database.path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    other.execute(
        "INSERT INTO organisations (id, name, sector, municipality, created_at)"
        " VALUES ('uncommitted', 'x', 'other', '0363', '2026-01-05 09:00:00.000000')"
    )
    calls = _ThreadCalls(monkeypatch)
    try:
        assert await _count(database) == before
        assert calls.statements == []  # BEGIN, the query and COMMIT of a read: no thread hop
    finally:
        other.execute("ROLLBACK")
        other.close()
    with pytest.raises(DBAPIError, match="readonly"):
        async with database.read() as session:
            await _add_organisation(session, "not through a read")

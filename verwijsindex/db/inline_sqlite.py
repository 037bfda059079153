"""An aiosqlite-shaped connection that runs statements on the calling thread.

aiosqlite runs every call (cursor, execute, fetch, close) on a worker thread and hands the
result back through the event loop: four or five thread hops per statement, about 0.1 ms
each. A write group of the group committer runs a dozen short statements on an already
locked database, so those hops cost more than the statements. This connection runs them
directly on the event loop's thread instead (SQLite releases the GIL while it works, and
each statement of a group is an index lookup or a small insert), and keeps two things on a
worker thread, where they may wait:

- ``BEGIN`` (``BEGIN IMMEDIATE`` waits for another process's write lock, up to
  ``busy_timeout``);
- ``COMMIT`` (the fsync of ``synchronous=FULL``, and WAL checkpoints).

It is given to SQLAlchemy's aiosqlite dialect through ``async_creator``, so the dialect,
the SQL and the types are exactly those of the ``sqlite+aiosqlite`` engine. Only the group
committer's engine uses it (see ``verwijsindex.db.engine``); long-running work stays on
aiosqlite. ADR 0008 records why this is written by hand.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any

_MAY_WAIT = ("BEGIN", "COMMIT", "END")


class _Immediate:
    """Stands in for aiosqlite's request queue, which SQLAlchemy's adapter uses to set the
    isolation level: run the request now."""

    def put_nowait(self, item: tuple[asyncio.Future[Any], Callable[[], Any]]) -> None:
        future, function = item
        try:
            future.set_result(function())
        except Exception as exc:  # handed to the awaiting caller
            future.set_exception(exc)


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        args = () if parameters is None else parameters
        if sql.lstrip()[:6].upper().startswith(_MAY_WAIT):
            await asyncio.to_thread(self._cursor.execute, sql, args)
        else:
            self._cursor.execute(sql, args)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Sequence[Any]]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(self._cursor.arraysize if size is None else size)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    """The subset of ``aiosqlite.Connection`` that SQLAlchemy's aiosqlite adapter uses."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self._conn = connection
        self._connection: sqlite3.Connection | None = connection
        self._tx = _Immediate()

    @classmethod
    async def connect(cls, database: str, *, busy_timeout: float) -> InlineConnection:
        connection = await asyncio.to_thread(
            sqlite3.connect, database, timeout=busy_timeout, check_same_thread=False
        )
        return cls(connection)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        await asyncio.to_thread(self._conn.commit)

    async def rollback(self) -> None:
        self._conn.rollback()

    async def create_function(self, *args: Any, **kwargs: Any) -> None:
        self._conn.create_function(*args, **kwargs)

    async def close(self) -> None:
        self.stop()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

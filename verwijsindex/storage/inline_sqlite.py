"""An aiosqlite-shaped connection that runs statements on the calling thread.

aiosqlite runs every call (cursor, execute, fetch, close) on a worker thread and hands the
result back through the event loop: four or five thread hops per statement, about 0.1 ms
each. A write group of the group committer runs a dozen short statements on an already
locked database, so those hops cost more than the statements. This connection runs them
directly on the event loop's thread instead (SQLite releases the GIL while it works, and
each statement of a group is an index lookup or a small insert), and keeps two things on a
worker thread, where they may wait:

- ``BEGIN`` when another process holds the write lock (``BEGIN IMMEDIATE`` then waits, up
  to ``busy_timeout``); it is first tried here without waiting, which is all it takes when
  this process is the only writer (its group committer runs one group at a time);
- ``COMMIT`` (the fsync of ``synchronous=FULL``, and WAL checkpoints).

It is given to SQLAlchemy's aiosqlite dialect through ``async_creator``, so the dialect,
the SQL and the types are exactly those of the ``sqlite+aiosqlite`` engine. Two engines use
it (see ``verwijsindex.storage.engine``): the group committer's, and ``Database.read()``'s short
API reads on read-only connections (``PRAGMA query_only``; their BEGIN is deferred and their
COMMIT only ends the snapshot, so nothing of theirs goes to a thread). Long-running work
stays on aiosqlite. ADR 0008 records why this is written by hand, ADR 0010 the reads.
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


def _busy(exc: sqlite3.OperationalError) -> bool:
    return getattr(exc, "sqlite_errorcode", None) in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor, busy_timeout_ms: int, read_only: bool) -> None:
        self._cursor = cursor
        self._busy_timeout_ms = busy_timeout_ms
        self._read_only = read_only

    def _try_begin(self, sql: str, args: Sequence[Any]) -> bool:
        """Run a BEGIN here if the lock is free; False if it would have to wait."""
        cursor = self._cursor
        cursor.execute("PRAGMA busy_timeout=0")
        try:
            cursor.execute(sql, args)
            return True
        except sqlite3.OperationalError as exc:
            if _busy(exc):
                return False
            raise
        finally:
            cursor.execute(f"PRAGMA busy_timeout={self._busy_timeout_ms}")

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        args = () if parameters is None else parameters
        if self._read_only:  # a deferred BEGIN takes no lock; COMMIT only ends the snapshot
            self._cursor.execute(sql, args)
            return self
        head = sql.lstrip()[:6].upper()
        if head.startswith("BEGIN"):
            if not self._try_begin(sql, args):
                await asyncio.to_thread(self._cursor.execute, sql, args)
        elif head.startswith(_MAY_WAIT):
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

    def __init__(
        self, connection: sqlite3.Connection, *, busy_timeout: float, read_only: bool = False
    ) -> None:
        self._conn = connection
        self._busy_timeout_ms = int(busy_timeout * 1000)
        self._read_only = read_only
        self._connection: sqlite3.Connection | None = connection
        self._tx = _Immediate()

    @classmethod
    async def connect(
        cls, database: str, *, busy_timeout: float, read_only: bool = False
    ) -> InlineConnection:
        """``read_only``: a connection for short reads (``PRAGMA query_only``), whose COMMIT
        only ends the read snapshot (no fsync), so it runs here too."""
        connection = await asyncio.to_thread(
            sqlite3.connect, database, timeout=busy_timeout, check_same_thread=False
        )
        if read_only:
            connection.execute("PRAGMA query_only=ON")
        return cls(connection, busy_timeout=busy_timeout, read_only=read_only)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    @property
    def in_transaction(self) -> bool:
        return self._conn.in_transaction

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor(), self._busy_timeout_ms, self._read_only)

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        return await self.cursor().execute(sql, parameters)

    async def commit(self) -> None:
        if self._read_only:
            self._conn.commit()
        else:
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

"""Engine and session factory for SQLite (WAL, BEGIN IMMEDIATE) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from verwijsindex.settings import Settings


@dataclass
class Database:
    """The engine and a session factory. ``transaction()`` is the unit of work."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    dialect: str
    _sqlite_lock: asyncio.Lock | None = field(default=None, init=False, repr=False)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncSession]:
        """One transaction: commits on normal exit, rolls back on any exception.

        On SQLite it begins with ``BEGIN IMMEDIATE`` so read-then-write sequences are
        serialised across connections and processes; on PostgreSQL callers take row or
        advisory locks where they need them. Within one process SQLite transactions also
        queue on an asyncio lock: they would be serialised anyway, and waiting in line beats
        SQLite's busy handler, which sleeps in growing steps (1, 2, 5, 10 ... 100 ms) while
        another connection of the same process holds the write lock.
        """
        if self.dialect != "sqlite":
            async with self.sessions() as session, session.begin():
                yield session
            return
        if self._sqlite_lock is None:
            self._sqlite_lock = asyncio.Lock()
        async with self._sqlite_lock, self.sessions() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()


def _sqlite_setup(engine: AsyncEngine, settings: Settings) -> None:
    busy = settings.sqlite_busy_timeout_ms

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN (pysqlite/aiosqlite quirk).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy)}")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")


def create_database(settings: Settings) -> Database:
    url = make_url(settings.database_url)
    kwargs: dict[str, Any] = {}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": settings.sqlite_busy_timeout_ms / 1000}
        kwargs["pool_size"] = settings.db_pool_size
        kwargs["max_overflow"] = settings.db_pool_size
    else:
        kwargs["pool_size"] = settings.db_pool_size
        kwargs["max_overflow"] = settings.db_pool_size
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    if url.get_backend_name() == "sqlite":
        _sqlite_setup(engine, settings)
    sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False)
    return Database(engine=engine, sessions=sessions, dialect=url.get_backend_name())

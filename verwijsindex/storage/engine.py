"""Engine and session factory for SQLite (WAL, BEGIN IMMEDIATE) and PostgreSQL (asyncpg)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Mapping
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

from notifier import ALERTS
from verwijsindex.settings import Settings
from verwijsindex.storage.inline_sqlite import InlineConnection


@dataclass
class Database:
    """The engine and a session factory. ``transaction()`` is the unit of work."""

    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    dialect: str
    read_engine: AsyncEngine | None = None
    read_sessions: async_sessionmaker[AsyncSession] | None = None
    group_engine: AsyncEngine | None = None
    group_sessions: async_sessionmaker[AsyncSession] | None = None
    path: str | None = None
    """SQLite: the database file (None in memory or on PostgreSQL)."""
    _write_lock: asyncio.Lock | None = field(default=None, repr=False)
    _after_commit: list[Callable[[Mapping[str, Any]], None]] = field(
        default_factory=list, repr=False
    )

    def on_commit(self, hook: Callable[[Mapping[str, Any]], None]) -> None:
        """Call ``hook(session.info)`` after every transaction of this database that commits
        and whose session noted something in ``info`` (for example that it put messages in
        the outbox: :data:`notifier.DELIVERABLE`). Hooks run after the commit and after the
        writer lock is released; a rolled-back transaction calls none."""
        self._after_commit.append(hook)

    def _committed(self, session: AsyncSession) -> None:
        info = session.info
        if info:
            for hook in self._after_commit:
                hook(info)

    @asynccontextmanager
    async def transaction(self, *, grouped: bool = False) -> AsyncIterator[AsyncSession]:
        """The unit of work: one transaction that commits on normal exit and rolls back on
        any exception; after a commit, the hooks registered with :meth:`on_commit` run.

        On SQLite it begins with ``BEGIN IMMEDIATE`` so read-then-write sequences are
        serialised across connections and processes; on PostgreSQL callers take row or
        advisory locks where they need them. ``grouped`` is the group committer's: on SQLite
        it runs on a connection whose short statements skip aiosqlite's thread hops
        (:mod:`verwijsindex.storage.inline_sqlite`).
        """
        if self.dialect != "sqlite":
            async with self.sessions() as session:
                async with session.begin():
                    yield session
            self._committed(session)
            return
        # One writer at a time anyway: queue in asyncio rather than in SQLite's busy handler,
        # which sleeps in steps of up to 100 ms. Other processes still meet busy_timeout.
        factory = self.group_sessions if grouped and self.group_sessions else self.sessions
        async with self.writers, factory() as session:
            async with session.begin():
                yield session
        self._committed(session)

    @property
    def writers(self) -> asyncio.Lock:
        """SQLite: held by this process's write transactions, one at a time (and by the
        checkpointer while it closes the write-ahead log, ``verwijsindex.storage.checkpoint``)."""
        if self._write_lock is None:
            self._write_lock = asyncio.Lock()
        return self._write_lock

    @asynccontextmanager
    async def read(self) -> AsyncIterator[AsyncSession]:
        """A short read-only unit of work: a few indexed lookups (the API's reads). On SQLite
        it is a deferred transaction on a separate pool of read-only connections whose
        statements run on the event loop's thread (:mod:`verwijsindex.storage.inline_sqlite`), so
        reads see a consistent WAL snapshot without taking the writer lock or a thread hop.
        Anything that scans (verification, exports, sweeps) uses ``transaction()``."""
        factory = self.read_sessions or self.sessions
        async with factory() as session, session.begin():
            yield session

    async def dispose(self) -> None:
        await self.engine.dispose()
        for extra in (self.read_engine, self.group_engine):
            if extra is not None:
                await extra.dispose()


# With the background checkpointer on, a commit checkpoints only when the log has grown this
# large anyway (pages of 4 KiB: ~400 MiB), as a backstop for when the checkpointer does not
# run; it keeps the log under ~130 MiB (verwijsindex/storage/checkpoint.py). SQLite's own default is
# 1,000; 10,000 was reached within a second at 10^7 registrations, inside a commit.
_BACKSTOP_AUTOCHECKPOINT = 100_000


def _sqlite_setup(
    engine: AsyncEngine, settings: Settings, *, begin: str, cache_mib: int | None = None
) -> None:
    busy = settings.sqlite_busy_timeout_ms
    autocheckpoint = _BACKSTOP_AUTOCHECKPOINT if settings.sqlite_checkpoint_interval_s else 1000

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, issue BEGIN (pysqlite/aiosqlite quirk).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute("PRAGMA foreign_keys=ON")
        # Freed space is zeroed, so a deleted row (an erased youth's pseudonym) leaves no
        # copy in the database file; the write-ahead log is truncated after an erasure
        # (verwijsindex/storage/checkpoint.py, truncate_log). Cost: docs/benchmarks.md.
        cursor.execute("PRAGMA secure_delete=ON")
        cursor.execute(f"PRAGMA busy_timeout={int(busy)}")
        cursor.execute(f"PRAGMA wal_autocheckpoint={autocheckpoint}")
        if cache_mib is not None:
            cursor.execute(f"PRAGMA cache_size={-1024 * int(cache_mib)}")
        cursor.close()

    # SQLAlchemy's recipe issues BEGIN from a "begin" event; any listener of the connection
    # events makes every statement run the (empty) before/after-execute dispatch, ~15 µs
    # each. Issuing it from the dialect's ``do_begin`` (a no-op for SQLite) does the same
    # without that; each engine has its own dialect instance.
    def _do_begin(dbapi_connection: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(begin)
        finally:
            cursor.close()

    engine.sync_engine.dialect.do_begin = _do_begin  # type: ignore[method-assign]


def create_database(settings: Settings) -> Database:
    url = make_url(settings.database_url)
    # A statement's bound values (pseudonyms, ids) stay out of exception texts and logs.
    kwargs: dict[str, Any] = {"hide_parameters": True}
    if url.get_backend_name() == "sqlite":
        if url.database and url.database != ":memory:":
            Path(url.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": settings.sqlite_busy_timeout_ms / 1000}
        kwargs["pool_size"] = settings.db_pool_size
        kwargs["max_overflow"] = settings.db_pool_size
    else:
        # The same at most 2 × db_pool_size connections as with an overflow, but kept open: a
        # burst of concurrent API reads (each holds a connection for its round trips) opened
        # and closed overflow connections, ~1.3 ms of CPU each, on ~40 % of reads at 32
        # clients (docs/benchmarks.md, "Reads").
        kwargs["pool_size"] = 2 * settings.db_pool_size
        kwargs["max_overflow"] = 0
        kwargs["pool_pre_ping"] = True
    engine = create_async_engine(url, **kwargs)
    # With a mail relay configured, every write session's events also write their e-mail
    # alerts (notifier.enqueue_many reads the flag; docs/alerts.md).
    info = {ALERTS: True} if settings.alerts_enabled else None
    sessions = async_sessionmaker(engine, expire_on_commit=False, autoflush=False, info=info)
    if url.get_backend_name() != "sqlite":
        return Database(engine=engine, sessions=sessions, dialect=url.get_backend_name())
    _sqlite_setup(engine, settings, begin="BEGIN IMMEDIATE")
    database = url.database or ":memory:"
    timeout = settings.sqlite_busy_timeout_ms / 1000

    async def inline_reader() -> InlineConnection:
        return await InlineConnection.connect(database, busy_timeout=timeout, read_only=True)

    # ``read()``: short indexed reads of the API on the event loop's thread, one connection
    # per concurrent reader (a WAL snapshot never waits for the writer).
    read_engine = create_async_engine(
        url,
        hide_parameters=True,
        async_creator=inline_reader,
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
    )
    _sqlite_setup(read_engine, settings, begin="BEGIN")

    async def inline_connection() -> InlineConnection:
        return await InlineConnection.connect(database, busy_timeout=timeout)

    # One connection: the group committer runs one group at a time.
    group_engine = create_async_engine(
        url,
        hide_parameters=True,
        async_creator=inline_connection,
        pool_size=1,
        max_overflow=0,
    )
    _sqlite_setup(
        group_engine, settings, begin="BEGIN IMMEDIATE", cache_mib=settings.sqlite_cache_mib
    )
    return Database(
        engine=engine,
        sessions=sessions,
        dialect="sqlite",
        read_engine=read_engine,
        read_sessions=async_sessionmaker(read_engine, expire_on_commit=False, autoflush=False),
        group_engine=group_engine,
        group_sessions=async_sessionmaker(
            group_engine, expire_on_commit=False, autoflush=False, info=info
        ),
        path=None if database == ":memory:" else database,
    )

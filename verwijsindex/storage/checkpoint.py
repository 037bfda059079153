"""Background WAL checkpoints for SQLite.

In WAL mode every commit appends the changed pages to the write-ahead log; a *checkpoint*
copies them back into the database file and fsyncs it. By default SQLite does that inside the
commit that makes the log pass 1,000 pages, so every so often one group of registrations waits
for a checkpoint of scattered pages (the larger the database, the more scattered, the longer).
:func:`run_checkpointer` does it on its own connection in a worker thread instead, every
``interval`` seconds, in two steps:

1. PASSIVE checkpoints, which never wait for readers or the writer: they copy the log while
   writes go on, again as long as a pass found many new frames (the next pass copies only what
   was committed during the previous one, so the passes get shorter);
2. once the log has grown past ``close_at`` frames (32,768: 128 MiB), one FULL checkpoint
   while this process's writers wait (:attr:`Database.writers`), which copies the few frames
   left. Only a log copied completely can start over from its beginning (the next commit does
   that), and under continuous writes the passive passes never catch up on their own (with
   pauses between writes they do, and the log starts over without this step). Without it the
   log grew until SQLite's automatic checkpoint ran inside a commit, which then waited for up
   to a second's worth of scattered pages (80-100 ms at 10^7 registrations, about once a
   second). The FULL step holds the writers for the copy of the last few frames and an fsync
   of the database file: usually 5-15 ms, on this disk sometimes 70-90 ms; waiting until the
   log is long makes that rare (every few seconds under continuous writes, not every run).
   SQLite's automatic checkpoint stays as a backstop at 100,000 pages
   (``verwijsindex/storage/engine.py``), for when this task does not run.

Durability does not depend on checkpoints: a commit is durable once its log frames are synced
(``synchronous=FULL``).

After a subject's erasure, :func:`truncate_log` copies the whole log back and truncates it to
zero bytes (``PRAGMA wal_checkpoint(TRUNCATE)``), so the erased rows' page images do not linger
in the ``-wal`` file until it is overwritten; ``secure_delete`` (``verwijsindex/storage/engine.py``)
zeroes their freed space in the database file itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from dataclasses import dataclass

from verwijsindex.logging import get_logger
from verwijsindex.storage.engine import Database

log = get_logger(__name__)

# Another passive pass while the previous one found more new frames than this; at most so
# many passes per run. Then the log is closed with the writers held.
_SMALL = 256
_PASSES = 4
_FULL_WAIT_MS = 50
CLOSE_AT = 32_768


@dataclass
class CheckpointStats:
    runs: int = 0
    frames_copied: int = 0
    failures: int = 0
    closed: int = 0
    """Runs whose FULL checkpoint copied the whole log (so the next commit restarts it)."""


@dataclass
class LogPosition:
    """The log as the last checkpoint left it: its frames and how many of them were copied.
    A run counts the frames it copies from there, unless the log has started over since
    (fewer frames, or fewer copied, than last time)."""

    frames: int = 0
    copied: int = 0

    def advance(self, log_frames: int, copied: int) -> tuple[int, int]:
        """Take in a checkpoint's result: returns the frames it had to copy (those not copied
        before it) and those it copied."""
        if log_frames < self.frames or copied < self.copied:  # the log started over
            self.frames = self.copied = 0
        start = self.copied
        self.frames, self.copied = log_frames, copied
        return log_frames - start, max(copied - start, 0)


def _checkpoint(connection: sqlite3.Connection, mode: str) -> tuple[int, int, int]:
    row = connection.execute(f"PRAGMA wal_checkpoint({mode})").fetchone()
    return int(row[0]), int(row[1]), int(row[2])


async def _in_thread(connection: sqlite3.Connection, mode: str) -> tuple[int, int, int]:
    job = asyncio.ensure_future(asyncio.to_thread(_checkpoint, connection, mode))
    try:
        return await asyncio.shield(job)
    except asyncio.CancelledError:
        # Let the thread finish with the connection before it is closed.
        with contextlib.suppress(Exception):
            await job
        raise


async def checkpoint_once(
    database: Database,
    connection: sqlite3.Connection,
    *,
    close_at: int = CLOSE_AT,
    position: LogPosition | None = None,
) -> tuple[int, bool]:
    """One run: passive passes, then, if the log has more than ``close_at`` frames, a FULL
    checkpoint with the writers held. Returns the frames copied by this run and whether the
    FULL step copied the whole log. ``position`` is where the previous run left the log
    (kept by the caller across runs; without it the log is taken as new)."""
    position = position if position is not None else LogPosition()
    frames = 0
    for _ in range(_PASSES):
        _busy, log_frames, copied = await _in_thread(connection, "PASSIVE")
        if log_frames <= 0:  # an empty log (or not in WAL mode): nothing to do
            position.frames = position.copied = 0
            return 0, False
        todo, done = position.advance(log_frames, copied)
        frames += done
        if todo <= _SMALL:  # the next pass would find even fewer
            break
    if log_frames <= close_at:
        return frames, False
    async with database.writers:
        busy, log_frames, copied = await _in_thread(connection, "FULL")
    frames += position.advance(log_frames, copied)[1]
    return frames, busy == 0 and copied == log_frames


_TRUNCATE_ATTEMPTS = 6
_TRUNCATE_BUSY_MS = 200


async def truncate_log(database: Database, *, attempts: int = _TRUNCATE_ATTEMPTS) -> bool:
    """SQLite: copy the whole write-ahead log into the database file and truncate the log to
    zero bytes. Returns whether that completed (False on PostgreSQL or in memory).

    Like the FULL step of :func:`checkpoint_once`, each attempt holds this process's writers
    (:attr:`Database.writers`), so no commit of ours lands in the log meanwhile. TRUNCATE
    also needs every reader to have left the log: SQLite's busy handler waits up to
    ``_TRUNCATE_BUSY_MS`` for them (and for the background checkpointer or another process's
    writer); if the log is still in use, the writers are let go and the attempt is repeated
    after a doubling pause (10 ms, 20 ms, ... ~0.6 s in all). An erasure is rare; the writers
    wait for the copy of the log and one fsync of the database file.
    """
    if database.dialect != "sqlite" or database.path is None:
        return False
    path = database.path

    def connect() -> sqlite3.Connection:
        connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        connection.execute(f"PRAGMA busy_timeout={_TRUNCATE_BUSY_MS}")
        return connection

    connection = await asyncio.to_thread(connect)
    try:
        pause = 0.01
        for _ in range(attempts):
            async with database.writers:
                try:
                    busy, _frames, _copied = await _in_thread(connection, "TRUNCATE")
                except sqlite3.OperationalError:  # locked by another checkpoint or process
                    busy = 1
            if busy == 0:
                return True
            await asyncio.sleep(pause)
            pause *= 2
        log.warning("sqlite_wal_truncate_incomplete", attempts=attempts)
        return False
    finally:
        with contextlib.suppress(sqlite3.Error):
            connection.close()


async def run_checkpointer(database: Database, interval: float, stats: CheckpointStats) -> None:
    """Checkpoint the SQLite database every ``interval`` seconds until cancelled."""
    assert database.path is not None
    connection = sqlite3.connect(database.path, check_same_thread=False, isolation_level=None)
    try:
        # FULL waits this long for another process's writer or an older reader (this
        # process's writers are held meanwhile), then copies what it can, as PASSIVE does.
        connection.execute(f"PRAGMA busy_timeout={_FULL_WAIT_MS}")
        position = LogPosition()
        while True:
            await asyncio.sleep(interval)
            try:
                frames, closed = await checkpoint_once(database, connection, position=position)
            except sqlite3.Error as exc:
                stats.failures += 1
                log.warning("sqlite_checkpoint_failed", error_type=type(exc).__name__)
                continue
            stats.runs += 1
            stats.frames_copied += frames
            stats.closed += closed
            if frames:
                log.debug("sqlite_checkpoint", copied=frames, closed=closed)
    finally:
        with contextlib.suppress(sqlite3.Error):
            connection.close()

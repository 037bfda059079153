"""Background WAL checkpoints for SQLite.

In WAL mode every commit appends the changed pages to the write-ahead log; a *checkpoint*
copies them back into the database file and fsyncs it. By default SQLite does that inside the
commit that makes the log pass 1,000 pages, so every so often one group of registrations waits
for a checkpoint of scattered pages (the larger the database, the more scattered, the longer).
:func:`run_checkpointer` does it on its own connection in a worker thread instead, every
``interval`` seconds, as a PASSIVE checkpoint (it never waits for readers or the writer).
Commits then only append to the log; SQLite's automatic checkpoint stays as a backstop at
10,000 pages (``verwijsindex/db/engine.py``). Durability does not depend on checkpoints: a
commit is durable once its log frames are synced (``synchronous=FULL``).
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from dataclasses import dataclass

from verwijsindex.logging import get_logger

log = get_logger(__name__)


@dataclass
class CheckpointStats:
    runs: int = 0
    frames_copied: int = 0
    failures: int = 0


def _checkpoint(connection: sqlite3.Connection) -> tuple[int, int, int]:
    row = connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
    return int(row[0]), int(row[1]), int(row[2])


async def run_checkpointer(path: str, interval: float, stats: CheckpointStats) -> None:
    """Checkpoint ``path`` every ``interval`` seconds until cancelled."""
    connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
    try:
        connection.execute("PRAGMA busy_timeout=1000")
        while True:
            await asyncio.sleep(interval)
            job = asyncio.ensure_future(asyncio.to_thread(_checkpoint, connection))
            try:
                _busy, log_frames, copied = await asyncio.shield(job)
            except asyncio.CancelledError:
                # Let the thread finish with the connection before it is closed.
                with contextlib.suppress(Exception):
                    await job
                raise
            except sqlite3.Error as exc:
                stats.failures += 1
                log.warning("sqlite_checkpoint_failed", error_type=type(exc).__name__)
                continue
            stats.runs += 1
            stats.frames_copied += max(copied, 0)
            if log_frames > 0:
                log.debug("sqlite_checkpoint", wal_frames=log_frames, copied=copied)
    finally:
        with contextlib.suppress(sqlite3.Error):
            connection.close()

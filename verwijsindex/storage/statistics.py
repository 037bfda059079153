"""Planner statistics of young PostgreSQL tables.

PostgreSQL plans a query from each table's statistics, which ``ANALYZE`` gathers and
autovacuum renews once a table has changed by 50 rows plus a tenth of its size, checking every
minute (``autovacuum_naptime``). A table that is new or grows fast (a new index's first
minutes, a large import) is read meanwhile with statistics of a far smaller table, or none.
Without them the planner takes a lookup of a few pseudonyms (``pseudonym IN (…)``) for a
tenth of the table (its default selectivity of an equality), and the write path's prepared
statements keep such a plan: measured on a fresh database at 32 clients, the parents' links
were read by a sequential scan and the youths' registrations by a scan of every active
registration, each statement a few milliseconds longer with every thousand rows.

:func:`run_analyser` closes that gap on its own connection: every ``interval`` seconds it
analyses the tables changed by at least :data:`MIN_CHANGES` rows and by half their size since
their last analysis. A table of steady size never qualifies (autovacuum's tenth comes first),
so on a settled database it only reads ``pg_stat_user_tables``. Several processes share the
work: a pass runs under a transaction-level advisory lock, and a process that does not get it
skips the pass. ``ANALYZE`` waits at most :data:`LOCK_TIMEOUT_MS` for a table that
autovacuum is analysing at that moment, and leaves it to autovacuum otherwise.

SQLite needs none of this: its planner prefers an index for an equality without statistics.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from verwijsindex.logging import get_logger
from verwijsindex.storage.engine import Database

log = get_logger(__name__)

MIN_CHANGES = 1_000
"""Rows changed since a table's last analysis before it is analysed here."""
GROWTH = 0.5
"""…and this fraction of its size at that analysis (autovacuum's own is 0.1, so a table that
grows slowly is left to it)."""
LOCK_TIMEOUT_MS = 1_000
PASS_LOCK = 0x7669_7374_6174_7331
"""The advisory lock of a pass (``"vistats1"``): one process analyses at a time."""

_DUE = text(
    "SELECT s.relname FROM pg_stat_user_tables AS s"
    " JOIN pg_class AS c ON c.oid = s.relid"
    " WHERE s.schemaname = current_schema()"
    " AND s.n_mod_since_analyze >= :least"
    " AND s.n_mod_since_analyze >= :growth * greatest(c.reltuples, 0)"
    " ORDER BY s.n_mod_since_analyze DESC"
)


@dataclass
class AnalyserStats:
    passes: int = 0
    analysed: int = 0
    """Tables analysed, over all passes."""
    failures: int = 0


async def analyse_due(database: Database) -> list[str]:
    """One pass: analyse the tables that are due; returns their names (empty when another
    process holds the pass or nothing is due)."""
    async with database.engine.connect() as connection, connection.begin():
        held = await connection.scalar(
            text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": PASS_LOCK}
        )
        if not held:
            return []
        rows = await connection.execute(_DUE, {"least": MIN_CHANGES, "growth": GROWTH})
        tables = [row[0] for row in rows]
        if not tables:
            return []
        await connection.execute(text(f"SET LOCAL lock_timeout = {LOCK_TIMEOUT_MS}"))
        analysed = []
        for table in tables:
            quoted = database.engine.dialect.identifier_preparer.quote(table)
            try:
                async with connection.begin_nested():  # a table autovacuum holds is skipped
                    await connection.execute(text(f"ANALYZE {quoted}"))
            except DBAPIError as exc:
                log.info("analyse_skipped", table=table, error_type=type(exc.orig).__name__)
                continue
            analysed.append(table)
        return analysed


async def run_analyser(database: Database, interval: float, stats: AnalyserStats) -> None:
    """Analyse due tables every ``interval`` seconds until cancelled (PostgreSQL only)."""
    assert database.dialect == "postgresql"
    while True:
        await asyncio.sleep(interval)
        try:
            tables = await analyse_due(database)
        except (DBAPIError, OSError) as exc:
            stats.failures += 1
            log.warning("analyse_failed", error_type=type(exc).__name__)
            continue
        stats.passes += 1
        stats.analysed += len(tables)
        if tables:
            log.debug("analysed", tables=len(tables))

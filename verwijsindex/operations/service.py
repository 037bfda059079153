"""``OperationsGauges``: the database's gauges for ``/metrics``, read in one short snapshot."""

from __future__ import annotations

from verwijsindex.clock import Clock
from verwijsindex.metrics import Gauge
from verwijsindex.operations import repository as repo
from verwijsindex.statistics.service import StatisticsService
from verwijsindex.storage import Database


class OperationsGauges:
    def __init__(self, *, database: Database, clock: Clock, statistics: StatisticsService) -> None:
        self._database = database
        self._clock = clock
        self._statistics = statistics

    async def read(self) -> list[Gauge]:
        now = self._clock.now()
        async with self._database.read() as session:
            messages = await repo.messages_by_status(session)
            oldest = await repo.oldest_pending_message(session)
            ledger = await repo.ledger_size(session)
            access_log = await repo.access_log_size(session)
        counted = await self._statistics.counted_through()
        return [
            Gauge(
                "verwijsindex_webhook_messages",
                "Webhook messages waiting (pending: the outbox depth) or given up on (dead)",
                [({"status": status}, float(n)) for status, n in sorted(messages.items())],
            ),
            Gauge(
                "verwijsindex_webhook_oldest_pending_age_seconds",
                "Age of the oldest pending webhook message (0 when none waits)",
                [({}, (now - oldest).total_seconds() if oldest is not None else 0.0)],
            ),
            Gauge("verwijsindex_ledger_entries", "Entries in the consent ledger", [({}, ledger)]),
            Gauge(
                "verwijsindex_access_log_records",
                "Records in the access log",
                [({}, float(access_log))],
            ),
            Gauge(
                "verwijsindex_statistics_rollup_lag_seconds",
                "How far behind now the statistics rollup has counted (-1 before its first run)",
                [({}, (now - counted).total_seconds() if counted is not None else -1.0)],
            ),
        ]

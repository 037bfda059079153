"""The access log for those who review it (auditors, reviewers, the privacy officer): query,
export and the anomaly flags, each read recorded in the log itself. Which organisation's
records a caller may see is the routes' to decide; this takes the scope it is given."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime

from verwijsindex.abuse import AnomalyFlag, list_flags
from verwijsindex.accesslog._activities import Operation
from verwijsindex.accesslog._logger import AccessContext, AccessLogger
from verwijsindex.accesslog._models import AccessLogRecord
from verwijsindex.accesslog._repository import query_records
from verwijsindex.storage import Database

EXPORT_BATCH = 1000


@dataclass(frozen=True, slots=True)
class RecordFilter:
    """Which records: ``organisation_id`` None means every organisation; ``end`` exclusive."""

    organisation_id: str | None
    professional_id: str | None
    operation: str | None
    start: datetime | None
    end: datetime | None


class AccessLogAudit:
    """Reads of the access log and the anomaly flags, each recorded in the log."""

    def __init__(self, *, database: Database, access_log: AccessLogger) -> None:
        self._database = database
        self._access_log = access_log

    async def query(
        self, access: AccessContext, which: RecordFilter, *, after_seq: int | None, limit: int
    ) -> list[AccessLogRecord]:
        """Up to ``limit`` records in chain order after ``after_seq``; the read is recorded in
        the same transaction."""
        async with self._database.transaction() as session:
            rows = await query_records(
                session,
                organisation_id=which.organisation_id,
                professional_id=which.professional_id,
                operation=which.operation,
                start=which.start,
                end=which.end,
                after_seq=after_seq,
                limit=limit,
            )
            await self._access_log.record(
                session, access, operation=Operation.AUDIT_ACCESS_LOG_READ
            )
        return rows

    async def begin_export(self, access: AccessContext) -> None:
        """Record that an export begins (before its first record is sent)."""
        async with self._database.transaction() as session:
            await self._access_log.record(
                session, access, operation=Operation.AUDIT_ACCESS_LOG_EXPORT
            )

    async def export(self, which: RecordFilter) -> AsyncIterator[AccessLogRecord]:
        """Every matching record in chain order, read in batches of :data:`EXPORT_BATCH`,
        each batch in a short session of its own (the export may take long)."""
        after = 0
        while True:
            async with self._database.sessions() as session:
                rows = await query_records(
                    session,
                    organisation_id=which.organisation_id,
                    professional_id=which.professional_id,
                    operation=which.operation,
                    start=which.start,
                    end=which.end,
                    after_seq=after,
                    limit=EXPORT_BATCH,
                )
            for record in rows:
                yield record
            if len(rows) < EXPORT_BATCH:
                return
            after = rows[-1].seq

    async def anomalies(
        self,
        access: AccessContext,
        *,
        organisation_id: str | None,
        rule: str | None,
        after: tuple[datetime, str] | None,
        limit: int,
    ) -> list[AnomalyFlag]:
        """Anomaly flags, oldest first; the read is recorded in the same transaction."""
        async with self._database.transaction() as session:
            rows = await list_flags(
                session, organisation_id=organisation_id, rule=rule, after=after, limit=limit
            )
            await self._access_log.record(session, access, operation=Operation.AUDIT_ANOMALIES_READ)
        return rows

"""Queries of the access log for auditors and subject-access requests. Read-only."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, select
from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.accesslog._models import AccessLogRecord


async def query_records(
    session: AsyncSession,
    *,
    organisation_id: str | None,
    professional_id: str | None,
    operation: str | None,
    start: datetime | None,
    end: datetime | None,
    after_seq: int | None,
    limit: int,
) -> list[AccessLogRecord]:
    """Records in chain order matching every given filter (``end`` exclusive)."""
    query = select(AccessLogRecord)
    if organisation_id is not None:
        query = query.where(AccessLogRecord.organisation_id == organisation_id)
    if professional_id is not None:
        query = query.where(AccessLogRecord.professional_id == professional_id)
    if operation is not None:
        query = query.where(AccessLogRecord.operation == operation)
    if start is not None:
        query = query.where(AccessLogRecord.started_at >= start)
    if end is not None:
        query = query.where(AccessLogRecord.started_at < end)
    if after_seq is not None:
        query = query.where(AccessLogRecord.seq > after_seq)
    query = query.order_by(AccessLogRecord.seq).limit(limit)
    return list((await session.execute(query)).scalars())


_IN_CHUNK = 500  # values per IN list (SQLite's older builds allow 999 parameters)


async def records_about(
    session: AsyncSession,
    *,
    pseudonyms: Sequence[str],
    refs: Sequence[tuple[str, str]],
    limit: int,
) -> list[AccessLogRecord]:
    """Records about a youth: by access-log pseudonym or by registration/match reference.

    A youth has one pseudonym per organisation (and key version), so ``pseudonyms`` can be
    long; it is asked for in chunks and the records are merged in chain order."""
    conditions: list[ColumnElement[bool]] = []
    unique = list(dict.fromkeys(pseudonyms))
    for i in range(0, len(unique), _IN_CHUNK):
        conditions.append(AccessLogRecord.subject_pseudonym.in_(unique[i : i + _IN_CHUNK]))
    by_type: dict[str, list[str]] = {}
    for ref_type, ref in refs:
        by_type.setdefault(ref_type, []).append(ref)
    for ref_type, ids in by_type.items():
        for i in range(0, len(ids), _IN_CHUNK):
            conditions.append(
                (AccessLogRecord.subject_ref_type == ref_type)
                & AccessLogRecord.subject_ref.in_(ids[i : i + _IN_CHUNK])
            )
    found: dict[int, AccessLogRecord] = {}
    for condition in conditions:
        query = select(AccessLogRecord).where(condition).order_by(AccessLogRecord.seq).limit(limit)
        for record in (await session.execute(query)).scalars():
            found[record.seq] = record
    return [found[seq] for seq in sorted(found)[:limit]]

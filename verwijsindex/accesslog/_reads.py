"""Successful reads into the access log through the group committer.

The data was read in a read-only snapshot; the records go through the group committer, so
concurrent reads share one append and one commit instead of each taking the write lock
(SQLite) for a transaction of its own. The caller answers only after this returns.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.accesslog._activities import Operation
from verwijsindex.accesslog._logger import AccessContext, AccessLogger, Entry, Subject
from verwijsindex.storage.group_commit import GroupCommitter, GroupedWrite


async def record_read(
    writes: GroupCommitter,
    logger: AccessLogger,
    access: AccessContext,
    operation: Operation,
    subjects: Sequence[Subject],
    *,
    reference: str | None = None,
) -> None:
    """Record a successful read (one record per subject) and return once it is durable.
    No subjects: one record without a subject, as :meth:`AccessLogger.record_many` does.
    ``reference`` names what was read when the subject does not (e.g. a consent event)."""
    entries = [
        Entry(access, operation, subject, reference=reference)
        for subject in (subjects or [Subject()])
    ]
    await writes.run_batched(APPEND_ENTRIES, (logger, entries))


async def _append_entries(
    session: AsyncSession, payloads: list[tuple[AccessLogger, list[Entry]]]
) -> list[None]:
    logger = payloads[0][0]
    await logger.record_entries(session, [e for _, entries in payloads for e in entries])
    return [None] * len(payloads)


APPEND_ENTRIES = GroupedWrite(_append_entries, lock_order=100)
"""The chain lock is the last lock a registration group takes: appends of reads come after
every other write of a group, so groups of two processes lock in the same order."""

"""The gauges' queries: each an index range or an index end, never a scan of a large table.
Repositories never commit."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from consent import LedgerEntry
from notifier import MessageStatus, WebhookMessage
from verwijsindex.accesslog import AccessLogRecord


async def messages_by_status(session: AsyncSession) -> dict[str, int]:
    """Pending and dead webhook messages (the outbox); delivered ones are not counted."""
    counts: dict[str, int] = {}
    for status in (MessageStatus.PENDING, MessageStatus.DEAD):
        counts[status.value] = int(
            await session.scalar(select(func.count()).where(WebhookMessage.status == status.value))
            or 0
        )
    return counts


async def oldest_pending_message(session: AsyncSession) -> datetime | None:
    return await session.scalar(
        select(func.min(WebhookMessage.created_at)).where(
            WebhookMessage.status == MessageStatus.PENDING.value
        )
    )


async def ledger_size(session: AsyncSession) -> int:
    last = await session.scalar(select(func.max(LedgerEntry.idx)))
    return 0 if last is None else int(last) + 1


async def access_log_size(session: AsyncSession) -> int:
    return int(await session.scalar(select(func.max(AccessLogRecord.seq))) or 0)

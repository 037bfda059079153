"""The lifecycle sweep: end due registrations and purge what retention allows."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from typing import TYPE_CHECKING

from verwijsindex.domain.service import SweepResult
from verwijsindex.logging import get_logger

if TYPE_CHECKING:
    from verwijsindex.context import AppContext

log = get_logger(__name__)
_BATCH = 500


async def sweep_once(ctx: AppContext) -> SweepResult:
    """End every due registration (in batches, one transaction each), then purge."""
    ended = 0
    while True:
        async with ctx.database.transaction() as session:
            n = await ctx.registrations.end_due(session, limit=_BATCH)
        ended += n
        if n:
            ctx.webhooks.wake()
        if n < _BATCH:
            break
    async with ctx.database.transaction() as session:
        regs, matches = await ctx.registrations.purge(
            session, retention=timedelta(days=ctx.settings.retention_days)
        )
    result = SweepResult(ended=ended, purged_registrations=regs, purged_matches=matches)
    log.info("sweep", ended=ended, purged_registrations=regs, purged_matches=matches)
    return result


async def run_sweeper(ctx: AppContext) -> None:
    """Sweep now and then every ``sweep_interval_seconds``; errors are logged, not fatal."""
    while True:
        try:
            await sweep_once(ctx)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("sweep_failed", error_type=type(exc).__name__, exc_info=exc)
        await asyncio.sleep(ctx.settings.sweep_interval_seconds)

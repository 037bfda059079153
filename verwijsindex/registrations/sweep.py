"""The lifecycle sweep: end due registrations, act on coordination deadlines that have passed,
and purge what retention allows."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import TYPE_CHECKING

from verwijsindex.logging import get_logger
from verwijsindex.registrations.index import SweepResult

if TYPE_CHECKING:
    from verwijsindex.context import AppContext

log = get_logger(__name__)


async def sweep_once(ctx: AppContext) -> SweepResult:
    """End every due registration (in batches, one transaction each), then purge."""
    ended = await ctx.registrations.end_due()
    inform_due, expiring = await ctx.registrations.send_reminders()
    log.info("reminders", inform_due=inform_due, expiring=expiring)
    coordination = await ctx.coordination.sweep()
    # The statistics first; the purge counts what the rollup has not reached (its hook).
    await ctx.statistics.roll_up()
    purged = await ctx.registrations.purge(retention=timedelta(days=ctx.settings.retention_days))
    regs, matches = purged.purged_registrations, purged.purged_matches
    async with ctx.database.transaction() as session:
        await ctx.abuse.prune(session)
        head = await ctx.access_log.sign_head(session)
    retention = ctx.settings.ledger_personal_retention_days
    async with ctx.database.transaction() as session:
        consent = await ctx.consent.sweep(
            session,
            now=ctx.clock.now(),
            exchange_retention=timedelta(days=ctx.settings.exchange_retention_days),
            ledger_personal_retention=timedelta(days=retention) if retention else None,
        )
    log.info(
        "consent_sweep",
        expired_exchanges=consent.expired_exchanges,
        erased_ledger_entries=consent.erased_ledger_entries,
    )
    result = SweepResult(ended=ended, purged_registrations=regs, purged_matches=matches)
    log.info("access_log_head_signed", count=head.count)
    log.info(
        "sweep",
        ended=ended,
        coordination_deadlines=coordination,
        purged_registrations=regs,
        purged_matches=matches,
    )
    return result


async def run_sweeper(ctx: AppContext) -> None:
    """Sweep now and then every ``sweep_interval_seconds``; errors are logged, not fatal."""
    while True:
        started = time.perf_counter()
        outcome = "failed"
        try:
            await sweep_once(ctx)
            outcome = "ok"
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            log.error("sweep_failed", error_type=type(exc).__name__, exc_info=exc)
        if ctx.metrics is not None:
            ctx.metrics.observe_sweep(outcome, started)
        await asyncio.sleep(ctx.settings.sweep_interval_seconds)

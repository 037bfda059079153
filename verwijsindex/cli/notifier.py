"""``notifier run``: webhook delivery workers as a process of their own."""

from __future__ import annotations

import asyncio
import signal
from typing import TYPE_CHECKING

import click

from verwijsindex.clock import SystemClock
from verwijsindex.context import build_context
from verwijsindex.errors import VerwijsindexError
from verwijsindex.logging import configure_logging
from verwijsindex.storage.migrate import upgrade

if TYPE_CHECKING:
    pass


from verwijsindex.cli.common import _settings


@click.group()
def notifier() -> None:
    """Webhook delivery."""


@notifier.command("run")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    help="Workers in this process (PostgreSQL; SQLite always runs one)",
)
def notifier_run(workers: int) -> None:
    """Deliver webhooks (and e-mail alerts, when VERWIJSINDEX_SMTP_HOST is set) until stopped
    (SIGINT/SIGTERM). Run as many processes as needed on
    PostgreSQL; claims never overlap. Undelivered work survives any stop."""
    settings = _settings()
    configure_logging(level=settings.log_level, json=settings.log_json)

    async def main_loop() -> None:
        ctx = build_context(settings, clock=SystemClock())
        try:
            if settings.auto_migrate:
                await upgrade(ctx.database)
            if ctx.database.dialect == "sqlite" and workers > 1:
                click.echo("SQLite has one writer: running one worker", err=True)
            async with asyncio.TaskGroup() as group:
                group.create_task(ctx.webhooks.run_workers(workers))
                if settings.alerts_enabled:
                    group.create_task(ctx.alerts.run_workers(workers))
        finally:
            await ctx.database.dispose()

    loop = asyncio.new_event_loop()
    task = loop.create_task(main_loop())
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, task.cancel)
    try:
        loop.run_until_complete(task)
    except asyncio.CancelledError:
        pass
    except VerwijsindexError as exc:
        raise click.ClickException(exc.detail) from None
    finally:
        loop.close()

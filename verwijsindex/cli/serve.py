"""``serve``, ``sweep``, ``db upgrade`` and ``demo``: running the service."""

from __future__ import annotations

import asyncio
import os
import shutil
import tempfile
import threading
from typing import TYPE_CHECKING, Any

import click

from verwijsindex.clock import SystemClock
from verwijsindex.context import AppContext, build_context
from verwijsindex.errors import VerwijsindexError
from verwijsindex.logging import configure_logging, get_logger
from verwijsindex.settings import Settings
from verwijsindex.storage.migrate import upgrade

if TYPE_CHECKING:
    pass


from verwijsindex.cli.common import _print, _run, _settings

# uvicorn's arguments of every ``serve``, one process or several: structlog handles the
# logging, no access log (the app logs each request itself), no Server header, and forwarded
# headers are not trusted.
_UVICORN_OPTIONS: dict[str, Any] = {
    "log_config": None,
    "access_log": False,
    "server_header": False,
    "proxy_headers": False,
}


@click.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1)")
@click.option("--port", default=None, type=int, help="Port (default 8080)")
@click.option(
    "--workers",
    default=None,
    type=click.IntRange(1, 64),
    help="API worker processes sharing the port (default 1, or VERWIJSINDEX_WORKERS)",
)
@click.option(
    "--webhook-worker/--no-webhook-worker",
    default=None,
    help="Deliver webhooks in the API processes (default on, or"
    " VERWIJSINDEX_RUN_WEBHOOK_WORKER); off when 'notifier run' processes deliver",
)
@click.option(
    "--sweeper/--no-sweeper",
    default=None,
    help="Run the lifecycle sweep in the background (default on, or VERWIJSINDEX_RUN_SWEEPER);"
    " off when a scheduler runs 'verwijsindex sweep'",
)
def serve(
    host: str | None,
    port: int | None,
    workers: int | None,
    webhook_worker: bool | None,
    sweeper: bool | None,
) -> None:
    """Serve the API (and run the lifecycle sweep in the background).

    With --workers N above 1, N processes share the port: this process migrates the database
    once, runs the sweeper, and supervises the workers (a worker that dies is replaced)."""
    import uvicorn

    from verwijsindex.http.app import create_app

    overrides: dict[str, Any] = {}
    if workers is not None:
        overrides["workers"] = workers
    if webhook_worker is not None:
        overrides["run_webhook_worker"] = webhook_worker
    if sweeper is not None:
        overrides["run_sweeper"] = sweeper
    settings = _settings().model_copy(update=overrides)
    host = host or settings.host
    port = port or settings.port
    if settings.workers > 1:
        _serve_workers(settings, host=host, port=port)
        return
    configure_logging(level=settings.log_level, json=settings.log_json)
    try:
        app = create_app(settings, freeze_gc=True)
    except VerwijsindexError as exc:
        raise click.ClickException(exc.detail) from None
    uvicorn.run(app, host=host, port=port, http=_http_protocol(settings), **_UVICORN_OPTIONS)


def _http_protocol(settings: Settings) -> Any:
    """uvicorn's httptools protocol bounded to the settings' request-head limits (414/431)."""
    from verwijsindex.http.http_protocol import HeadLimits, protocol_factory

    return protocol_factory(HeadLimits.of(settings))


class _SupervisorThread:
    """What ``serve --workers N`` runs once, not once per worker process: the lifecycle
    sweeper and, for a federated region or the hub, the federation worker that sends the
    outbox (a region's hand-offs to the hub, the hub's reports to the regions). In a thread
    of the supervising process, with its own event loop. The federation worker is not woken
    by the workers' commits here; it looks at the outbox every
    ``federation_poll_interval_seconds``."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._ctx = build_context(settings, clock=SystemClock())
        self._loop = asyncio.new_event_loop()
        self._task = self._loop.create_task(self._main(), name="supervisor-workers")
        self._thread = threading.Thread(target=self._run, name="supervisor-workers", daemon=True)

    @staticmethod
    def wanted(settings: Settings) -> bool:
        sweeper = settings.run_sweeper and not settings.is_hub
        federation = settings.run_federation_worker and (
            settings.is_hub or settings.federation_region_id is not None
        )
        return sweeper or federation

    async def _main(self) -> None:
        from verwijsindex.registrations.sweep import run_sweeper

        jobs = []
        if self._settings.run_sweeper and not self._settings.is_hub:
            jobs.append(run_sweeper(self._ctx))
        if self._settings.run_federation_worker:
            if self._ctx.federation is not None:
                jobs.append(self._ctx.federation.run())
            if self._ctx.hub is not None:
                jobs.append(self._ctx.hub.run())
        try:
            await asyncio.gather(*jobs)
        finally:
            await self._ctx.database.dispose()

    def _run(self) -> None:
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._task)
        except asyncio.CancelledError:
            pass
        finally:
            self._loop.close()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._loop.call_soon_threadsafe(self._task.cancel)
            self._thread.join(timeout=30)


# What the worker processes of ``serve --workers N`` must not do themselves: the supervising
# process has migrated the database and runs the one sweeper and the one federation worker.
_WORKER_ENV = {
    "VERWIJSINDEX_AUTO_MIGRATE": "false",
    "VERWIJSINDEX_RUN_SWEEPER": "false",
    "VERWIJSINDEX_RUN_FEDERATION_WORKER": "false",
}


def _serve_workers(settings: Settings, *, host: str, port: int) -> None:
    """Supervise ``settings.workers`` uvicorn worker processes on one socket.

    Everything that must happen once happens here, before any worker starts: the
    configuration and keys are checked (development keys are generated, by one process), and
    the schema is migrated, so that workers neither race on migrations nor on key files. The
    workers are spawned (not forked) and build their app with
    :func:`verwijsindex.http.app.create_app_from_env` from the environment set up here."""
    import uvicorn

    configure_logging(level=settings.log_level, json=settings.log_json, process_id=True)
    log = get_logger("verwijsindex.serve")
    metrics_dir = _multiprocess_metrics(settings)

    async def prepare() -> str:
        ctx = build_context(settings, clock=SystemClock())
        try:
            if settings.auto_migrate:
                await upgrade(ctx.database)
            return ctx.database.dialect
        finally:
            await ctx.database.dispose()

    try:
        dialect = asyncio.run(prepare())
        background = _SupervisorThread(settings) if _SupervisorThread.wanted(settings) else None
    except VerwijsindexError as exc:
        raise click.ClickException(exc.detail) from None
    if dialect == "sqlite":
        log.warning(
            "sqlite_workers",
            workers=settings.workers,
            detail="SQLite serialises writers across processes; PostgreSQL is the scale-out path",
        )
    os.environ.update(
        {
            **_WORKER_ENV,
            "VERWIJSINDEX_RUN_WEBHOOK_WORKER": "true" if settings.run_webhook_worker else "false",
        }
    )
    log.info(
        "supervising",
        workers=settings.workers,
        dialect=dialect,
        sweeper=settings.run_sweeper and not settings.is_hub,
        federation_worker=background is not None and settings.run_federation_worker,
        webhook_worker=settings.run_webhook_worker,
    )
    if background is not None:
        background.start()
    try:
        uvicorn.run(
            "verwijsindex.http.app:create_app_from_env",
            factory=True,
            workers=settings.workers,
            host=host,
            port=port,
            http=_http_protocol(settings),
            **_UVICORN_OPTIONS,
        )
    finally:
        if background is not None:
            background.stop()
        if metrics_dir is not None:
            shutil.rmtree(metrics_dir, ignore_errors=True)


def _multiprocess_metrics(settings: Settings) -> str | None:
    """With a metrics token, a fresh directory for Prometheus' multiprocess mode, set in the
    environment before this process (its sweeper) or any worker imports ``prometheus_client``
    (docs/operations.md, "Metrics"). An operator's own ``PROMETHEUS_MULTIPROC_DIR`` is kept
    (and is theirs to empty between runs)."""
    from verwijsindex.metrics import MULTIPROCESS_DIR

    if settings.metrics_token is None or os.environ.get(MULTIPROCESS_DIR):
        return None
    directory = tempfile.mkdtemp(prefix="verwijsindex-metrics-")
    os.environ[MULTIPROCESS_DIR] = directory
    return directory


@click.command()
def sweep() -> None:
    """End registrations that are due and purge what retention allows."""
    from verwijsindex.registrations.sweep import sweep_once

    result = _run(sweep_once)
    _print(
        {
            "ended": result.ended,
            "purged_registrations": result.purged_registrations,
            "purged_matches": result.purged_matches,
        }
    )


@click.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""

    async def work(_ctx: AppContext) -> None:
        return None

    _run(work)
    click.echo("database is up to date")


@click.command("demo")
def demo() -> None:
    """Seed a small demo (two organisations, a professional each, API keys) if the database
    holds no organisation yet. Development only."""
    from verwijsindex.demo import seed_demo

    settings = _settings()
    if settings.is_production:
        raise click.ClickException("the demo is not available in production mode")
    output = _run(seed_demo)
    click.echo(output)

"""``create_app(settings)``: the FastAPI application."""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI

from verwijsindex import __version__
from verwijsindex.accesslog import routes as audit_log
from verwijsindex.alerts import routes as alerts
from verwijsindex.clock import Clock, SystemClock
from verwijsindex.consents import exchange_routes as exchanges
from verwijsindex.consents import routes as consents
from verwijsindex.context import build_context
from verwijsindex.coordination import routes as coordination
from verwijsindex.covenants import routes as covenants
from verwijsindex.families import routes as family_matches
from verwijsindex.federation import routes as federation
from verwijsindex.http import health
from verwijsindex.http import metrics as operator_metrics
from verwijsindex.http.docs_page import docs_router
from verwijsindex.http.middleware import RequestContextMiddleware
from verwijsindex.http.problems import install_error_handlers
from verwijsindex.ledger import routes as audit
from verwijsindex.ledger import table_routes as audit_tables
from verwijsindex.logging import configure_logging, get_logger
from verwijsindex.matches import routes as matches
from verwijsindex.organisations import routes as api_keys
from verwijsindex.portal import routes as portal
from verwijsindex.portal.service import dummy_hash
from verwijsindex.registrations import routes as registrations
from verwijsindex.registrations.sweep import run_sweeper
from verwijsindex.settings import Settings
from verwijsindex.statistics import routes as statistics
from verwijsindex.storage import Database
from verwijsindex.storage.checkpoint import CheckpointStats, run_checkpointer
from verwijsindex.storage.migrate import upgrade
from verwijsindex.storage.statistics import AnalyserStats, run_analyser
from verwijsindex.subject_rights import routes as subject_rights
from verwijsindex.webhooks import routes as webhooks

log = get_logger(__name__)

_STOP_SECONDS = 10.0
"""How long the shutdown waits for its cancelled background workers."""

DESCRIPTION = """\
A privacy-preserving referral index (verwijsindex) for at-risk youths.

Professionals register **that** they are involved with a youth — never **what** is going on.
The index stores only a keyed pseudonym of the youth; when a second professional registers the
same youth it makes a **match** and notifies the participating organisations.

Authenticate with `Authorization: Bearer <api key>`; professional keys name the acting
professional in `X-Professional-Id`. Every error is RFC 9457 `application/problem+json`.
"""


HUB_DESCRIPTION = """\
The hub of federated regional indexes (docs/federation.md): regions hand off new and ended
registrations (a federated pseudonym, an opaque reference, a sealed card) and the hub reports
cross-region matches back to each region's `POST /federation/v1/reports`.

No API keys: every request is signed with the region's key for its direction (Standard
Webhooks `v1` headers and `X-Federation-Region`); 401 otherwise.
"""


def create_app(
    settings: Settings,
    *,
    clock: Clock | None = None,
    database: Database | None = None,
    freeze_gc: bool = False,
    direct_routes: bool = True,
) -> FastAPI:
    """Build the app. Keys are loaded (and production checks run) here, before serving.

    ``freeze_gc`` (what ``verwijsindex serve`` uses): once started, everything allocated so far
    (modules, the app, compiled statements) moves to the garbage collector's permanent
    generation, so a full collection no longer walks it. Measured: a full collection under
    load took 110-130 ms, and the requests in flight waited for it; frozen, 3-4 ms. Not for a
    process that builds many apps (tests): frozen cycles are never collected. It also makes
    the portal's dummy password hash before the first request (:func:`dummy_hash`).

    ``direct_routes`` (off only in tests that compare): ``POST /v1/registrations`` is answered
    below FastAPI's routing when the request is the common case (ADR 0011)."""
    ctx = build_context(settings, clock=clock or SystemClock(), database=database)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if settings.auto_migrate:
            await upgrade(ctx.database)
        if settings.group_commit:
            ctx.writes.start()
        tasks: list[asyncio.Task[None]] = []
        if ctx.database.path is not None and settings.sqlite_checkpoint_interval_s > 0:
            checkpoints = run_checkpointer(
                ctx.database, settings.sqlite_checkpoint_interval_s, app.state.checkpoints
            )
            tasks.append(asyncio.create_task(checkpoints, name="sqlite-checkpoint"))
        if ctx.database.dialect == "postgresql" and settings.postgres_analyse_interval_s > 0:
            analyser = run_analyser(
                ctx.database, settings.postgres_analyse_interval_s, app.state.analyser
            )
            tasks.append(asyncio.create_task(analyser, name="postgres-analyse"))
        if settings.run_sweeper and not settings.is_hub:
            tasks.append(asyncio.create_task(run_sweeper(ctx), name="sweeper"))
        if ctx.federation is not None and settings.run_federation_worker:
            tasks.append(asyncio.create_task(ctx.federation.run(), name="federation"))
        if ctx.hub is not None and settings.run_federation_worker:
            tasks.append(asyncio.create_task(ctx.hub.run(), name="hub"))
        if settings.run_webhook_worker and not settings.is_hub:
            worker = ctx.webhooks.new_worker()
            tasks.append(asyncio.create_task(worker.run(), name="webhook-worker"))
        if settings.alerts_enabled and settings.run_alert_worker:
            alert_worker = ctx.alerts.new_worker()
            tasks.append(asyncio.create_task(alert_worker.run(), name="alert-worker"))
        if freeze_gc:
            await asyncio.to_thread(dummy_hash)  # the portal's first unknown sign-in: no delay
            gc.collect()
            gc.freeze()
        log.info(
            "started", version=__version__, env=settings.env.value, dialect=ctx.database.dialect
        )
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            if tasks:
                # A worker stuck in a peer's I/O (an SMTP relay or webhook receiver that stops
                # answering mid-handshake) must not hold the shutdown: its work is leased and
                # is done again after the lease (the workers' docstrings).
                stopped, stuck = await asyncio.wait(tasks, timeout=_STOP_SECONDS)
                for task in stuck:
                    log.warning("worker_did_not_stop", worker=task.get_name())
                for task in stopped:
                    if not task.cancelled() and task.exception() is not None:
                        log.error(
                            "worker_failed",
                            worker=task.get_name(),
                            error_type=type(task.exception()).__name__,
                        )
            await ctx.writes.stop()
            await ctx.blind.aclose()
            await ctx.database.dispose()

    app = FastAPI(
        title="Verwijsindex",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        # /docs is served by docs_page with assets of its own (no CDN); no ReDoc.
        docs_url=None,
        redoc_url=None,
        # FastAPI's own OpenTelemetry instrumentation stays off: the service records its
        # trace context in the access log and exports nothing to a collector unless an
        # operator builds that in; and its per-request check for configured providers
        # reads the environment three times per request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ctx = ctx
    app.state.checkpoints = CheckpointStats()
    app.state.analyser = AnalyserStats()
    install_error_handlers(app)
    app.include_router(health.router)
    app.include_router(docs_router(app.title))
    if settings.is_hub:
        # The hub serves its own routes only: it holds no registrations or organisations.
        app.title = "Verwijsindex hub"
        app.description = HUB_DESCRIPTION
        app.include_router(federation.hub_router)
        app.add_middleware(
            RequestContextMiddleware,
            max_body_bytes=settings.max_batch_body_bytes,
            max_batch_body_bytes=settings.max_batch_body_bytes,
            direct_routes=None,
        )
        return app
    app.include_router(registrations.router)
    app.include_router(matches.router)
    app.include_router(family_matches.router)
    app.include_router(audit_log.router)
    app.include_router(subject_rights.router)
    app.include_router(api_keys.router)
    app.include_router(consents.router)
    app.include_router(exchanges.router)
    app.include_router(audit.router)
    app.include_router(audit_tables.router)
    app.include_router(webhooks.router)
    app.include_router(statistics.router)
    app.include_router(operator_metrics.router)
    app.include_router(covenants.router)
    app.include_router(coordination.router)
    app.include_router(alerts.router)
    app.include_router(federation.region_router)
    portal.install(app)
    app.add_middleware(
        RequestContextMiddleware,
        max_body_bytes=settings.max_body_bytes,
        max_batch_body_bytes=settings.max_batch_body_bytes,
        direct_routes=(
            {("POST", "/v1/registrations"): registrations.create_registration_direct}
            if direct_routes
            else None
        ),
        metrics=ctx.metrics,
    )
    return app


def create_app_from_env() -> FastAPI:
    """The uvicorn factory of a worker process (``verwijsindex serve --workers N``).

    Runs in the worker: reads ``Settings()`` from the environment, which the parent process
    set up (it migrated once and runs the sweeper itself, so workers skip both), and
    configures logging here because a spawned process starts without it."""
    settings = Settings()
    configure_logging(level=settings.log_level, json=settings.log_json, process_id=True)
    return create_app(settings, freeze_gc=True)

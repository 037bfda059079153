"""The ``verwijsindex`` command line."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from verwijsindex.clock import SystemClock
from verwijsindex.context import AppContext, build_context
from verwijsindex.db.migrate import upgrade
from verwijsindex.errors import VerwijsindexError
from verwijsindex.logging import configure_logging
from verwijsindex.settings import Settings

T = TypeVar("T")


def _settings() -> Settings:
    try:
        return Settings()
    except Exception as exc:  # pydantic ValidationError: name the setting, not the value
        raise click.ClickException(f"invalid configuration: {type(exc).__name__}: {exc}") from None


def _run(work: Callable[[AppContext], Awaitable[T]], *, migrate: bool = True) -> T:
    settings = _settings()
    configure_logging(level="warning", json=settings.log_json)

    async def main() -> T:
        ctx = build_context(settings, clock=SystemClock())
        try:
            if migrate:
                await upgrade(ctx.database)
            return await work(ctx)
        finally:
            await ctx.database.dispose()

    try:
        return asyncio.run(main())
    except VerwijsindexError as exc:
        raise click.ClickException(exc.detail) from None


def _print(document: dict[str, Any]) -> None:
    click.echo(json.dumps(document, indent=2, default=str))


@click.group()
@click.version_option(package_name="verwijsindex")
def main() -> None:
    """Verwijsindex: a privacy-preserving match index for at-risk youths."""


@main.command()
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1)")
@click.option("--port", default=None, type=int, help="Port (default 8080)")
def serve(host: str | None, port: int | None) -> None:
    """Serve the API (and run the lifecycle sweep in the background)."""
    import uvicorn

    from verwijsindex.api import create_app

    settings = _settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    try:
        app = create_app(settings)
    except VerwijsindexError as exc:
        raise click.ClickException(exc.detail) from None
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )


@main.command()
def sweep() -> None:
    """End registrations that are due and purge what retention allows."""
    from verwijsindex.sweeper import sweep_once

    result = _run(sweep_once)
    _print(
        {
            "ended": result.ended,
            "purged_registrations": result.purged_registrations,
            "purged_matches": result.purged_matches,
        }
    )


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
def db_upgrade() -> None:
    """Apply all migrations."""

    async def work(_ctx: AppContext) -> None:
        return None

    _run(work)
    click.echo("database is up to date")


@main.group()
def admin() -> None:
    """Operator actions: organisations, professionals, API keys."""


@admin.command("create-organisation")
@click.option("--name", required=True)
@click.option("--sector", required=True, help="e.g. youth-care, education, police")
@click.option("--municipality", required=True, help="Four-digit CBS municipality code")
def create_organisation(name: str, sector: str, municipality: str) -> None:
    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.database.transaction() as session:
            org = await ctx.admin.create_organisation(
                session, name=name, sector=sector, municipality=municipality
            )
            return {
                "id": org.id,
                "name": org.name,
                "sector": org.sector,
                "municipality": org.municipality,
            }

    _print(_run(work))


@admin.command("create-professional")
@click.option("--organisation", "organisation_id", required=True)
@click.option("--name", required=True)
@click.option("--email", required=True)
@click.option("--phone", required=True)
def create_professional(organisation_id: str, name: str, email: str, phone: str) -> None:
    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.database.transaction() as session:
            pro = await ctx.admin.create_professional(
                session, organisation_id=organisation_id, name=name, email=email, phone=phone
            )
            return {"id": pro.id, "organisation_id": pro.organisation_id}

    _print(_run(work))


@admin.command("create-api-key")
@click.option("--organisation", "organisation_id", required=True)
@click.option("--role", required=True, help="professional, org-admin or auditor")
def create_api_key(organisation_id: str, role: str) -> None:
    """Print a new API key. It is shown once and stored only as a hash."""

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.database.transaction() as session:
            issued = await ctx.admin.create_api_key(
                session, organisation_id=organisation_id, role=role
            )
            return {
                "id": issued.id,
                "key": issued.key,
                "prefix": issued.prefix,
                "organisation_id": issued.organisation_id,
                "role": issued.role.value,
            }

    _print(_run(work))


@main.group()
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
    """Deliver webhooks until stopped (SIGINT/SIGTERM). Run as many processes as needed on
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
            await ctx.webhooks.run_workers(workers)
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


@main.command("demo")
def demo() -> None:
    """Seed a small demo (two organisations, a professional each, API keys) if the database
    holds no organisation yet. Development only."""
    from verwijsindex.demo import seed_demo

    settings = _settings()
    if settings.is_production:
        raise click.ClickException("the demo is not available in production mode")
    output = _run(seed_demo)
    click.echo(output)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

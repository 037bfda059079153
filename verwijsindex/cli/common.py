"""What every command shares: settings, running a unit of work, the operator's access
context, printing, the client options."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:  # the server's modules load when a command uses them (the client's don't)
    from verwijsindex.accesslog import AccessContext
    from verwijsindex.context import AppContext
    from verwijsindex.settings import Settings

T = TypeVar("T")


def _settings() -> Settings:
    from verwijsindex.settings import Settings

    try:
        return Settings()
    except Exception as exc:  # pydantic ValidationError: name the setting, not the value
        raise click.ClickException(f"invalid configuration: {type(exc).__name__}: {exc}") from None


def _run(work: Callable[[AppContext], Awaitable[T]], *, migrate: bool = True) -> T:
    from verwijsindex.clock import SystemClock
    from verwijsindex.context import build_context
    from verwijsindex.errors import VerwijsindexError
    from verwijsindex.logging import configure_logging
    from verwijsindex.storage.migrate import upgrade

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


def _operator(ctx: AppContext) -> AccessContext:
    """The access-log context of an operator's command: a new trace, role ``operator``."""
    from verwijsindex.accesslog import AccessContext

    return AccessContext.system(role="operator", started_at=ctx.clock.now())


def _print(document: dict[str, Any]) -> None:
    click.echo(json.dumps(document, indent=2, default=str))


_URL = click.option(
    "--url", envvar="VERWIJSINDEX_CLIENT_URL", required=True, help="Base URL of the API"
)
_API_KEY = click.option(
    "--api-key", envvar="VERWIJSINDEX_CLIENT_API_KEY", required=True, help="API key"
)

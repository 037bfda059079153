"""The ``verwijsindex`` command line."""

from __future__ import annotations

import asyncio
import json
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click

from verwijsindex.clock import SystemClock
from verwijsindex.context import AppContext, build_context
from verwijsindex.db.migrate import upgrade
from verwijsindex.domain.models import ApiKey
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
@click.option("--role", required=True, help="professional, org-admin, auditor or privacy-officer")
@click.option(
    "--expires-in-days",
    type=click.IntRange(1, 3650),
    default=None,
    help="Optional lifetime of the key in days",
)
def create_api_key(organisation_id: str, role: str, expires_in_days: int | None) -> None:
    """Print a new API key. It is shown once and stored only as a hash."""

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.database.transaction() as session:
            issued = await ctx.admin.create_api_key(
                session,
                organisation_id=organisation_id,
                role=role,
                expires_in_days=expires_in_days,
            )
            return {
                "id": issued.id,
                "key": issued.key,
                "prefix": issued.prefix,
                "organisation_id": issued.organisation_id,
                "role": issued.role.value,
                "expires_at": issued.expires_at,
            }

    _print(_run(work))


def _api_key_document(api_key: ApiKey) -> dict[str, Any]:
    return {
        "id": api_key.id,
        "prefix": api_key.prefix,
        "organisation_id": api_key.organisation_id,
        "role": api_key.role,
        "created_at": api_key.created_at,
        "last_used_at": api_key.last_used_at,
        "expires_at": api_key.expires_at,
        "revoked_at": api_key.revoked_at,
    }


@admin.command("list-api-keys")
@click.option("--organisation", "organisation_id", required=True)
def list_api_keys(organisation_id: str) -> None:
    """List an organisation's API keys (never the keys or their hashes)."""

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.database.transaction() as session:
            keys = await ctx.admin.list_api_keys(session, organisation_id=organisation_id)
            return {"items": [_api_key_document(k) for k in keys]}

    _print(_run(work))


@admin.command("revoke-api-key")
@click.option("--id", "key_id", required=True, help="The API key's id (not the key)")
def revoke_api_key(key_id: str) -> None:
    """Revoke an API key now; it is refused (401) from the next request on."""

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.database.transaction() as session:
            api_key = await ctx.admin.revoke_api_key(session, key_id=key_id, organisation_id=None)
            return _api_key_document(api_key)

    _print(_run(work))


# --- keys -----------------------------------------------------------------------------------


def _keys_call(work: Callable[[Settings], T]) -> T:
    settings = _settings()
    try:
        return work(settings)
    except VerwijsindexError as exc:
        raise click.ClickException(exc.detail) from None


def _registration_counts(settings: Settings) -> dict[int, dict[str, int]]:
    """Registrations per key version and status (without loading keys)."""
    from verwijsindex.db import create_database
    from verwijsindex.domain import repository as repo

    async def main() -> dict[int, dict[str, int]]:
        database = create_database(settings)
        try:
            await upgrade(database)
            async with database.transaction() as session:
                rows = await repo.registration_counts_by_key_version(session)
        finally:
            await database.dispose()
        counts: dict[int, dict[str, int]] = {}
        for version, status, n in rows:
            counts.setdefault(version, {})[status] = n
        return counts

    return asyncio.run(main())


@main.group()
def keys() -> None:
    """Master keys: generate, show public parts, rotate, retire."""


@keys.command("generate")
@click.option(
    "--production", is_flag=True, help="Mark the key as a production (non-development) key"
)
def keys_generate(production: bool) -> None:
    """Write the first master key file (mode 0600). Prints its version, never the key."""
    from verwijsindex.keys import generate_first_key, key_fingerprint

    master = _keys_call(lambda s: generate_first_key(s, production=production))
    _print(
        {
            "version": master.version,
            "development": master.development,
            "fingerprint": key_fingerprint(master),
        }
    )


@keys.command("show")
def keys_show() -> None:
    """Public parts only: versions, the current one, development flag, modes, fingerprints."""
    from verwijsindex.keys import describe_keys

    infos, dir_mode = _keys_call(describe_keys)
    settings = _settings()
    _print(
        {
            "keys_dir": str(settings.resolved_keys_dir),
            "keys_dir_mode": dir_mode,
            "keys": [
                {
                    "version": i.version,
                    "current": i.current,
                    "development": i.development,
                    "source": i.source,
                    "mode": i.mode,
                    "fingerprint": i.fingerprint,
                }
                for i in infos
            ],
        }
    )


@keys.command("rotate")
def keys_rotate() -> None:
    """Write version N+1; it becomes current at the next start. Older versions keep matching
    until retired."""
    from verwijsindex.keys import key_fingerprint, rotate_key

    master = _keys_call(rotate_key)
    _print(
        {
            "version": master.version,
            "development": master.development,
            "fingerprint": key_fingerprint(master),
            "note": "restart the service to make this version current",
        }
    )


@keys.command("repseudonymise-report")
def keys_report() -> None:
    """How many registrations remain per key version (active ones still need that key)."""
    counts = _keys_call(_registration_counts)
    _print({"versions": [{"version": v, "registrations": c} for v, c in sorted(counts.items())]})


@keys.command("retire")
@click.option("--version", "version", required=True, type=int, help="The key version to retire")
@click.option(
    "--force",
    is_flag=True,
    help="Retire although active registrations still use it (they stop matching)",
)
def keys_retire(version: int, force: bool) -> None:
    """Stop loading an old key version (its file moves to <keys_dir>/retired/).

    Refused while active registrations still use the version, unless --force."""
    from verwijsindex.keys import retire_key_file

    counts = _keys_call(_registration_counts)
    active = counts.get(version, {}).get("active", 0)
    report = [{"version": v, "registrations": c} for v, c in sorted(counts.items())]
    if active and not force:
        click.echo(json.dumps({"versions": report}, indent=2), err=True)
        raise click.ClickException(
            f"{active} active registration(s) still use key version {version}; they stop"
            " matching once it is retired. Wait until they are presented again or end,"
            " or pass --force"
        )
    target = _keys_call(lambda s: retire_key_file(s, version=version))
    _print(
        {
            "retired": version,
            "moved_to": str(target),
            "active_registrations_abandoned": active,
            "versions": report,
        }
    )


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

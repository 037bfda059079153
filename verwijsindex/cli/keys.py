"""``keys``: master keys (generate, show, rotate, retire)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from verwijsindex.errors import VerwijsindexError
from verwijsindex.settings import Settings
from verwijsindex.storage.migrate import upgrade

if TYPE_CHECKING:
    pass


from verwijsindex.cli.common import T, _print, _settings


def _keys_call(work: Callable[[Settings], T]) -> T:
    settings = _settings()
    try:
        return work(settings)
    except VerwijsindexError as exc:
        raise click.ClickException(exc.detail) from None


def _registration_counts(settings: Settings) -> dict[int, dict[str, int]]:
    """Registrations per key version and status (without loading keys)."""
    from verwijsindex.registrations import repository as repo
    from verwijsindex.storage import create_database

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


@click.group()
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


@keys.command("blind-status")
def keys_blind_status() -> None:
    """The blind path's migration: whether a key service is configured and how many active
    registrations are still under a pseudonym of the BSN (the blind path opens at 0)."""
    from verwijsindex.registrations import repository as repo
    from verwijsindex.storage import create_database

    settings = _settings()

    async def main() -> int:
        database = create_database(settings)
        try:
            await upgrade(database)
            async with database.read() as session:
                return await repo.active_direct_pseudonym_count(session)
        finally:
            await database.dispose()

    remaining = asyncio.run(main())
    configured = settings.keyservice_url is not None
    _print(
        {
            "keyservice_configured": configured,
            "blind_path_accepted": settings.blind_path and configured,
            "active_registrations_under_bsn_pseudonyms": remaining,
            "blind_path_open": settings.blind_path and configured and remaining == 0,
        }
    )


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

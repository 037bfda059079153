"""``keyservice``: the key service of the blind pseudonyms, a separate deployment
(``serve``, ``keys generate|list|rotate|retire``, ``callers add|list|remove``). It reads
``VERWIJSINDEX_KEYSERVICE_*`` settings, never the index's."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import click

from verwijsindex.cli.common import T, _print
from verwijsindex.errors import VerwijsindexError
from verwijsindex.keyservice.settings import KeyServiceSettings


def _ks_settings() -> KeyServiceSettings:
    try:
        return KeyServiceSettings()
    except Exception as exc:  # pydantic ValidationError: name the setting, not the value
        raise click.ClickException(f"invalid configuration: {type(exc).__name__}: {exc}") from None


def _call(work: Callable[[KeyServiceSettings], T]) -> T:
    settings = _ks_settings()
    try:
        return work(settings)
    except VerwijsindexError as exc:
        raise click.ClickException(exc.detail) from None


@click.group()
def keyservice() -> None:
    """The key service (RFC 9497 VOPRF): serve, keys, callers. A separate deployment."""


@keyservice.command("serve")
@click.option("--host", default=None, help="Interface to bind (default 127.0.0.1)")
@click.option("--port", default=None, type=int, help="Port (default 8090)")
def serve(host: str | None, port: int | None) -> None:
    """Serve the key service's API (its own process, key files and callers)."""
    import uvicorn

    from verwijsindex.keyservice.routes import create_keyservice_app
    from verwijsindex.logging import configure_logging

    settings = _ks_settings()
    configure_logging(level=settings.log_level, json=settings.log_json)
    app = _call(create_keyservice_app)
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        access_log=False,
        server_header=False,
        proxy_headers=False,
    )


@keyservice.group("keys")
def keys() -> None:
    """The OPRF keys: generate, list (public parts), rotate, retire."""


def _describe(key: Any) -> dict[str, Any]:
    import base64

    return {
        "version": key.version,
        "development": key.development,
        "public_key": base64.urlsafe_b64encode(key.key.public_key).rstrip(b"=").decode(),
        "fingerprint": key.fingerprint,
    }


@keys.command("generate")
@click.option("--production", is_flag=True, help="Mark the key as a production key")
def keys_generate(production: bool) -> None:
    """Write OPRF key version 1 (refused when a key exists: rotate instead)."""
    from verwijsindex.keyservice.keys import generate_first

    _print(_describe(_call(lambda s: generate_first(s, production=production))))


@keys.command("list")
def keys_list() -> None:
    """Every key version's public key and fingerprint (pin these in clients)."""
    from verwijsindex.keyservice.keys import load_ring

    ring = _call(load_ring)
    _print(
        {
            "current_version": ring.current_version,
            "keys": [_describe(ring.get(v)) for v in ring.versions],
        }
    )


@keys.command("rotate")
def keys_rotate() -> None:
    """Write version N+1; a running service evaluates under it from its next request. Clients
    then send tokens under every version, and the index moves youths over on presentation."""
    from verwijsindex.keyservice.keys import rotate

    _print(_describe(_call(rotate)))


@keys.command("retire")
@click.option("--version", "version", required=True, type=int)
def keys_retire(version: int) -> None:
    """Stop offering an old version (youths stored only under it no longer move over)."""
    from verwijsindex.keyservice.keys import retire

    _print({"retired": version, "moved_to": str(_call(lambda s: retire(s, version=version)))})


@keyservice.group("callers")
def callers() -> None:
    """Who may call the key service: organisations and indexes, each with its own API key."""


@callers.command("add")
@click.argument("caller_id")
@click.option("--rate-per-minute", type=click.IntRange(1), default=None)
@click.option("--replace", is_flag=True, help="Issue a new key for an existing caller")
def callers_add(caller_id: str, rate_per_minute: int | None, replace: bool) -> None:
    """Issue CALLER_ID's API key (shown once; only its hash is kept)."""
    from verwijsindex.keyservice.callers import issue

    api_key = _call(lambda s: issue(s, caller_id, rate_per_minute=rate_per_minute, replace=replace))
    _print({"caller": caller_id, "api_key": api_key, "rate_per_minute": rate_per_minute})


@callers.command("list")
def callers_list() -> None:
    from verwijsindex.keyservice.callers import read_callers

    _print(
        {
            "callers": [
                {"caller": c.id, "rate_per_minute": c.rate_per_minute, "created_at": c.created_at}
                for c in _call(read_callers)
            ]
        }
    )


@callers.command("remove")
@click.argument("caller_id")
def callers_remove(caller_id: str) -> None:
    from verwijsindex.keyservice.callers import remove

    _call(lambda s: remove(s, caller_id))
    _print({"removed": caller_id})

"""The ``verwijsindex`` command line."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from verwijsindex.abuse import BulkGrant
from verwijsindex.accesslog import AccessContext, Operation, Subject
from verwijsindex.clock import SystemClock
from verwijsindex.context import AppContext, build_context
from verwijsindex.db.migrate import upgrade
from verwijsindex.domain.models import ApiKey
from verwijsindex.errors import VerwijsindexError
from verwijsindex.logging import configure_logging, get_logger
from verwijsindex.settings import Settings

if TYPE_CHECKING:
    from verwijsindex.client import ExchangeClient as ExchangeClientT

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


def _operator(ctx: AppContext) -> AccessContext:
    """The access-log context of an operator's command: a new trace, role ``operator``."""
    return AccessContext.system(role="operator", started_at=ctx.clock.now())


def _print(document: dict[str, Any]) -> None:
    click.echo(json.dumps(document, indent=2, default=str))


@click.group()
@click.version_option(package_name="verwijsindex")
def main() -> None:
    """Verwijsindex: a privacy-preserving match index for at-risk youths."""


# uvicorn's arguments of every ``serve``, one process or several: structlog handles the
# logging, no access log (the app logs each request itself), no Server header, and forwarded
# headers are not trusted.
_UVICORN_OPTIONS: dict[str, Any] = {
    "log_config": None,
    "access_log": False,
    "server_header": False,
    "proxy_headers": False,
}


@main.command()
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

    from verwijsindex.api import create_app

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
    from verwijsindex.api.http_protocol import HeadLimits, protocol_factory

    return protocol_factory(HeadLimits.of(settings))


class _SweeperThread:
    """The lifecycle sweeper of ``serve --workers N``: in a thread of the supervising process,
    with its own event loop, so that it runs once and not once per worker process."""

    def __init__(self, settings: Settings) -> None:
        self._ctx = build_context(settings, clock=SystemClock())
        self._loop = asyncio.new_event_loop()
        self._task = self._loop.create_task(self._main(), name="sweeper")
        self._thread = threading.Thread(target=self._run, name="sweeper", daemon=True)

    async def _main(self) -> None:
        from verwijsindex.sweeper import run_sweeper

        try:
            await run_sweeper(self._ctx)
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
# process has migrated the database and runs the one sweeper.
_WORKER_ENV = {"VERWIJSINDEX_AUTO_MIGRATE": "false", "VERWIJSINDEX_RUN_SWEEPER": "false"}


def _serve_workers(settings: Settings, *, host: str, port: int) -> None:
    """Supervise ``settings.workers`` uvicorn worker processes on one socket.

    Everything that must happen once happens here, before any worker starts: the
    configuration and keys are checked (development keys are generated, by one process), and
    the schema is migrated, so that workers neither race on migrations nor on key files. The
    workers are spawned (not forked) and build their app with
    :func:`verwijsindex.api.create_app_from_env` from the environment set up here."""
    import uvicorn

    configure_logging(level=settings.log_level, json=settings.log_json, process_id=True)
    log = get_logger("verwijsindex.serve")

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
        sweeper = _SweeperThread(settings) if settings.run_sweeper else None
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
        sweeper=sweeper is not None,
        webhook_worker=settings.run_webhook_worker,
    )
    if sweeper is not None:
        sweeper.start()
    try:
        uvicorn.run(
            "verwijsindex.api:create_app_from_env",
            factory=True,
            workers=settings.workers,
            host=host,
            port=port,
            http=_http_protocol(settings),
            **_UVICORN_OPTIONS,
        )
    finally:
        if sweeper is not None:
            sweeper.stop()


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
    """Operator actions: organisations, professionals, API keys, bulk-import grants."""


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
            await ctx.access_log.record(
                session,
                _operator(ctx),
                operation=Operation.ADMIN_CREATE_ORGANISATION,
                subject=Subject.reference("organisation", org.id),
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
            await ctx.access_log.record(
                session,
                _operator(ctx),
                operation=Operation.ADMIN_CREATE_PROFESSIONAL,
                subject=Subject.professional(pro.id),
            )
            return {"id": pro.id, "organisation_id": pro.organisation_id}

    _print(_run(work))


@admin.command("create-api-key")
@click.option("--organisation", "organisation_id", required=True)
@click.option(
    "--role",
    required=True,
    help="professional, org-admin, reviewer, auditor (appointed by the operator or the"
    " supervisory authority) or privacy-officer",
)
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
            await ctx.access_log.record(
                session,
                _operator(ctx),
                operation=Operation.ADMIN_CREATE_API_KEY,
                subject=Subject.reference("api-key", issued.id),
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


def _grant_document(grant: BulkGrant, used: int | None = None) -> dict[str, Any]:
    document: dict[str, Any] = {
        "id": grant.id,
        "organisation_id": grant.organisation_id,
        "items": grant.items,
        "granted_at": grant.granted_at,
        "expires_at": grant.expires_at,
        "revoked_at": grant.revoked_at,
        "reference": grant.reference,
    }
    if used is not None:
        document["used"] = used
    return document


@admin.command("grant-bulk-import")
@click.option("--organisation", "organisation_id", required=True)
@click.option(
    "--items", required=True, type=click.IntRange(1), help="Youths the organisation may register"
)
@click.option(
    "--days", default=7, show_default=True, type=click.IntRange(1, 30), help="Days it is valid"
)
@click.option("--reference", default=None, help="e.g. the case number of the decision")
def grant_bulk_import(organisation_id: str, items: int, days: int, reference: str | None) -> None:
    """Let an organisation register up to ITEMS youths through POST /v1/registrations:batch
    (e.g. with `verwijsindex import-registrations`) within DAYS days, beyond the
    per-professional rate limits. Without a grant, batch items count against the same limits
    as single registrations."""

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.database.transaction() as session:
            grant = await ctx.abuse.grant_bulk_import(
                session,
                organisation_id=organisation_id,
                items=items,
                days=days,
                reference=reference,
            )
            return _grant_document(grant)

    _print(_run(work))


@admin.command("revoke-bulk-import")
@click.option("--id", "grant_id", required=True, help="The grant's id")
def revoke_bulk_import(grant_id: str) -> None:
    """End a bulk-import grant now; prints how many items it was used for."""

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.database.transaction() as session:
            grant = await ctx.abuse.revoke_bulk_import(session, grant_id=grant_id)
            return _grant_document(grant, await ctx.abuse.bulk_grant_used(session, grant))

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


@main.command("import-registrations")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--url", default="http://127.0.0.1:8080", show_default=True, help="The API's base URL"
)
@click.option("--api-key", envvar="VERWIJSINDEX_API_KEY", required=True, help="A professional key")
@click.option("--professional-id", required=True, help="The professional registering")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 1000))
def import_registrations(
    csv_file: Path, url: str, api_key: str, professional_id: str, batch_size: int
) -> None:
    """Register every row of CSV_FILE (columns bsn, birth_date[, municipality,
    professional_id]) through the batch endpoint, with a progress bar. Failed rows are listed
    by line number and problem type, never by value."""
    import httpx

    from verwijsindex.importer import ImportFailed, import_csv

    with csv_file.open(encoding="utf-8-sig") as fh:
        total = max(sum(1 for _ in fh) - 1, 0)
    with (
        httpx.Client(base_url=url, timeout=120) as client,
        click.progressbar(length=total, label="registering", file=sys.stderr) as bar,
    ):
        try:
            report = import_csv(
                csv_file,
                client=client,
                api_key=api_key,
                professional_id=professional_id,
                batch_size=batch_size,
                progress=bar.update,
            )
        except (ImportFailed, httpx.HTTPError) as exc:
            raise click.ClickException(str(exc)) from None
    _print(
        {
            "rows": report.rows,
            "created": report.created,
            "existing": report.existing,
            "failed": report.failed,
            "failures": [{"line": line, "problem": code} for line, code in report.failures],
        }
    )
    if any(code == "rate-limited" for _line, code in report.failures):
        click.echo(
            "some rows were refused by the rate limits on registrations; for a bulk import an"
            " operator grants the organisation a quota: verwijsindex admin grant-bulk-import"
            " --organisation ID --items N",
            err=True,
        )
    if report.failed:
        sys.exit(1)


@main.group("access-log")
def access_log() -> None:
    """The access log: verify the hash chain, sign its head, show the head key."""


@access_log.command("verify")
def access_log_verify() -> None:
    """Recompute the hash chain and check every signed head; exit 1 on tampering."""
    from verwijsindex.accesslog import AccessLogTampered

    async def work(ctx: AppContext) -> dict[str, Any]:
        try:
            report = await ctx.access_log.verify_database(ctx.database)
        except AccessLogTampered as exc:
            return {"ok": False, "error": exc.detail, "seq": exc.seq}
        return {
            "ok": True,
            "records": report.records,
            "head_hash": report.head_hash,
            "signed_heads": report.signed_heads,
        }

    result = _run(work)
    _print(result)
    if not result["ok"]:
        sys.exit(1)


@access_log.command("sign-head")
def access_log_sign_head() -> None:
    """Sign the current head (record count and hash) with the access-log Ed25519 key."""

    async def work(ctx: AppContext) -> dict[str, Any]:
        async with ctx.database.transaction() as session:
            head = await ctx.access_log.sign_head(session)
        return {
            "count": head.count,
            "head_hash": head.head_hash,
            "signed_at": head.signed_at.isoformat(),
            "key_id": head.key_id,
            "signature": head.signature,
        }

    _print(_run(work))


@access_log.command("public-key")
def access_log_public_key() -> None:
    """Print the public keys (base64 raw Ed25519) that verify signed heads."""
    import base64

    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    from verwijsindex.keys import KeyRing

    keys = KeyRing.load(_settings())
    _print(
        {
            "keys": [
                base64.b64encode(k.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode()
                for k in keys.access_log_public_keys()
            ]
        }
    )


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


# --- consent ledger (auditors, operators) -------------------------------------------------

_URL = click.option(
    "--url", envvar="VERWIJSINDEX_CLIENT_URL", required=True, help="Base URL of the API"
)
_API_KEY = click.option(
    "--api-key", envvar="VERWIJSINDEX_CLIENT_API_KEY", required=True, help="API key"
)


@main.group()
def audit() -> None:
    """Consent ledger: verify it as an auditor; manage its signing key as an operator."""


@audit.command("verify")
@_URL
@_API_KEY
@click.option("--public-key", "verifier_key", default=None, help="Pinned verifier key string")
@click.option(
    "--public-key-file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="File holding the pinned verifier key",
)
@click.option(
    "--state",
    type=click.Path(dir_okay=False, path_type=Path),
    default=Path("ledger-state.json"),
    show_default=True,
    help="Local state: the last verified checkpoint and leaf hashes",
)
def audit_verify(
    url: str, api_key: str, verifier_key: str | None, public_key_file: Path | None, state: Path
) -> None:
    """Verify the checkpoint signature, consistency with the last run, every entry, the
    root and the business rules. Exits 1 naming the entry on any violation."""
    import httpx

    from verwijsindex.audit import http_fetch, verify_ledger

    if (verifier_key is None) == (public_key_file is None):
        raise click.UsageError("give exactly one of --public-key and --public-key-file")
    vkey = verifier_key or public_key_file.read_text(encoding="utf-8").strip()  # type: ignore[union-attr]
    headers = {"Authorization": f"Bearer {api_key}"}
    try:
        with httpx.Client(base_url=url.rstrip("/"), headers=headers, timeout=60) as client:
            report = verify_ledger(http_fetch(client), verifier_key=vkey, state=state)
    except (RuntimeError, httpx.HTTPError, ValueError) as exc:
        click.echo(f"VIOLATION: {exc}\nRESULT: FAILED (1)")
        sys.exit(1)
    click.echo(report.text())
    sys.exit(0 if report.ok else 1)


@audit.command("generate-signing-key")
def audit_generate_signing_key() -> None:
    """Write the Ed25519 checkpoint signing key (mode 0600) and print its verifier key."""
    from crypto import format_verifier_key
    from verwijsindex.keys import generate_ledger_key_file, load_ledger_signing_key

    settings = _settings()
    try:
        path = generate_ledger_key_file(
            settings.resolved_keys_dir, development=not settings.is_production
        )
    except FileExistsError:
        raise click.ClickException("a ledger signing key exists already") from None
    key = load_ledger_signing_key(settings)
    click.echo(f"wrote {path}")
    click.echo(
        format_verifier_key(name=settings.resolved_ledger_origin, public_key=key.public_key())
    )


@audit.command("public-key")
def audit_public_key() -> None:
    """Print the verifier key of the configured signing key (publish it to auditors)."""
    from crypto import format_verifier_key
    from verwijsindex.keys import load_ledger_signing_key

    settings = _settings()
    try:
        key = load_ledger_signing_key(settings)
    except VerwijsindexError as exc:
        raise click.ClickException(exc.detail) from None
    click.echo(
        format_verifier_key(name=settings.resolved_ledger_origin, public_key=key.public_key())
    )


# --- encrypted exchange (organisations' systems) ------------------------------------------


@main.group()
def exchange() -> None:
    """Send and read end-to-end encrypted exchanges without writing crypto code."""


_PROFESSIONAL = click.option(
    "--professional",
    envvar="VERWIJSINDEX_CLIENT_PROFESSIONAL",
    required=True,
    help="The acting professional's id (X-Professional-Id)",
)
_KEY_FILE = click.option(
    "--key-file",
    envvar="VERWIJSINDEX_CLIENT_KEY_FILE",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    required=True,
    help="The organisation's X25519 key file from 'exchange keygen'",
)


def _read_key_file(path: Path) -> bytes:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
        return base64.b64decode(document["private_key"], validate=True)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise click.ClickException(f"key file {path.name} is unreadable or malformed") from exc


def _client(url: str, api_key: str, professional: str, key_file: Path) -> ExchangeClientT:
    from verwijsindex.client import ExchangeClient

    return ExchangeClient(
        base_url=url,
        api_key=api_key,
        professional_id=professional,
        private_key=_read_key_file(key_file),
    )


def _run_client(work: Callable[[], Coroutine[Any, Any, T]]) -> T:
    from verwijsindex.client import ClientError

    try:
        return asyncio.run(work())
    except ClientError as exc:
        raise click.ClickException(str(exc)) from None


@exchange.command("keygen")
@click.option("--out", type=click.Path(dir_okay=False, path_type=Path), required=True)
def exchange_keygen(out: Path) -> None:
    """Write a new X25519 key pair (mode 0600) and print the public key (base64)."""
    import os

    from crypto import hpke_generate_keypair

    private, public = hpke_generate_keypair()
    document = {
        "kind": "verwijsindex-exchange-key",
        "private_key": base64.b64encode(private).decode(),
        "public_key": base64.b64encode(public).decode(),
    }
    try:
        fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise click.ClickException(f"{out} exists already") from None
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(json.dumps(document, indent=2) + "\n")
    click.echo(document["public_key"])


@exchange.command("register-key")
@_URL
@click.option("--admin-api-key", envvar="VERWIJSINDEX_CLIENT_ADMIN_API_KEY", required=True)
@_KEY_FILE
def exchange_register_key(url: str, admin_api_key: str, key_file: Path) -> None:
    """Register (or rotate to) the key file's public key; needs an org-admin API key."""

    async def work() -> dict[str, Any]:
        async with _client(url, admin_api_key, "", key_file) as client:
            return await client.register_key(admin_api_key=admin_api_key)

    _print(_run_client(work))


@exchange.command("send")
@_URL
@_API_KEY
@_PROFESSIONAL
@_KEY_FILE
@click.option("--match", "match_id", required=True)
@click.option("--recipient", required=True, help="Recipient organisation id")
@click.option("--purpose", required=True, help="care-coordination, safety-assessment, …")
@click.option("--category", required=True, help="care, education, safety, health, justice")
@click.option("--legal-ground", default=None, help="meldrecht, court-measure or legal-duty")
@click.option("--justification-file", type=click.File("r", encoding="utf-8"), default=None)
@click.option("--in", "infile", type=click.File("rb"), default="-", help="Content (default stdin)")
def exchange_send(
    url: str,
    api_key: str,
    professional: str,
    key_file: Path,
    match_id: str,
    recipient: str,
    purpose: str,
    category: str,
    legal_ground: str | None,
    justification_file: Any,
    infile: Any,
) -> None:
    """Encrypt content to the recipient organisation and send it through the gate."""
    plaintext: bytes = infile.read()
    ground: tuple[str, str] | None = None
    if legal_ground is not None:
        if justification_file is None:
            raise click.UsageError("a legal ground needs --justification-file")
        ground = (legal_ground, justification_file.read())

    async def work() -> dict[str, Any]:
        async with _client(url, api_key, professional, key_file) as client:
            sent = await client.send(
                match_id, recipient, purpose, category, plaintext, legal_ground=ground
            )
        return {
            "id": sent.id,
            "ledger_index": sent.ledger_index,
            "consent_reference": sent.consent_reference,
            "flagged_for_review": sent.flagged_for_review,
        }

    _print(_run_client(work))


@exchange.command("inbox")
@_URL
@_API_KEY
@_PROFESSIONAL
@_KEY_FILE
def exchange_inbox(url: str, api_key: str, professional: str, key_file: Path) -> None:
    """List the exchanges waiting for this organisation."""

    async def work() -> list[dict[str, Any]]:
        async with _client(url, api_key, professional, key_file) as client:
            return await client.inbox()

    click.echo(json.dumps(_run_client(work), indent=2))


@exchange.command("read")
@_URL
@_API_KEY
@_PROFESSIONAL
@_KEY_FILE
@click.argument("exchange_id")
@click.option("--out", type=click.File("wb"), default="-", help="Where to write the content")
@click.option("--no-ack", is_flag=True, help="Do not acknowledge (the ciphertext is kept)")
def exchange_read(
    url: str,
    api_key: str,
    professional: str,
    key_file: Path,
    exchange_id: str,
    out: Any,
    no_ack: bool,
) -> None:
    """Fetch, decrypt and acknowledge one exchange (the service then deletes it)."""

    async def work() -> bytes:
        async with _client(url, api_key, professional, key_file) as client:
            received = await client.read(exchange_id, acknowledge=not no_ack)
        return received.plaintext

    out.write(_run_client(work))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

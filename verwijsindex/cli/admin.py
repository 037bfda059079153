"""``admin``: the operator's organisations, professionals, API keys and bulk-import grants."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import click

from verwijsindex.abuse import BulkGrant
from verwijsindex.accesslog import Operation, Subject
from verwijsindex.context import AppContext
from verwijsindex.organisations.models import ApiKey

if TYPE_CHECKING:
    pass


from verwijsindex.cli.common import _operator, _print, _run


@click.group()
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
    " supervisory authority), privacy-officer or municipality-admin (the last two only for an"
    " organisation of sector municipality)",
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

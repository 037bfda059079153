"""Helpers for the access-log, enumeration-defence and subject-rights tests."""

from __future__ import annotations

from sqlalchemy import select

from verwijsindex.accesslog import AccessLogRecord
from verwijsindex.context import AppContext


async def privacy_officer_headers(ctx: AppContext) -> dict[str, str]:
    """A key of role privacy-officer of the municipality's organisation."""
    async with ctx.database.transaction() as session:
        org = await ctx.admin.create_organisation(
            session, name="Gemeente", sector="municipality", municipality="0363"
        )
        key = await ctx.admin.create_api_key(
            session, organisation_id=org.id, role="privacy-officer"
        )
    return {"Authorization": f"Bearer {key.key}"}


async def records(ctx: AppContext, operation: str | None = None) -> list[AccessLogRecord]:
    async with ctx.database.transaction() as session:
        query = select(AccessLogRecord).order_by(AccessLogRecord.seq)
        if operation is not None:
            query = query.where(AccessLogRecord.operation == operation)
        return list((await session.execute(query)).scalars())


async def drop_append_only_triggers(ctx: AppContext) -> None:
    """What an attacker with DDL rights does first: remove the database's append-only guard."""
    from sqlalchemy import text

    async with ctx.database.transaction() as session:
        if ctx.database.dialect == "postgresql":
            await session.execute(text("DROP TRIGGER access_log_append_only ON access_log"))
        else:
            await session.execute(text("DROP TRIGGER access_log_no_update"))
            await session.execute(text("DROP TRIGGER access_log_no_delete"))

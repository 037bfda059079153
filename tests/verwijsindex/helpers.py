"""Helpers for the access-log, enumeration-defence, subject-rights and read tests."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from pydantic import BaseModel
from sqlalchemy import event, select

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


# A statement that reads the index's tables (not the credentials, the access log or a lock).
_INDEX_READ = re.compile(r"^\s*SELECT\b.*\bFROM (registrations|matches|match_participants)\b", re.S)


def index_reads(ctx: AppContext) -> AbstractContextManager[list[str]]:
    """The statements that read the index's tables, as they are run inside the block."""
    return statements(ctx, _INDEX_READ)


@contextmanager
def statements(ctx: AppContext, pattern: re.Pattern[str]) -> Iterator[list[str]]:
    """The statements matching ``pattern`` (from their start), as they are run inside the
    block, on any of the database's engines."""
    seen: list[str] = []

    def capture(_c: Any, _cur: Any, statement: str, *_args: Any) -> None:
        if pattern.match(statement):
            seen.append(statement)

    db = ctx.database
    engines = [e.sync_engine for e in (db.engine, db.read_engine, db.group_engine) if e]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", capture)
    try:
        yield seen
    finally:
        for engine in engines:
            event.remove(engine, "before_cursor_execute", capture)


def as_fastapi_would(model: type[BaseModel], body: bytes) -> bytes:
    """The body FastAPI answers for ``response_model=model``: validated, then ``json.dumps``
    compact, as its ``JSONResponse`` does."""
    document = model.model_validate_json(body).model_dump(mode="json")
    return json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode()

"""The benchmark's loader writes what the service itself would: pseudonyms the service matches
against, access-log records that continue the hash chain, and each match with its
coordination and outbox events; every row by column name."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime

import httpx
import pytest
from sqlalchemy import func, select, text

from notifier import OutboxEvent
from scripts.bench.load_registrations import DEFAULT_BSN_OFFSET, bsn_of, load
from scripts.bench.tables import REGISTRATIONS, sqlite_rows
from tests.conftest import Caller, registration_body
from verwijsindex.accesslog import AccessLogRecord
from verwijsindex.context import AppContext
from verwijsindex.coordination.models import Coordination, CoordinationEvent
from verwijsindex.matches.models import Match
from verwijsindex.registrations.models import Registration
from verwijsindex.settings import Settings


async def _count(ctx: AppContext, column: object) -> int:
    async with ctx.database.transaction() as session:
        return int((await session.execute(select(func.count(column)))).scalar_one())  # type: ignore[call-overload]


async def _match_ids(ctx: AppContext) -> list[str]:
    async with ctx.database.transaction() as session:
        return list((await session.execute(select(Match.id))).scalars())


async def _load(settings: Settings, count: int, **options: object) -> dict[str, object]:
    return await asyncio.to_thread(
        load,
        database_url=settings.database_url,
        data_dir=settings.data_dir,
        count=count,
        organisations=3,
        professionals_per_organisation=2,
        **options,  # type: ignore[arg-type]
    )


async def test_loaded_youths_match_and_the_access_log_verifies(
    client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext, settings: Settings
) -> None:
    # The log already has records: the loaded ones must continue its chain.
    r = await client.post("/v1/registrations", json=registration_body(), headers=callers[1].headers)
    assert r.status_code == 201
    before = await _count(ctx, AccessLogRecord.seq)
    assert before > 0
    result = await _load(settings, 40)
    assert result["registrations"] == 40
    assert await _count(ctx, Registration.id) == 41
    assert await _count(ctx, Match.id) == 3  # every tenth youth twice: 3 x 11 + 7 singles
    assert await _count(ctx, AccessLogRecord.seq) == before + 40
    async with ctx.database.transaction() as session:
        assert (await ctx.access_log.verify(session)).records == before + 40

    # A loaded youth (registered once) registered again by another professional: a match.
    r = await client.post(
        "/v1/registrations",
        json=registration_body(bsn_of(DEFAULT_BSN_OFFSET)),
        headers=callers[0].headers,
    )
    assert r.status_code == 201, r.text
    assert r.json()["match_id"] is not None
    async with ctx.database.transaction() as session:
        assert (await ctx.access_log.verify(session)).records > before + 40

    # Every match, loaded or made by the service, has its coordination, its first history
    # row and outbox events of one form.
    assert await _count(ctx, Coordination.match_id) == 4
    async with ctx.database.transaction() as session:
        starts = (
            await session.execute(select(CoordinationEvent.match_id, CoordinationEvent.action))
        ).all()
        events = (
            await session.execute(
                select(OutboxEvent.match_id, OutboxEvent.event_type, OutboxEvent.payload)
            )
        ).all()
    assert sorted(m for m, _ in starts) == sorted(await _match_ids(ctx))
    assert {a for _, a in starts} == {"start"}
    kinds: dict[str, set[str]] = {}
    for match_id, event_type, payload in events:
        body = json.loads(payload)
        assert set(body) == {"type", "timestamp", "data"} and body["type"] == event_type
        assert body["data"]["match_id"] == match_id
        kinds.setdefault(match_id, set()).add(event_type)
    assert len(kinds) == 4
    for found in kinds.values():
        assert "match.created" in found and any(k.startswith("coordination.") for k in found)


async def test_without_access_log(ctx: AppContext, settings: Settings) -> None:
    before = await _count(ctx, AccessLogRecord.seq)
    await _load(settings, 10, access_log=False)
    assert await _count(ctx, Registration.id) == 10
    assert await _count(ctx, AccessLogRecord.seq) == before


def _index_sql(path: str) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as conn:
        return conn.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' ORDER BY name"
        ).fetchall()


async def _pg_indexes(ctx: AppContext) -> list[tuple[str, str]]:
    async with ctx.database.transaction() as session:
        rows = await session.execute(
            text(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = current_schema() ORDER BY indexname"
            )
        )
        return [(str(name), str(sql)) for name, sql in rows.all()]


async def test_load_keeps_the_indexes(ctx: AppContext, settings: Settings) -> None:
    """The load drops the loaded tables' indexes and builds them again: afterwards the schema
    is as before and the indexes find the loaded rows."""
    path = ctx.database.path
    if path is None:  # PostgreSQL
        before = await _pg_indexes(ctx)
        assert "ix_registrations_org_created" in {name for name, _ in before}
        await _load(settings, 30)
        assert await _pg_indexes(ctx) == before
        async with ctx.database.transaction() as session:
            await session.execute(text("SET LOCAL enable_seqscan = off"))
            found = await session.execute(
                select(func.count(Registration.id)).where(Registration.organisation_id.is_not(None))
            )
            assert found.scalar_one() == 30
        return
    before = _index_sql(path)
    assert "ix_registrations_org_created" in {name for name, _ in before}
    await _load(settings, 30)
    assert _index_sql(path) == before
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        by_index = conn.execute(
            "SELECT count(*) FROM registrations INDEXED BY ix_registrations_org_created"
            " WHERE organisation_id IS NOT NULL"
        ).fetchone()[0]
    assert by_index == 30
    # The journal is the write-ahead log again.
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)


def test_rows_by_column_name_in_the_tables_order() -> None:
    """The loader names every column of a row; a missing or unknown one is refused."""
    assert REGISTRATIONS.names == tuple(Registration.__table__.columns.keys())
    values = {
        "end_reason": None,
        "ended_at": None,
        "ends_at": "2028-01-01 00:00:00",
        "created_at": "2026-01-01 00:00:00",
        "status": "active",
        "municipality": "0363",
        "professional_id": "pro",
        "organisation_id": "org",
        "key_version": 1,
        "pseudonym": "p1.x",
        "id": "reg",
    }
    row = REGISTRATIONS.row(**values)
    assert REGISTRATIONS.names[:3] == ("id", "pseudonym", "key_version")
    assert row == tuple(values[name] for name in REGISTRATIONS.names)
    assert REGISTRATIONS.insert_sql().startswith("INSERT INTO registrations (id, pseudonym, ")
    with pytest.raises(ValueError, match=r"missing columns \['status'\], unknown \['state'\]"):
        REGISTRATIONS.row(**{**{k: v for k, v in values.items() if k != "status"}, "state": "x"})
    # Timestamps as SQLAlchemy stores them on SQLite: naive UTC, a space between date and time.
    made = datetime(2026, 1, 1, 12, 30, tzinfo=UTC)
    assert sqlite_rows([(1, made, None)]) == [(1, "2026-01-01 12:30:00", None)]

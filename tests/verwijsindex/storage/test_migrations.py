"""The migrations build exactly the schema the models describe, on both databases."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from verwijsindex.storage.migrate import schema_metadata


def _differences(connection: Connection) -> list[Any]:
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    return list(compare_metadata(context, schema_metadata()))


def _partial_indexes(connection: Connection) -> dict[str, str]:
    """Index name → its condition, as the database reports it (tables with partial indexes)."""
    inspector = inspect(connection)
    found = {}
    for table in ("registrations", "matches"):
        for index in inspector.get_indexes(table):
            where = index.get("dialect_options", {})
            condition = where.get("sqlite_where")
            if condition is None:
                condition = where.get("postgresql_where")
            if condition is not None:
                found[index["name"]] = " ".join(str(condition).split())
    return found


async def test_migrated_schema_matches_the_models(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            assert await connection.run_sync(_differences) == []
    finally:
        await engine.dispose()


async def test_partial_indexes_have_their_conditions(database_url: str) -> None:
    engine = create_async_engine(database_url)
    try:
        async with engine.connect() as connection:
            partial = await connection.run_sync(_partial_indexes)
    finally:
        await engine.dispose()
    # (operator, status) of each index's condition; PostgreSQL writes it with casts.
    expected = {
        "uq_registrations_active_professional_pseudonym": ("=", "'active'"),
        "ix_registrations_ended_pseudonym": ("<>", "'active'"),
        "ix_registrations_active_ends_at": ("=", "'active'"),
        "ix_registrations_ended_at": ("<>", "'active'"),
        "uq_matches_open_subject": ("=", "'open'"),
        "ix_matches_closed_subject": ("<>", "'open'"),
        "ix_matches_closed_at": ("=", "'closed'"),
    }
    assert set(partial) == set(expected)
    for name, (operator, status) in expected.items():
        condition = partial[name]
        assert "status" in condition and status in condition, (name, condition)
        assert f" {operator} " in condition, (name, condition)

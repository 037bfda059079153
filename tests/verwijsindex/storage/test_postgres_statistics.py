"""PostgreSQL: the service analyses tables that grew by half since their last analysis, one
process at a time, and leaves tables of steady size to autovacuum."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text

from tests.conftest import BACKENDS
from verwijsindex.http.app import create_app
from verwijsindex.settings import Settings
from verwijsindex.storage.engine import Database, create_database
from verwijsindex.storage.statistics import PASS_LOCK, analyse_due

pytestmark = pytest.mark.parametrize(
    "backend", [b for b in ("postgresql",) if b in BACKENDS], indirect=True
)

_TABLE = "rate_limit_counters"  # no foreign keys: rows can be made in bulk
_GUARD = 200  # ticks of 0.05 s: a bound against a hang, not a timing assertion


async def _add_rows(database: Database, start: int, count: int) -> None:
    """``count`` new rows, then wait until the cumulative statistics show them (a backend
    reports its counts when it next goes idle; ``pg_stat_force_next_flush`` makes it not
    wait for its once-a-second limit)."""
    insert = text(
        f"INSERT INTO {_TABLE} (scope, subject_id, window_start, hits)"
        " SELECT 'test', 's' || n, now(), 1"
        " FROM generate_series(CAST(:a AS integer), CAST(:b AS integer)) AS n"
    )
    async with database.engine.connect() as connection:
        async with connection.begin():
            await connection.execute(insert, {"a": start, "b": start + count - 1})
        await connection.execute(text("SELECT pg_stat_force_next_flush()"))
        await connection.commit()
    wanted = start + count
    for _ in range(_GUARD):
        if (await _state(database))["inserted"] >= wanted:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the statistics never showed the new rows")


async def _state(database: Database) -> dict[str, int]:
    async with database.engine.connect() as connection:
        row = (
            await connection.execute(
                text(
                    "SELECT n_tup_ins, n_mod_since_analyze, analyze_count"
                    " FROM pg_stat_user_tables WHERE relname = :t"
                ),
                {"t": _TABLE},
            )
        ).one()
    return {"inserted": row[0], "changed": row[1], "analyses": row[2]}


@pytest.fixture
async def database(settings: Settings) -> Database:
    db = create_database(settings)
    async with db.engine.begin() as connection:  # the test decides when it is analysed
        await connection.execute(text(f"ALTER TABLE {_TABLE} SET (autovacuum_enabled = false)"))
    yield db  # type: ignore[misc]
    await db.dispose()


async def test_a_young_table_is_analysed_and_then_only_after_growing_by_half(
    database: Database,
) -> None:
    assert await analyse_due(database) == []  # a fresh database: nothing changed yet

    await _add_rows(database, 0, 999)
    assert await analyse_due(database) == []  # under the least number of changes
    await _add_rows(database, 999, 3_001)
    assert await analyse_due(database) == [_TABLE]
    after = await _state(database)
    assert after["analyses"] == 1 and after["changed"] == 0
    assert await analyse_due(database) == []

    # 4,000 rows at the analysis: 1,200 more are not half of it, 2,200 are.
    await _add_rows(database, 4_000, 1_200)
    assert await analyse_due(database) == []
    await _add_rows(database, 5_200, 1_000)
    assert await analyse_due(database) == [_TABLE]
    assert (await _state(database))["analyses"] == 2


async def test_a_pass_is_skipped_while_another_process_runs_one(
    database: Database, settings: Settings
) -> None:
    await _add_rows(database, 0, 2_000)
    other = create_database(settings)  # stands for a second process of the service
    try:
        async with other.engine.connect() as connection, connection.begin():
            await connection.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": PASS_LOCK})
            assert await analyse_due(database) == []
            assert (await _state(database))["analyses"] == 0
        assert await analyse_due(database) == [_TABLE]
    finally:
        await other.dispose()


@pytest.mark.parametrize("interval", [0.05, 0.0])
async def test_the_service_runs_the_analyser_unless_switched_off(
    settings: Settings, interval: float
) -> None:
    settings = settings.model_copy(update={"postgres_analyse_interval_s": interval})
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        database = app.state.ctx.database
        await _add_rows(database, 0, 1_500)
        stats = app.state.analyser
        for _ in range(_GUARD):
            if interval == 0 or stats.analysed:
                break
            await asyncio.sleep(0.05)
        analyses = (await _state(database))["analyses"]
    if interval:
        assert stats.analysed >= 1 and stats.failures == 0 and analyses == 1
    else:
        assert stats.passes == 0 and analyses == 0

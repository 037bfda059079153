"""PostgreSQL: the write group's read of its youths' registrations, their open matches and their
parents' links probes an index for each given value, whatever the tables' statistics say.

Before, the read was ``pseudonym IN (...)`` joined to the open matches; on a table analysed
while it was small, PostgreSQL read every parent link (a sequential scan) and every open match
for each youth, work that grew with the tables. The tables here are analysed at 20 rows and then
grown a thousandfold without a new analysis, as a young table is between two analyses."""

from __future__ import annotations

import re
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.dialects import postgresql

from tests.conftest import BACKENDS
from verwijsindex.registrations import repository as repo
from verwijsindex.settings import Settings
from verwijsindex.storage.engine import Database, create_database

pytestmark = pytest.mark.parametrize(
    "backend", [b for b in ("postgresql",) if b in BACKENDS], indirect=True
)

_TABLES = ("registrations", "registration_parents", "matches")
_SMALL, _LARGE = 20, 20_000


def _pseudonym() -> str:
    return "p1." + secrets.token_urlsafe(32)[:43]


async def _grow(database: Database, youths: list[str], parents: list[str]) -> None:
    """Active registrations of ``youths`` (a match for every tenth) and two links each, written
    straight into the tables (the foreign keys to organisations are not checked here)."""
    rows = [(f"r{len(youths)}-{n}", y) for n, y in enumerate(youths)]
    async with database.engine.begin() as connection:
        await connection.execute(text("SET LOCAL session_replication_role = replica"))
        await connection.execute(
            text(
                "INSERT INTO registrations (id, pseudonym, key_version, organisation_id,"
                " professional_id, municipality, status, created_at, ends_at)"
                " SELECT r.id, r.pseudonym, 1, 'org', 'pro', '0363', 'active', now(),"
                " now() + interval '1 year'"
                " FROM unnest(CAST(:ids AS text[]), CAST(:pseudonyms AS text[]))"
                " AS r(id, pseudonym)"
            ),
            {"ids": [r for r, _ in rows], "pseudonyms": [y for _, y in rows]},
        )
        await connection.execute(
            text(
                "INSERT INTO registration_parents (pseudonym, registration_id, key_version)"
                " SELECT p, r, 1 FROM unnest(CAST(:parents AS text[]), CAST(:ids AS text[]))"
                " AS l(p, r)"
            ),
            {"parents": parents, "ids": [r for r, _ in rows for _ in range(2)]},
        )
        await connection.execute(
            text(
                "INSERT INTO matches (id, subject_pseudonym, status, created_at)"
                " SELECT gen_random_uuid(), y, 'open', now()"
                " FROM unnest(CAST(:youths AS text[])) AS y"
            ),
            {"youths": youths[::10]},
        )


@pytest.fixture
async def database(settings: Settings) -> AsyncIterator[Database]:
    db = create_database(settings)
    async with db.engine.begin() as connection:  # the test decides when they are analysed
        for table in _TABLES:
            await connection.execute(text(f"ALTER TABLE {table} SET (autovacuum_enabled = false)"))
    yield db
    await db.dispose()


async def _plan(database: Database, statement: Any, *arguments: list[str]) -> str:
    """The generic plan (the one a prepared statement keeps) of ``statement``, executed."""
    sql = str(statement.compile(dialect=postgresql.asyncpg.dialect()))
    async with database.engine.connect() as connection:
        raw = (await connection.get_raw_connection()).driver_connection
        await raw.execute("SET plan_cache_mode = force_generic_plan")
        prepared = await raw.prepare("EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF) " + sql)
        return "\n".join(row[0] for row in await prepared.fetch(*arguments))


def _scans(plan: str) -> list[tuple[str, str]]:
    """(scan, table or index) of every scan in the plan."""
    return re.findall(
        r"((?:Seq|Index Only|Index|Bitmap Heap|Bitmap Index) Scan)(?: using (\S+))?", plan
    )


async def test_each_youth_and_parent_is_an_index_probe_on_stale_statistics(
    database: Database,
) -> None:
    youths = [_pseudonym() for _ in range(_LARGE)]
    parents = [_pseudonym() for _ in range(2 * _LARGE)]
    await _grow(database, youths[:_SMALL], parents[: 2 * _SMALL])
    async with database.engine.begin() as connection:
        for table in _TABLES:
            await connection.execute(text(f"ANALYZE {table}"))
    await _grow(database, youths[_SMALL:], parents[2 * _SMALL :])

    asked_youths = youths[-40::2]  # 20 youths, two of them in a match
    asked_parents = [*parents[-20:], _pseudonym()]  # ten youths' parents and one unknown
    plan = await _plan(
        database, repo._PG_ACTIVE_WITH_OPEN_MATCH_AND_LINKS, asked_youths, asked_parents
    )

    assert "Seq Scan" not in plan, plan
    scans = _scans(plan)
    assert ("Index Scan", "uq_registrations_active_professional_pseudonym") in scans, plan
    assert ("Index Scan", "uq_matches_open_subject") in scans, plan
    assert ("Index Only Scan", "pk_registration_parents") in scans, plan
    assert {index for _, index in scans} == {
        "uq_registrations_active_professional_pseudonym",
        "uq_matches_open_subject",
        "pk_registration_parents",
    }, plan
    # Each probe finds its own rows only: 20 registrations, 2 matches, 20 links.
    assert re.search(
        r"Index Scan using uq_registrations\S* on registrations.*rows=1 loops=20", plan
    )
    assert re.search(r"Index Only Scan using pk_registration_parents.*rows=1 loops=21", plan)

    plain = await _plan(database, repo._PG_ACTIVE_WITH_OPEN_MATCH, asked_youths)
    assert "Seq Scan" not in plain, plain
    assert {index for _, index in _scans(plain)} == {
        "uq_registrations_active_professional_pseudonym",
        "uq_matches_open_subject",
    }, plain


async def test_the_probes_return_what_the_in_lists_return(database: Database) -> None:
    youths = [_pseudonym() for _ in range(200)]
    parents = [_pseudonym() for _ in range(400)]
    await _grow(database, youths, parents)
    asked_youths = sorted([*youths[:30], _pseudonym()])
    asked_parents = sorted([*parents[100:140], _pseudonym()])
    arguments = {"pseudonyms": asked_youths, "parents": asked_parents}
    async with database.engine.connect() as connection:
        for probes, in_lists in (
            (repo._PG_ACTIVE_WITH_OPEN_MATCH_AND_LINKS, repo._ACTIVE_WITH_OPEN_MATCH_AND_LINKS),
            (repo._PG_ACTIVE_WITH_OPEN_MATCH, repo._ACTIVE_WITH_OPEN_MATCH),
        ):
            got = (await connection.execute(probes, arguments)).all()
            expected = (await connection.execute(in_lists, arguments)).all()
            # Ordered alike, up to the order of one registration's two links.
            assert sorted(got, key=repr) == sorted(expected, key=repr)
            assert [row[:2] for row in got] == [row[:2] for row in expected]
            assert len(got) >= 30

"""The databases the suite measures on: one fresh database per run (SQLite under the work
directory, or a PostgreSQL database of its own), migrated and seeded with the benchmark's
organisations, professionals and API keys through the service's own code; and the queries
made of it after a run (size, the match check, match ids to read)."""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scripts.bench.common import PG_ADMIN_DSN


@dataclass
class BenchDatabase:
    backend: str
    url: str
    data_dir: Path
    pg_name: str | None = None
    people: dict[str, Any] = field(default_factory=dict)

    @property
    def sqlite_path(self) -> Path:
        return self.data_dir / "verwijsindex.db"


async def _seed(db: BenchDatabase, professionals: int) -> dict[str, Any]:
    """Schema and the benchmark's two organisations, through the service's own code."""
    from verwijsindex.clock import SystemClock
    from verwijsindex.context import build_context
    from verwijsindex.settings import Settings
    from verwijsindex.storage.migrate import upgrade

    ctx = build_context(Settings(database_url=db.url, data_dir=db.data_dir), clock=SystemClock())
    try:
        await upgrade(ctx.database)
        return await seed_people(ctx, professionals)
    finally:
        await ctx.database.dispose()


async def seed_people(ctx: Any, professionals: int) -> dict[str, Any]:
    """The benchmark's two organisations (``a``, ``b``), each with one professional API key
    and ``professionals`` professionals: ``{"a": [{"key", "professional"}, ...], "a_org": id,
    ...}``. ``ctx`` is the service's ``AppContext`` on a migrated database."""
    people: dict[str, Any] = {}
    async with ctx.database.transaction() as session:
        for label, sector, municipality in (
            ("a", "youth-care", "0363"),
            ("b", "education", "0344"),
        ):
            org = await ctx.admin.create_organisation(
                session,
                name=f"Bench {label.upper()}",
                sector=sector,
                municipality=municipality,
            )
            key = await ctx.admin.create_api_key(
                session, organisation_id=org.id, role="professional"
            )
            # Batch items (the bulk and CSV-import points) count against the per-professional
            # limits unless an operator grants a bulk import, as for a real migration
            # (`verwijsindex admin grant-bulk-import`): the largest grant, for 30 days.
            await ctx.abuse.grant_bulk_import(
                session, organisation_id=org.id, items=10_000_000, days=30, reference="bench"
            )
            people[label] = []
            people[f"{label}_org"] = org.id
            for i in range(professionals):
                pro = await ctx.admin.create_professional(
                    session,
                    organisation_id=org.id,
                    name=f"Bench {label}{i}",
                    email=f"bench-{label}{i}@example.org",
                    phone="+31 20 123 4567",
                )
                people[label].append({"key": key.key, "professional": pro.id})
    return people


async def _pg_admin(statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_database(backend: str, workdir: Path, label: str, *, seed: bool = True) -> BenchDatabase:
    data_dir = workdir / label
    if data_dir.exists():
        shutil.rmtree(data_dir)
    data_dir.mkdir(parents=True)
    if backend == "sqlite":
        db = BenchDatabase(backend, f"sqlite+aiosqlite:///{data_dir / 'verwijsindex.db'}", data_dir)
    else:
        name = f"vi_bench_{os.getpid()}_{label.replace('-', '_')}"
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        asyncio.run(_pg_admin(f'CREATE DATABASE "{name}"'))
        host = PG_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
        db = BenchDatabase(backend, f"postgresql+asyncpg://{host}/{name}", data_dir, name)
    if seed:
        db.people = asyncio.run(_seed(db, professionals=8))
    return db


def drop_database(db: BenchDatabase) -> None:
    if db.pg_name:
        asyncio.run(_pg_admin(f'DROP DATABASE IF EXISTS "{db.pg_name}" WITH (FORCE)'))
    shutil.rmtree(db.data_dir, ignore_errors=True)


async def _query(db: BenchDatabase, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    from sqlalchemy import text
    from sqlalchemy.ext.asyncio import create_async_engine

    engine = create_async_engine(db.url)
    try:
        async with engine.connect() as conn:
            return list((await conn.execute(text(sql), params or {})).all())
    finally:
        await engine.dispose()


def database_size(db: BenchDatabase) -> int:
    if db.pg_name:
        rows = asyncio.run(_query(db, "SELECT pg_database_size(current_database())"))
        return int(rows[0][0])
    return sum(p.stat().st_size for p in db.data_dir.glob("verwijsindex.db*") if p.is_file())


def check_matches(db: BenchDatabase) -> dict[str, int]:
    """Correctness after the load: every youth with active registrations of two different
    professionals has exactly one open match (none missing, none doubled)."""
    rows = asyncio.run(
        _query(
            db,
            """
        SELECT
          (SELECT count(*) FROM registrations WHERE status = 'active'),
          (SELECT count(*) FROM matches WHERE status = 'open'),
          (SELECT count(*) FROM (
              SELECT r.pseudonym FROM registrations r WHERE r.status = 'active'
              GROUP BY r.pseudonym HAVING count(DISTINCT r.professional_id) > 1) s
           WHERE NOT EXISTS (SELECT 1 FROM matches m
                             WHERE m.subject_pseudonym = s.pseudonym AND m.status = 'open')),
          (SELECT count(*) FROM (
              SELECT m.subject_pseudonym FROM matches m WHERE m.status = 'open'
              GROUP BY m.subject_pseudonym HAVING count(*) > 1) d)
    """,
        )
    )
    active, open_matches, unmatched, doubled = rows[0]
    return {
        "active_registrations": active,
        "open_matches": open_matches,
        "youths_missing_a_match": unmatched,
        "youths_with_more_than_one_open_match": doubled,
    }


def bench_match_ids(db: BenchDatabase, limit: int = 5000) -> list[str]:
    rows = asyncio.run(
        _query(
            db,
            "SELECT DISTINCT match_id FROM match_participants"
            " WHERE organisation_id = :org LIMIT :n",
            {"org": db.people["b_org"], "n": limit},
        )
    )
    return [r[0] for r in rows]

"""Shared fixtures. Every database test runs on SQLite and on PostgreSQL.

PostgreSQL is required, not optional: set ``VERWIJSINDEX_TEST_PG_DSN`` to point elsewhere
(default ``postgresql://postgres@127.0.0.1:5432/test``). ``VERWIJSINDEX_TEST_BACKENDS`` can
narrow the run to one backend while developing (default ``sqlite,postgresql``).
"""

from __future__ import annotations

import asyncio
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI

from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.http.app import create_app
from verwijsindex.settings import Settings
from verwijsindex.storage import create_database
from verwijsindex.storage.migrate import upgrade

PG_DSN = os.environ.get("VERWIJSINDEX_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BACKENDS = os.environ.get("VERWIJSINDEX_TEST_BACKENDS", "sqlite,postgresql").split(",")

# Known-answer BSNs that pass the 11-test, for the tests' youths.
VALID_BSNS = [
    "111222333",
    "123456782",
    "999999990",
    "100000009",
    "000000012",
    "012345672",
    "700000002",
    "900000005",
]


def make_bsn(n: int) -> str:
    """The n-th valid BSN in a deterministic sequence (8 digits + check digit)."""
    base = 10_000_000 + n * 7
    while True:
        digits = f"{base:08d}"
        total = sum(int(d) * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2), strict=True))
        check = total % 11
        if check < 10 and (digits + str(check)) != "000000000":
            return digits + str(check)
        base += 1


def _pg_admin_dsn() -> str:
    return PG_DSN


def _pg_url(dbname: str) -> str:
    base = PG_DSN.rsplit("/", 1)[0]
    return base.replace("postgresql://", "postgresql+asyncpg://", 1) + "/" + dbname


def _pg_dsn(dbname: str) -> str:
    return PG_DSN.rsplit("/", 1)[0] + "/" + dbname


@dataclass
class DatabaseTemplate:
    backend: str
    template: str  # sqlite: a file path; postgresql: a database name


async def _migrate_url(url: str, data_dir: Path) -> None:
    settings = Settings(data_dir=data_dir, database_url=url)
    database = create_database(settings)
    try:
        await upgrade(database)
    finally:
        await database.dispose()


@pytest.fixture(scope="session")
def db_templates(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, DatabaseTemplate]]:
    """Migrated template databases, made once per session (per pytest-xdist worker: the
    PostgreSQL names are random, so workers never share one) and copied for each test."""
    root = tmp_path_factory.mktemp("templates")
    templates: dict[str, DatabaseTemplate] = {}
    created_pg: list[str] = []

    async def build() -> None:
        if "sqlite" in BACKENDS:
            path = root / "template.db"
            await _migrate_url(f"sqlite+aiosqlite:///{path}", root)
            templates["sqlite"] = DatabaseTemplate("sqlite", str(path))
        if "postgresql" in BACKENDS:
            name = f"vi_tpl_{uuid.uuid4().hex[:12]}"
            conn = await asyncpg.connect(_pg_admin_dsn())
            try:
                await conn.execute(f'CREATE DATABASE "{name}"')
            finally:
                await conn.close()
            created_pg.append(name)
            await _migrate_url(_pg_url(name), root)
            templates["postgresql"] = DatabaseTemplate("postgresql", name)

    asyncio.run(build())
    yield templates

    async def drop() -> None:
        conn = await asyncpg.connect(_pg_admin_dsn())
        try:
            for name in created_pg:
                await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()

    if created_pg:
        asyncio.run(drop())


@pytest.fixture(params=[b for b in ("sqlite", "postgresql") if b in BACKENDS])
def backend(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
async def database_url(
    backend: str, db_templates: dict[str, DatabaseTemplate], tmp_path: Path
) -> AsyncIterator[str]:
    """A fresh, migrated database for one test."""
    template = db_templates[backend]
    if backend == "sqlite":
        path = tmp_path / "verwijsindex.db"
        shutil.copyfile(template.template, path)
        yield f"sqlite+aiosqlite:///{path}"
        return
    name = f"vi_t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(_pg_admin_dsn())
    try:
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template.template}"')
    finally:
        await conn.close()
    try:
        yield _pg_url(name)
    finally:
        conn = await asyncpg.connect(_pg_admin_dsn())
        try:
            await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await conn.close()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        run_sweeper=False,
        auto_migrate=False,
    )


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 3, 2, 9, 30, tzinfo=UTC))


@pytest.fixture
async def app(settings: Settings, clock: FrozenClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
def ctx(app: FastAPI) -> AppContext:
    context: AppContext = app.state.ctx
    return context


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
        yield c


@dataclass
class Caller:
    """An organisation with one professional and keys, as the tests use them."""

    organisation_id: str
    professional_id: str
    key: str
    admin_key: str
    auditor_key: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.key}", "X-Professional-Id": self.professional_id}

    @property
    def admin_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.admin_key}"}

    @property
    def auditor_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.auditor_key}"}


SECTORS = ["youth-care", "education", "police", "youth-work", "health-care"]


async def make_caller(ctx: AppContext, n: int, *, organisation_id: str | None = None) -> Caller:
    async with ctx.database.transaction() as session:
        if organisation_id is None:
            org = await ctx.admin.create_organisation(
                session,
                name=f"Organisation {n}",
                sector=SECTORS[n % len(SECTORS)],
                municipality="0363",
            )
            organisation_id = org.id
        pro = await ctx.admin.create_professional(
            session,
            organisation_id=organisation_id,
            name=f"Professional {n}",
            email=f"pro{n}@org.example",
            phone=f"+31 20 555 {1000 + n}",
        )
        key = await ctx.admin.create_api_key(
            session, organisation_id=organisation_id, role="professional"
        )
        admin_key = await ctx.admin.create_api_key(
            session, organisation_id=organisation_id, role="org-admin"
        )
        auditor_key = await ctx.admin.create_api_key(
            session, organisation_id=organisation_id, role="auditor"
        )
    return Caller(organisation_id, pro.id, key.key, admin_key.key, auditor_key.key)


@pytest.fixture
async def callers(ctx: AppContext) -> list[Caller]:
    """Three professionals, each of their own organisation."""
    return [await make_caller(ctx, n) for n in range(3)]


def registration_body(bsn: str = "111222333", birth_date: str = "2012-05-01") -> dict[str, Any]:
    return {"bsn": bsn, "birth_date": birth_date}

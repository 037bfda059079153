"""Three databases (a hub and regions a and b) from the session's migrated templates."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import asyncpg

from tests.conftest import _pg_admin_dsn, _pg_url

NAMES = ("hub", "a", "b")


def three_databases(backend: str, template: str, root: Path) -> Iterator[dict[str, str]]:
    """Yield once: database URLs of the hub and regions a and b (dropped afterwards)."""
    if backend == "sqlite":
        urls = {}
        for name in NAMES:
            path = root / name / "verwijsindex.db"
            path.parent.mkdir(parents=True)
            shutil.copyfile(template, path)
            urls[name] = f"sqlite+aiosqlite:///{path}"
        yield urls
        return
    created = {name: f"vi_fed_{name}_{uuid.uuid4().hex[:10]}" for name in NAMES}

    async def run(statement: str) -> None:
        conn = await asyncpg.connect(_pg_admin_dsn())
        try:
            for db in created.values():
                await conn.execute(statement.format(db=db, template=template))
        finally:
            await conn.close()

    asyncio.run(run('CREATE DATABASE "{db}" TEMPLATE "{template}"'))
    for name in NAMES:
        (root / name).mkdir(parents=True)
    try:
        yield {name: _pg_url(db) for name, db in created.items()}
    finally:
        asyncio.run(run('DROP DATABASE IF EXISTS "{db}" WITH (FORCE)'))

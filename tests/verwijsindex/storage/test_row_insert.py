"""RowInsert: many rows in one statement (the driver's executemany on SQLite, one
``INSERT … SELECT FROM unnest`` of arrays on PostgreSQL) store exactly what SQLAlchemy's
``executemany`` of the same rows stores, on SQLite and PostgreSQL; ``insert_rows`` writes
the rows of several tables (on PostgreSQL in one statement)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
from sqlalchemy import Table, insert, select, text
from sqlalchemy.exc import IntegrityError

from tests.conftest import Caller
from verwijsindex.clock import AMSTERDAM
from verwijsindex.context import AppContext
from verwijsindex.registrations.models import (
    REGISTRATION_COLUMNS,
    EndReason,
    Registration,
    RegistrationParent,
    RegistrationStatus,
)
from verwijsindex.storage.base import RowInsert, insert_rows

TABLE = cast(Table, Registration.__table__)


def _rows(caller: Caller, tag: str) -> list[dict[str, Any]]:
    """Registrations with every kind of value: enum members, None, timestamps in two zones
    and with and without microseconds."""
    at = datetime(2026, 3, 29, 0, 59, 59, 999_999, tzinfo=UTC)
    rows = []
    for n in range(6):
        ended = n % 2 == 1
        rows.append(
            {
                "id": f"{tag}-{n}",
                "pseudonym": f"p1.{tag}{n}",
                "key_version": 1 + n % 3,
                "organisation_id": caller.organisation_id,
                "professional_id": caller.professional_id,
                "municipality": "0363",
                "status": RegistrationStatus.WITHDRAWN if ended else RegistrationStatus.ACTIVE,
                "created_at": (at + timedelta(hours=n)).astimezone(AMSTERDAM if n % 3 else UTC),
                "ends_at": (at + timedelta(days=700)).replace(microsecond=0),
                "ended_at": at + timedelta(minutes=n) if ended else None,
                "end_reason": EndReason.RISK_RESOLVED if ended else None,
            }
        )
    return rows


class TestRowInsert:
    async def test_stores_what_a_core_executemany_stores(
        self, ctx: AppContext, callers: list[Caller]
    ) -> None:
        core, direct = _rows(callers[0], "core"), _rows(callers[0], "direct")
        row_insert = RowInsert(TABLE, REGISTRATION_COLUMNS)
        async with ctx.database.transaction() as session:
            await session.execute(insert(TABLE), core)
            await row_insert.execute(
                session, [tuple(r[c] for c in REGISTRATION_COLUMNS) for r in direct]
            )
            await row_insert.execute(session, [])  # nothing to insert: no statement
        # Ids and pseudonyms differ (unique per active registration); all else is the same.
        columns = ", ".join(c for c in REGISTRATION_COLUMNS if c not in ("id", "pseudonym"))
        async with ctx.database.read() as session:
            # As the database holds them (SQLite: text whose order is the time order) ...
            raw = await session.execute(text(f"SELECT id, {columns} FROM registrations"))
            stored = {row[0]: row[1:] for row in raw}
            # ... and as the application reads them back.
            mapped = await session.execute(select(TABLE))
            read = {row.id: row[2:] for row in mapped}
            pseudonyms = await session.execute(select(TABLE.c.id, TABLE.c.pseudonym))
        assert {p for _, p in pseudonyms} == {r["pseudonym"] for r in core + direct}
        for n in range(6):
            assert stored[f"direct-{n}"] == stored[f"core-{n}"]
            assert read[f"direct-{n}"] == read[f"core-{n}"]
        assert read["direct-1"][-2] == core[1]["ended_at"]  # ended_at, as given


REGISTRATIONS = RowInsert(TABLE, REGISTRATION_COLUMNS)
LINKS = RowInsert(
    cast(Table, RegistrationParent.__table__), ("pseudonym", "registration_id", "key_version")
)


class TestInsertRows:
    async def test_writes_registrations_and_the_links_that_refer_to_them(
        self, ctx: AppContext, callers: list[Caller]
    ) -> None:
        rows = _rows(callers[0], "both")
        given = [(f"q1.parent{n % 2}", r["id"], 1) for n, r in enumerate(rows)]
        async with ctx.database.transaction() as session:
            await insert_rows(
                session,
                (REGISTRATIONS, [tuple(r[c] for c in REGISTRATION_COLUMNS) for r in rows]),
                (LINKS, given),
            )
            await insert_rows(session, (REGISTRATIONS, []), (LINKS, []))  # no statement
        async with ctx.database.read() as session:
            stored = await session.execute(select(TABLE.c.id))
            linked = await session.execute(
                select(
                    RegistrationParent.pseudonym,
                    RegistrationParent.registration_id,
                    RegistrationParent.key_version,
                )
            )
            assert {i for (i,) in stored} == {r["id"] for r in rows}
            assert sorted(tuple(link) for link in linked) == sorted(given)

    async def test_a_link_to_no_registration_is_refused(
        self, ctx: AppContext, callers: list[Caller]
    ) -> None:
        rows = _rows(callers[0], "fk")[:1]
        with pytest.raises(IntegrityError):
            async with ctx.database.transaction() as session:
                await insert_rows(
                    session,
                    (REGISTRATIONS, [tuple(r[c] for c in REGISTRATION_COLUMNS) for r in rows]),
                    (LINKS, [("q1.parent", "no-such-registration", 1)]),
                )

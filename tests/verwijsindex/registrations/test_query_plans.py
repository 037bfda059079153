"""Every statement the service runs on the tables that grow with the number of youths finds its
rows through an index: none reads a whole table.

At national size (10^7 registrations) a statement that scans ``registrations``, ``matches``,
``match_participants`` or ``access_log`` takes seconds. The indexes by youth are partial on the
status (``verwijsindex/registrations/models.py``), which a planner can only use when a query states
the index's condition, so this is checked on SQLite's query plans of the statements actually
run: registrations, a match, reads, withdrawal, subject access and erasure, the sweep.
"""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import event

from tests.conftest import BACKENDS, Caller, make_bsn, registration_body
from tests.verwijsindex.helpers import privacy_officer_headers
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.registrations.sweep import sweep_once

pytestmark = pytest.mark.skipif("sqlite" not in BACKENDS, reason="SQLite's query plans")

LARGE_TABLES = ("registrations", "matches", "match_participants", "access_log")
_FULL_SCAN = re.compile(rf"^SCAN ({'|'.join(LARGE_TABLES)})\b")

# Whole-table reads by design: the administrator's statistics and the access log's chain
# verification and export walk every row.
_ALLOWED = (
    re.compile(r"GROUP BY registrations\.key_version"),
    re.compile(r"FROM access_log ORDER BY access_log\.seq"),
)


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def statements(ctx: AppContext) -> Iterator[list[tuple[str, Any]]]:
    seen: list[tuple[str, Any]] = []

    def capture(_c: Any, _cur: Any, statement: str, params: Any, _ctx: Any, many: bool) -> None:
        if not many:
            seen.append((statement, params))

    db = ctx.database
    engines = [e.sync_engine for e in (db.engine, db.read_engine, db.group_engine) if e]
    for engine in engines:
        event.listen(engine, "before_cursor_execute", capture)
    yield seen
    for engine in engines:
        event.remove(engine, "before_cursor_execute", capture)


def full_scans(path: str, captured: list[tuple[str, Any]]) -> list[tuple[str, str]]:
    """``(plan line, statement)`` for every full scan of a large table in the statements."""
    found = []
    connection = sqlite3.connect(path)
    try:
        for statement, params in captured:
            head = statement.lstrip().split(None, 1)[0].upper()
            if head not in ("SELECT", "UPDATE", "DELETE", "WITH"):
                continue
            if any(allowed.search(statement) for allowed in _ALLOWED):
                continue
            for row in connection.execute(f"EXPLAIN QUERY PLAN {statement}", params or ()):
                if _FULL_SCAN.match(row[3]):
                    found.append((row[3], " ".join(statement.split())))
    finally:
        connection.close()
    return found


async def test_no_statement_scans_a_large_table(
    client: httpx.AsyncClient,
    callers: list[Caller],
    ctx: AppContext,
    clock: FrozenClock,
    statements: list[tuple[str, Any]],
) -> None:
    ctx.settings.retention_days = 30
    youth, other = make_bsn(1), make_bsn(2)
    made = []
    for caller in callers[:3]:
        r = await client.post(
            "/v1/registrations", json=registration_body(youth), headers=caller.headers
        )
        assert r.status_code == 201, r.text
        made.append(r.json())
    match_id = made[-1]["match_id"]
    assert match_id is not None
    batch = await client.post(
        "/v1/registrations:batch",
        json={"items": [registration_body(make_bsn(n)) for n in range(2, 6)]},
        headers=callers[0].headers,
    )
    assert batch.status_code == 200, batch.text
    for path in (
        f"/v1/matches/{match_id}",
        "/v1/matches?status=all",
        f"/v1/registrations/{made[0]['id']}",
        "/v1/registrations?status=active",
    ):
        assert (await client.get(path, headers=callers[0].headers)).status_code == 200, path
    # Withdrawals: the match loses a participant, then closes.
    for registration in made[:2]:
        r = await client.post(
            f"/v1/registrations/{registration['id']}/withdraw",
            json={"reason": "other"},
            headers=callers[made.index(registration)].headers,
        )
        assert r.status_code == 200, r.text
    officer = await privacy_officer_headers(ctx)
    access = await client.post("/v1/subject-access", json={"bsn": youth}, headers=officer)
    assert access.status_code == 200, access.text
    assert {r["status"] for r in access.json()["registrations"]} == {"active", "withdrawn"}
    assert [m["status"] for m in access.json()["matches"]] == ["closed"]
    erased = await client.post(
        "/v1/subject-erasure",
        json={"bsn": other, "reason": "data-subject-request", "request_reference": "AVG-1"},
        headers=officer,
    )
    assert erased.status_code == 200, erased.text
    clock.advance(timedelta(days=3 * 365))  # every registration due, then past retention
    assert (await sweep_once(ctx)).ended > 0
    clock.advance(timedelta(days=31))
    assert (await sweep_once(ctx)).purged_registrations > 0

    assert len(statements) > 50
    assert ctx.database.path is not None
    assert full_scans(ctx.database.path, statements) == []


async def test_the_check_finds_a_full_scan(ctx: AppContext) -> None:
    """The check itself: a query by youth without the status finds no index to use."""
    assert ctx.database.path is not None
    select_all = "SELECT id FROM registrations WHERE pseudonym = ?"
    [(line, _)] = full_scans(ctx.database.path, [(select_all, ("x" * 64,))])
    assert line.startswith("SCAN registrations")
    by_status = "SELECT id FROM registrations WHERE pseudonym = ? AND status = 'active'"
    assert full_scans(ctx.database.path, [(by_status, ("x" * 64,))]) == []

"""Fast loader of test data: N active registrations with real pseudonyms, straight into the
database (``sqlite3`` ``executemany`` / PostgreSQL ``COPY``), bypassing the API.

Pseudonyms are made with the service's own ``KeyRing`` (the keys under ``--data-dir``), so a
server started on the same data directory matches against them. About ``--match-fraction``
of the youths get a second registration by a professional of another organisation, with the
match, its participants, its coordination (the first proposal under the municipality's default
covenant, with its history row) and the outbox events the service would write
(``match.created`` and the coordination's to each participant).
Every registration also gets the ``registration.create`` record the service writes to the
access log (hash-chained on from the log's tail, with the youth's access-log pseudonym), as a
database of that size would hold; ``--no-access-log`` leaves the access log alone. The schema
must exist (start the server once, or ``verwijsindex db upgrade``).

    python -m scripts.bench.load_registrations --database-url sqlite+aiosqlite:///var/v.db \\
        --data-dir var --count 1000000
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url
from uuid_utils import uuid7

from crypto import BSN
from notifier import Event, EventType, new_event_id, outbox_row
from scripts.bench.tables import (
    ACCESS_LOG,
    COORDINATION_EVENTS,
    COORDINATIONS,
    MATCH_PARTICIPANTS,
    MATCHES,
    ORGANISATIONS,
    OUTBOX_EVENTS,
    PROFESSIONALS,
    REGISTRATIONS,
    Columns,
    Row,
    sqlite_rows,
)
from verwijsindex.accesslog import GENESIS_HASH, Operation, Status, activity_of
from verwijsindex.accesslog._chain import row_hash
from verwijsindex.coordination.machine import Participant
from verwijsindex.coordination.service import opening
from verwijsindex.covenants.service import default_covenant
from verwijsindex.keys import KeyRing
from verwijsindex.settings import Settings

SECTORS = ["youth-care", "education", "police", "youth-work", "municipal-team", "health-care"]
MUNICIPALITY = "0363"
DEFAULT_BSN_OFFSET = 30_000_000
CHUNK = 50_000


def bsn_of(k: int) -> str:
    """The k-th BSN of the benchmark's sequence (same as ``bsn()`` in register.lua)."""
    x = 10_000_000 + 2 * k
    for _ in range(2):
        s = f"{x:08d}"
        check = sum(int(d) * w for d, w in zip(s, (9, 8, 7, 6, 5, 4, 3, 2), strict=True)) % 11
        if check < 10:
            return s + str(check)
        x += 1
    raise AssertionError("unreachable: one of x, x+1 passes the 11-test")


@dataclass
class Plan:
    organisations: list[Row]
    professionals: list[Row]
    by_org: dict[str, list[str]]
    sectors: dict[str, str]


def _id_made_at(moment: datetime) -> str:
    """The id the service would have given a row made at ``moment`` (a UUIDv7)."""
    return str(uuid7(nanoseconds=int(moment.timestamp() * 1_000_000_000)))


def make_plan(n_orgs: int, per_org: int, now: datetime, rng: random.Random) -> Plan:
    orgs = []
    pros = []
    by_org: dict[str, list[str]] = {}
    sectors: dict[str, str] = {}
    for i in range(n_orgs):
        oid = str(uuid.uuid4())
        sectors[oid] = SECTORS[i % len(SECTORS)]
        orgs.append(
            ORGANISATIONS.row(
                id=oid,
                name=f"Load organisation {i}",
                sector=sectors[oid],
                municipality=MUNICIPALITY,
                created_at=now,
            )
        )
        by_org[oid] = []
        for j in range(per_org):
            pid = str(uuid.uuid4())
            by_org[oid].append(pid)
            pros.append(
                PROFESSIONALS.row(
                    id=pid,
                    organisation_id=oid,
                    name=f"Load professional {i}-{j}",
                    email=f"p{i}-{j}@example.org",
                    phone="+31 20 000 0000",
                    active=True,
                    alerts_enabled=True,
                    created_at=now,
                )
            )
    return Plan(orgs, pros, by_org, sectors)


def registration(
    *, rid: str, pseudonym: str, version: int, organisation: str, professional: str, at: datetime
) -> Row:
    """An active registration made at ``at`` (two years to run), as the service writes it."""
    return REGISTRATIONS.row(
        id=rid,
        pseudonym=pseudonym,
        key_version=version,
        organisation_id=organisation,
        professional_id=professional,
        municipality=MUNICIPALITY,
        status="active",
        created_at=at,
        ends_at=at + timedelta(days=730),
        ended_at=None,
        end_reason=None,
    )


_CREATE = Operation.REGISTRATION_CREATE


@dataclass
class AccessLogChain:
    """The access log's records of the loaded registrations, chained on from the log's tail."""

    keys: KeyRing
    rng: random.Random
    seq: int = 0
    prev_hash: str = GENESIS_HASH

    def record(self, bsn: BSN, organisation: str, professional: str, at: datetime) -> Row:
        self.seq += 1
        row: dict[str, Any] = {
            "seq": self.seq,
            "id": _id_made_at(at),
            "trace_id": f"{self.rng.getrandbits(128):032x}",
            "span_id": f"{self.rng.getrandbits(64):016x}",
            "parent_span_id": None,
            "operation": str(_CREATE),
            "activity_id": activity_of(_CREATE),
            "status": str(Status.SUCCESS),
            "started_at": at,
            "ended_at": at,
            "professional_id": professional,
            "organisation_id": organisation,
            "on_behalf_of": None,
            "role": "professional",
            "subject_pseudonym": self.keys.access_log_subject(bsn, organisation),
            "subject_ref_type": None,
            "subject_ref": None,
            "reason": None,
            "reference": None,
            "prev_hash": self.prev_hash,
        }
        row["hash"] = self.prev_hash = row_hash(row)
        return ACCESS_LOG.of(row)


_COVENANT = default_covenant(MUNICIPALITY)


def match_rows(
    *,
    match_id: str,
    at: datetime,
    pseudonym: str,
    registrations: list[tuple[str, str, datetime]],
    sectors: dict[str, str],
) -> dict[Columns, list[Row]]:
    """The rows the service writes when ``registrations`` (registration id, organisation id,
    made at; oldest first) open a match at ``at``: the match, its participants, its
    coordination with the first history row (the municipality's default covenant; the loaded
    municipality has no organisation of sector ``municipality`` to tell of a start at level
    2), and the outbox events (``match.created`` to each participant, then the
    coordination's)."""
    participants = [
        MATCH_PARTICIPANTS.row(
            id=_id_made_at(at),
            match_id=match_id,
            registration_id=r,
            organisation_id=o,
            joined_at=at,
            left_at=None,
        )
        for r, o, _ in registrations
    ]
    start = opening(
        match_id,
        at,
        [Participant(o, r, sectors[o], made) for r, o, made in registrations],
        _COVENANT,
    )
    events = [
        Event(
            EventType.MATCH_CREATED, o, {"match_id": match_id, "registration_id": r}, at, match_id
        )
        for r, o, _ in registrations
    ] + start.events
    coordination = {k: str(v) if isinstance(v, StrEnum) else v for k, v in start.row.items()}
    history = {k: str(v) if isinstance(v, StrEnum) else v for k, v in start.history.items()}
    history["id"] = _id_made_at(at)
    return {
        MATCHES: [
            MATCHES.row(
                id=match_id,
                subject_pseudonym=pseudonym,
                status="open",
                created_at=at,
                closed_at=None,
            )
        ],
        MATCH_PARTICIPANTS: participants,
        COORDINATIONS: [COORDINATIONS.of(coordination)],
        COORDINATION_EVENTS: [COORDINATION_EVENTS.of(history)],
        OUTBOX_EVENTS: [OUTBOX_EVENTS.of(outbox_row(e, new_event_id())) for e in events],
    }


Chunk = dict[Columns, list[Row]]


def _chunk() -> Chunk:
    return {columns: [] for columns in _LOADED}


def generate(
    *,
    keys: KeyRing,
    plan: Plan,
    count: int,
    match_fraction: float,
    bsn_offset: int,
    now: datetime,
    rng: random.Random,
    access_log_tail: tuple[int, str] | None = (0, GENESIS_HASH),
) -> Iterator[Chunk]:
    """Chunks of rows by table (every table of :data:`_LOADED`, in its order)."""
    version = keys.current_version
    org_ids = list(plan.by_org)
    every = round(1 / match_fraction) if match_fraction > 0 else 0
    chunk = _chunk()
    regs = chunk[REGISTRATIONS]
    records = chunk[ACCESS_LOG]
    chain = None
    if access_log_tail is not None:
        chain = AccessLogChain(keys, random.Random(rng.random()), *access_log_tail)
    made = 0
    k = bsn_offset
    while made < count:
        bsn = BSN(bsn_of(k))
        pseudonym = keys.pseudonymise(bsn)
        created = now - timedelta(seconds=rng.randrange(365 * 86400))
        org = org_ids[rng.randrange(len(org_ids))]
        pro = plan.by_org[org][rng.randrange(len(plan.by_org[org]))]
        rid = _id_made_at(created)
        regs.append(
            registration(
                rid=rid,
                pseudonym=pseudonym,
                version=version,
                organisation=org,
                professional=pro,
                at=created,
            )
        )
        if chain:
            records.append(chain.record(bsn, org, pro, created))
        made += 1
        if every and (k - bsn_offset) % every == every - 1 and made < count:
            org2 = org_ids[
                (org_ids.index(org) + 1 + rng.randrange(len(org_ids) - 1)) % len(org_ids)
            ]
            pro2 = plan.by_org[org2][rng.randrange(len(plan.by_org[org2]))]
            created2 = created + timedelta(seconds=1)
            rid2 = _id_made_at(created2)
            regs.append(
                registration(
                    rid=rid2,
                    pseudonym=pseudonym,
                    version=version,
                    organisation=org2,
                    professional=pro2,
                    at=created2,
                )
            )
            if chain:
                records.append(chain.record(bsn, org2, pro2, created2))
            made += 1
            opened = match_rows(
                match_id=_id_made_at(created2),
                at=created2,
                pseudonym=pseudonym,
                registrations=[(rid, org, created), (rid2, org2, created2)],
                sectors=plan.sectors,
            )
            for columns, rows in opened.items():
                chunk[columns].extend(rows)
        k += 1
        if len(regs) >= CHUNK:
            yield chunk
            chunk = _chunk()
            regs = chunk[REGISTRATIONS]
            records = chunk[ACCESS_LOG]
    if regs:
        yield chunk


_LOADED: tuple[Columns, ...] = (
    REGISTRATIONS,
    MATCHES,
    MATCH_PARTICIPANTS,
    COORDINATIONS,
    COORDINATION_EVENTS,
    OUTBOX_EVENTS,
    ACCESS_LOG,
)
"""The tables of :func:`generate`'s chunks, in the order they are written (parents first)."""

_LOADED_TABLES = tuple(columns.table for columns in _LOADED)


def load_sqlite(path: str, chunks: Iterator[Chunk], plan: Plan) -> int:
    """One transaction, with the loaded tables' indexes dropped first and built again from
    their own SQL at the end (a sorted build instead of millions of inserts at random places:
    10^7 registrations with their access-log records in minutes instead of over an hour), and
    a rollback journal instead of the write-ahead log while loading (new pages need no
    journal; a log would hold a second copy of the database) when no other connection is open.
    The log is back on at the end."""
    conn = sqlite3.connect(path, isolation_level=None)
    try:
        conn.execute("PRAGMA journal_mode=DELETE")
    except sqlite3.OperationalError:
        pass  # another connection is open (a running service): load through the log
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute("PRAGMA cache_size=-524288")  # 512 MiB for this connection only
    total = 0
    conn.execute("BEGIN IMMEDIATE")
    marks = ",".join("?" * len(_LOADED_TABLES))
    indexes = conn.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND sql IS NOT NULL"
        f" AND tbl_name IN ({marks}) ORDER BY name",
        _LOADED_TABLES,
    ).fetchall()
    for name, _sql in indexes:
        conn.execute(f'DROP INDEX "{name}"')
    conn.executemany(ORGANISATIONS.insert_sql(), sqlite_rows(plan.organisations))
    conn.executemany(PROFESSIONALS.insert_sql(), sqlite_rows(plan.professionals))
    for chunk in chunks:
        for columns in _LOADED:
            conn.executemany(columns.insert_sql(), sqlite_rows(chunk[columns]))
        total += len(chunk[REGISTRATIONS])
    for _name, sql in indexes:
        conn.execute(sql)
    conn.execute("COMMIT")
    conn.execute("ANALYZE")
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # loaded through the log: copy it over
    conn.close()
    return total


async def load_postgres(dsn: str, chunks: Iterator[Chunk], plan: Plan) -> int:
    import asyncpg

    conn = await asyncpg.connect(dsn)
    total = 0
    try:
        async with conn.transaction():
            # As on SQLite: the loaded tables' indexes (not those of their constraints) are
            # dropped first and built again from their own definition at the end.
            indexes = await conn.fetch(
                "SELECT indexname, indexdef FROM pg_indexes"
                " WHERE schemaname = current_schema() AND tablename = ANY($1::text[])"
                " AND indexname NOT IN (SELECT conname FROM pg_constraint) ORDER BY indexname",
                list(_LOADED_TABLES),
            )
            for index in indexes:
                await conn.execute(f'DROP INDEX "{index["indexname"]}"')
            await _copy(conn, ORGANISATIONS, plan.organisations)
            await _copy(conn, PROFESSIONALS, plan.professionals)
            for chunk in chunks:
                for columns in _LOADED:
                    await _copy(conn, columns, chunk[columns])
                total += len(chunk[REGISTRATIONS])
            await conn.execute("SET LOCAL maintenance_work_mem = '512MB'")
            for index in indexes:
                await conn.execute(index["indexdef"])
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    return total


async def _copy(conn: Any, columns: Columns, rows: list[Row]) -> None:
    await conn.copy_records_to_table(columns.table, records=rows, columns=list(columns.names))


_TAIL_SQL = "SELECT seq, hash FROM access_log ORDER BY seq DESC LIMIT 1"


def _access_log_tail(database_url: str) -> tuple[int, str]:
    """``(seq, hash)`` of the access log's last record; ``(0, genesis)`` when it is empty."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database
        conn = sqlite3.connect(url.database)
        try:
            row = conn.execute(_TAIL_SQL).fetchone()
        finally:
            conn.close()
    else:
        import asyncpg

        async def fetch() -> Any:
            dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
            conn = await asyncpg.connect(dsn)
            try:
                return await conn.fetchrow(_TAIL_SQL)
            finally:
                await conn.close()

        row = asyncio.run(fetch())
    return (int(row[0]), str(row[1])) if row else (0, GENESIS_HASH)


def load(
    *,
    database_url: str,
    data_dir: Path,
    count: int,
    organisations: int = 50,
    professionals_per_organisation: int = 10,
    match_fraction: float = 0.1,
    bsn_offset: int = DEFAULT_BSN_OFFSET,
    seed: int = 1,
    access_log: bool = True,
) -> dict[str, Any]:
    """Load ``count`` active registrations (and their access-log records into an empty access
    log); returns counts and timings."""
    settings = Settings(database_url=database_url, data_dir=data_dir)
    keys = KeyRing.load(settings)
    rng = random.Random(seed)
    now = datetime.now(UTC)
    plan = make_plan(organisations, professionals_per_organisation, now, rng)
    chunks = generate(
        keys=keys,
        plan=plan,
        count=count,
        match_fraction=match_fraction,
        bsn_offset=bsn_offset,
        now=now,
        rng=rng,
        access_log_tail=_access_log_tail(database_url) if access_log else None,
    )
    url = make_url(database_url)
    started = time.perf_counter()
    if url.get_backend_name() == "sqlite":
        assert url.database
        total = load_sqlite(url.database, chunks, plan)
    else:
        dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
        total = asyncio.run(load_postgres(dsn, chunks, plan))
    seconds = time.perf_counter() - started
    return {
        "registrations": total,
        "seconds": round(seconds, 2),
        "registrations_per_s": round(total / seconds) if seconds else None,
    }


def add_access_log_option(parser: argparse.ArgumentParser) -> None:
    """``--no-access-log``: load without the registrations' access-log records."""
    parser.add_argument(
        "--no-access-log",
        dest="access_log",
        action="store_false",
        help="leave the access log alone (by default each registration gets its record)",
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--database-url", required=True, help="the service's DATABASE_URL")
    parser.add_argument("--data-dir", type=Path, required=True, help="the service's DATA_DIR")
    parser.add_argument("--count", type=int, required=True, help="registrations to insert")
    parser.add_argument("--organisations", type=int, default=50)
    parser.add_argument("--professionals-per-organisation", type=int, default=10)
    parser.add_argument(
        "--match-fraction",
        type=float,
        default=0.1,
        help="fraction of youths with a second registration (default 0.1)",
    )
    parser.add_argument(
        "--bsn-offset",
        type=int,
        default=DEFAULT_BSN_OFFSET,
        help="first index in the BSN sequence (keep ranges of runs apart)",
    )
    parser.add_argument("--seed", type=int, default=1)
    add_access_log_option(parser)
    args = parser.parse_args()
    result = load(
        database_url=args.database_url,
        data_dir=args.data_dir,
        count=args.count,
        organisations=args.organisations,
        professionals_per_organisation=args.professionals_per_organisation,
        match_fraction=args.match_fraction,
        bsn_offset=args.bsn_offset,
        seed=args.seed,
        access_log=args.access_log,
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()

"""Ceilings, measured in the same run as the service: what one core hashes, what raw sqlite3
writes, and what a bare ASGI app and a minimal FastAPI endpoint answer under the same uvicorn
settings and the same wrk script (the load generator's own ceiling and the framework's)."""

from __future__ import annotations

import hashlib
import hmac
import os
import sqlite3
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from scripts.bench.common import Options, log
from scripts.bench.processes import Wrk, start_ceiling, write_lua_data
from scripts.bench.report import save


def run_ceilings(opts: Options, wrk: Wrk, results: dict[str, Any]) -> None:
    """``hmac``, ``sqlite``, ``ceiling_bare`` and ``ceiling_fastapi`` of ``results``."""
    log("ceiling: HMAC-SHA256 of a BSN")
    results["hmac"] = ceiling_hmac()
    log(f"  {results['hmac']}")
    log(f"ceiling: raw sqlite3 executemany of {opts.sqlite_rows:,} registrations")
    results["sqlite"] = ceiling_sqlite(opts.sqlite_rows, opts.workdir)
    log(f"  {results['sqlite']}")
    save(opts, results)

    for kind in ("bare", "fastapi"):
        server = start_ceiling(kind, opts.out / "logs")
        try:
            data = write_lua_data(
                opts.workdir / "ceiling.lua",
                {
                    "a": [{"key": "x", "professional": "x"}],
                    "b": [{"key": "x", "professional": "x"}],
                },
            )
            wrk.run(server.base_url, "register.lua", [str(data), "0"], 8, opts.warmup)
            runs = []
            for clients in opts.levels:
                r = wrk.run(server.base_url, "register.lua", [str(data), "0"], clients)
                runs.append(r)
                log(f"ceiling {kind} c={clients}: {r['rps']:.0f}/s p99 {r['p99_ms']:.2f} ms")
            results[f"ceiling_{kind}"] = runs
        finally:
            server.stop()
        save(opts, results)


def ceiling_hmac(seconds: float = 2.0) -> dict[str, Any]:
    """Single core: raw HMAC-SHA256 of a BSN, and the service's full pseudonym recipe."""
    from crypto import BSN, PseudonymKey
    from scripts.bench.load_registrations import bsn_of

    key = PseudonymKey.derive(master_key=os.urandom(32), version=1)
    raw_key = os.urandom(32)
    bsns = [bsn_of(i) for i in range(10_000)]
    messages = [b"bsn:" + b.encode() for b in bsns]

    def rate(fn: Any, items: list[Any]) -> float:
        n = 0
        started = time.perf_counter()
        while time.perf_counter() - started < seconds:
            for item in items:
                fn(item)
            n += len(items)
        return n / (time.perf_counter() - started)

    raw = rate(lambda m: hmac.new(raw_key, m, hashlib.sha256).digest(), messages)
    pseudonym = rate(lambda b: key.pseudonymise(BSN(b)), bsns)
    return {"hmac_sha256_per_s": round(raw), "pseudonymise_per_s": round(pseudonym)}


def _sqlite_schema(path: Path) -> None:
    from sqlalchemy import create_engine

    from verwijsindex.organisations.models import Organisation, Professional
    from verwijsindex.registrations.models import Registration
    from verwijsindex.storage.base import Base

    engine = create_engine(f"sqlite:///{path}")
    tables = [model.__table__ for model in (Organisation, Professional, Registration)]
    Base.metadata.create_all(engine, tables=tables)  # type: ignore[arg-type]
    engine.dispose()


def ceiling_sqlite(rows: int, workdir: Path, commit_seconds: float = 3.0) -> dict[str, Any]:
    """Raw sqlite3 on the registrations table (same columns and indexes, WAL,
    synchronous=FULL, foreign keys on): ``executemany`` of ``rows`` rows in one transaction,
    and one-row durable transactions per second (the commit-per-request ceiling). The rows are
    the service's: its ids, and pseudonyms of real BSNs by its ``KeyRing`` (a development key
    under ``workdir``), made before the clock starts."""
    from crypto import BSN
    from scripts.bench.load_registrations import bsn_of
    from scripts.bench.tables import ORGANISATIONS, PROFESSIONALS, REGISTRATIONS, sqlite_ts
    from verwijsindex.keys import KeyRing
    from verwijsindex.settings import Settings
    from verwijsindex.storage.base import new_id

    path = workdir / "ceiling.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    _sqlite_schema(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    made = datetime.now(UTC)
    now, ends = sqlite_ts(made), sqlite_ts(made + timedelta(days=730))
    org, pro = str(uuid.uuid4()), str(uuid.uuid4())
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        ORGANISATIONS.insert_sql(),
        ORGANISATIONS.row(
            id=org, name="o", sector="youth-care", municipality="0363", created_at=now
        ),
    )
    conn.execute(
        PROFESSIONALS.insert_sql(),
        PROFESSIONALS.row(
            id=pro,
            organisation_id=org,
            name="p",
            email="p@example.org",
            phone="+31200000000",
            active=True,
            alerts_enabled=True,
            created_at=now,
        ),
    )
    conn.execute("COMMIT")
    keys = KeyRing.load(Settings(data_dir=workdir / "ceiling-keys"))

    def row(i: int) -> tuple[Any, ...]:
        return REGISTRATIONS.row(
            id=new_id(),
            pseudonym=keys.pseudonymise(BSN(bsn_of(i))),
            key_version=keys.current_version,
            organisation_id=org,
            professional_id=pro,
            municipality="0363",
            status="active",
            created_at=now,
            ends_at=ends,
            ended_at=None,
            end_reason=None,
        )

    data = [row(i) for i in range(rows)]
    sql = REGISTRATIONS.insert_sql()
    started = time.perf_counter()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(sql, data)
    conn.execute("COMMIT")
    bulk = time.perf_counter() - started

    single = [row(rows + i) for i in range(200_000)]
    n = 0
    started = time.perf_counter()
    while time.perf_counter() - started < commit_seconds and n < len(single):
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(sql, single[n])
        conn.execute("COMMIT")
        n += 1
    commits = n / (time.perf_counter() - started)
    conn.close()
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return {
        "executemany_rows": rows,
        "executemany_seconds": round(bulk, 3),
        "executemany_rows_per_s": round(rows / bulk),
        "durable_single_row_commits_per_s": round(commits),
    }

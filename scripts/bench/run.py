"""The benchmark suite: ceilings, registration throughput and latency, scale and scale-out.

Everything is measured side by side on this machine in the same run and written as
``results.json`` and ``results.md`` under ``--out``. The load generator is wrk (Debian package
``wrk``) with the Lua scripts next to this file; its own ceiling is measured against a bare
ASGI endpoint under the same uvicorn settings.

    python -m scripts.bench.run --quick --out bench-results/
    python -m scripts.bench.run --full --out bench-results/
    python -m scripts.bench.run --quick --scale 0,1000000 --profile --out bench-results/
    python -m scripts.bench.run --only-scaleout --scaleout 1,2,4 --out bench-results/
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import hmac
import json
import os
import platform
import re
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PG_ADMIN_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BIRTH_DATE = "2012-05-01"
RUN_STRIDE = 400_000  # BSN indexes per wrk run (register.lua uses 200,000 per thread)
MATCH_READ_CLIENTS = 32
TARGET_CLIENTS = 32

# --------------------------------------------------------------------------- processes and wrk


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _read_status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) * 1024
    return out


@dataclass
class ServerProcess:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(
        cls, name: str, argv: list[str], env: dict[str, str], log_dir: Path, port: int
    ) -> ServerProcess:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                argv, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT
            )
        server = cls(name, f"http://127.0.0.1:{port}", process, log_path)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log_path.read_text()[-4000:]}")
            try:
                if httpx.get(server.base_url + "/readyz", timeout=1).status_code < 500:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        server.stop()
        raise RuntimeError(f"{name} did not become ready:\n{log_path.read_text()[-4000:]}")

    def memory(self) -> dict[str, int]:
        return _read_status(self.process.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process (all its threads) so far."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_ceiling(kind: str, log_dir: Path) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "scripts.bench.ceiling_apps", kind, "--port", str(port)]
    return ServerProcess.start(f"ceiling-{kind}", argv, dict(os.environ), log_dir, port)


def service_env(database_url: str, data_dir: Path, port: int) -> dict[str, str]:
    return {
        **os.environ,
        "VERWIJSINDEX_ENV": "development",
        "VERWIJSINDEX_DATABASE_URL": database_url,
        "VERWIJSINDEX_DATA_DIR": str(data_dir),
        "VERWIJSINDEX_PORT": str(port),
        # Throughput is measured with a handful of professionals, far above the enumeration
        # defence's per-professional limits; switch the limits off for the measurement.
        "VERWIJSINDEX_RATE_LIMIT_PROFESSIONAL_PER_MINUTE": "0",
        "VERWIJSINDEX_RATE_LIMIT_PROFESSIONAL_PER_DAY": "0",
        "VERWIJSINDEX_RATE_LIMIT_ORGANISATION_PER_MINUTE": "0",
        "VERWIJSINDEX_RATE_LIMIT_ORGANISATION_BATCH_PER_DAY": "0",
    }


def start_service(
    database_url: str, data_dir: Path, log_dir: Path, name: str, args: tuple[str, ...] = ()
) -> ServerProcess:
    """``verwijsindex serve [args]``; with ``--workers N`` (N > 1) it returns once all N worker
    processes have started (one answering ``/readyz`` is not enough)."""
    port = free_port()
    env = service_env(database_url, data_dir, port)
    argv = [sys.executable, "-m", "verwijsindex.cli", "serve", *args]
    server = ServerProcess.start(name, argv, env, log_dir, port)
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
    if workers > 1:
        deadline = time.monotonic() + 120
        while len(worker_pids(server.log_path)) < workers:
            if time.monotonic() > deadline or server.process.poll() is not None:
                server.stop()
                raise RuntimeError(f"{name}: not all {workers} workers started")
            time.sleep(0.1)
    return server


def worker_pids(log_path: Path) -> set[int]:
    """The processes that logged the app's ``started`` line (``serve --workers N`` logs pids)."""
    pids = set()
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"started"' in line:
            event = json.loads(line)
            if event.get("event") == "started" and "pid" in event:
                pids.add(int(event["pid"]))
    return pids


def start_notifier(
    database_url: str, data_dir: Path, log_dir: Path, name: str
) -> subprocess.Popen[bytes]:
    """A separate ``verwijsindex notifier run`` process (webhook delivery) on the database."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{name}.log").open("wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "verwijsindex.cli", "notifier", "run"],
            env=service_env(database_url, data_dir, free_port()),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def stop_process(process: subprocess.Popen[bytes]) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class Wrk:
    """wrk with a Lua script; results come back as one ``BENCHJSON`` line from ``done()``."""

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self.runs = 0

    def next_offset(self) -> int:
        self.runs += 1
        return self.runs * RUN_STRIDE

    def run(
        self,
        url: str,
        script: str,
        script_args: list[str],
        clients: int,
        duration: float | None = None,
    ) -> dict[str, Any]:
        threads = 1 if clients == 1 else 2
        seconds = max(1, round(duration or self.duration))
        argv = [
            "wrk",
            f"-t{threads}",
            f"-c{clients}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(HERE / script),
            url,
            "--",
            *script_args,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
        for line in done.stdout.splitlines():
            if line.startswith("BENCHJSON "):
                raw = json.loads(line[len("BENCHJSON ") :])
                break
        else:
            raise RuntimeError(f"wrk gave no result:\n{done.stdout}\n{done.stderr}")
        secs = raw["duration_us"] / 1e6
        errors = raw["errors"]
        return {
            "clients": clients,
            "threads": threads,
            "seconds": round(secs, 2),
            "requests": raw["requests"],
            "rps": round(raw["requests"] / secs, 1) if secs else 0.0,
            "p50_ms": raw["p50_us"] / 1000,
            "p95_ms": raw["p95_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000,
            "p999_ms": raw["p999_us"] / 1000,
            "max_ms": raw["max_us"] / 1000,
            "non_2xx": errors["status"],
            "socket_errors": errors["connect"]
            + errors["read"]
            + errors["write"]
            + errors["timeout"],
        }


def write_lua_data(path: Path, data: dict[str, Any], matches: list[str] | None = None) -> Path:
    def people(items: list[dict[str, str]]) -> str:
        return ", ".join(
            f'{{key = "{p["key"]}", professional = "{p["professional"]}"}}' for p in items
        )

    ids = ", ".join(f'"{m}"' for m in (matches or []))
    path.write_text(
        "BENCH = {\n"
        f'  birth_date = "{BIRTH_DATE}",\n'
        f"  a = {{{people(data['a'])}}},\n"
        f"  b = {{{people(data['b'])}}},\n"
        f"  matches = {{{ids}}},\n"
        "}\n"
    )
    return path


# --------------------------------------------------------------------------- machine


def _cmd(argv: list[str]) -> str:
    try:
        done = subprocess.run(argv, capture_output=True, text=True, timeout=30, cwd=ROOT)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return (done.stdout or done.stderr).strip()


async def _pg_info() -> dict[str, str]:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        return {
            name: str(await conn.fetchval(f"SHOW {name}"))
            for name in ("server_version", "fsync", "synchronous_commit", "shared_buffers")
        }
    finally:
        await conn.close()


def machine_info(backends: list[str]) -> dict[str, Any]:
    cpuinfo = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").exists() else ""
    model = re.search(r"^model name\s*:\s*(.+)$", cpuinfo, re.M)
    meminfo = Path("/proc/meminfo").read_text() if Path("/proc/meminfo").exists() else ""
    mem = re.search(r"^MemTotal:\s*(\d+) kB", meminfo, re.M)
    packages = {}
    for name in (
        "fastapi",
        "starlette",
        "uvicorn",
        "uvloop",
        "httptools",
        "pydantic",
        "sqlalchemy",
        "aiosqlite",
        "asyncpg",
    ):
        try:
            packages[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            packages[name] = "not installed"
    info: dict[str, Any] = {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "cpu_model": model.group(1) if model else platform.processor(),
        "cores": os.cpu_count(),
        "usable_cores": len(os.sched_getaffinity(0)),
        "memory_gib": round(int(mem.group(1)) / 1024 / 1024, 1) if mem else None,
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": _cmd(["wrk", "-v"]).splitlines()[0] if shutil.which("wrk") else "missing",
        "git_commit": _cmd(["git", "rev-parse", "HEAD"]),
        "git_dirty": bool(_cmd(["git", "status", "--porcelain", "--untracked-files=no"])),
        "packages": packages,
    }
    if "postgresql" in backends:
        info["postgres"] = asyncio.run(_pg_info())
    return info


# --------------------------------------------------------------------------- ceilings


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

    from verwijsindex.domain.models import Base

    engine = create_engine(f"sqlite:///{path}")
    tables = [Base.metadata.tables[t] for t in ("organisations", "professionals", "registrations")]
    Base.metadata.create_all(engine, tables=tables)
    engine.dispose()


def ceiling_sqlite(rows: int, workdir: Path, commit_seconds: float = 3.0) -> dict[str, Any]:
    """Raw sqlite3 on the registrations table (same columns and indexes, WAL,
    synchronous=FULL, foreign keys on): ``executemany`` of ``rows`` rows in one transaction,
    and one-row durable transactions per second (the commit-per-request ceiling)."""
    from scripts.bench.load_registrations import REG_COLS, _insert_sql, _sqlite_ts
    from verwijsindex.db.base import new_id

    path = workdir / "ceiling.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    _sqlite_schema(path)
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=FULL")
    conn.execute("PRAGMA foreign_keys=ON")
    now = datetime.now(UTC)
    org, pro = str(uuid.uuid4()), str(uuid.uuid4())
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(
        "INSERT INTO organisations VALUES (?, 'o', 'youth-care', '0363', ?)", (org, _sqlite_ts(now))
    )
    conn.execute(
        "INSERT INTO professionals VALUES (?, ?, 'p', 'p@example.org', '+31200000000', 1, ?)",
        (pro, org, _sqlite_ts(now)),
    )
    conn.execute("COMMIT")
    key = os.urandom(32)

    def row(i: int) -> tuple[Any, ...]:
        mac = hmac.new(key, f"bsn:{i}".encode(), hashlib.sha256).hexdigest()[:43]
        return (
            new_id(),  # the service's ids
            "p1." + mac,
            1,
            org,
            pro,
            "0363",
            "active",
            _sqlite_ts(now),
            _sqlite_ts(now + timedelta(days=730)),
            None,
            None,
        )

    data = [row(i) for i in range(rows)]
    sql = _insert_sql("registrations", REG_COLS)
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


# --------------------------------------------------------------------------- databases


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
    from verwijsindex.db.migrate import upgrade
    from verwijsindex.settings import Settings

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


def create_database(backend: str, workdir: Path, label: str) -> BenchDatabase:
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


# --------------------------------------------------------------------------- profile


# Where a sample's innermost frame is, by component (first match wins).
_WAITING = ("EpollSelector.select", "Condition.wait", "SimpleQueue.get", "Queue.get",
            "Event.wait", "Thread.join",
            # a thread's own loop as the innermost frame: blocked on its queue (the work it
            # runs shows as deeper frames)
            "_connection_worker_thread (aiosqlite", "_worker (concurrent/futures")  # fmt: skip
# uvloop runs the loop in C: a sample whose innermost Python frame is the runner is uvloop
# polling, doing socket I/O or dispatching callbacks (py-spy cannot tell those apart).
_UVLOOP = "Runner.run (asyncio/runners.py)"
_COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SQLite itself (statements and commits, in C)", ("inline_sqlite.py", "aiosqlite/")),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("FastAPI, Starlette, pydantic", ("fastapi/", "starlette/", "pydantic")),
    ("uvicorn, httptools (HTTP server)", ("uvicorn/", "httptools")),
    ("logging (structlog, logging)", ("structlog/", "logging/", "verwijsindex/logging.py")),
    ("service code (verwijsindex, crypto, notifier, consent)",
     ("verwijsindex/", "crypto/", "notifier/", "consent/")),
    ("asyncio event loop", ("asyncio/",)),
)  # fmt: skip
# Which part of the work a sample belongs to (first match from the innermost frame out).
_PHASES: tuple[tuple[str, str], ...] = (
    ("aiosqlite threads (reads; BEGIN/COMMIT of other transactions)",
     "_connection_worker_thread"),
    ("worker threads (BEGIN and COMMIT of the write groups: lock wait, fsync)",
     "concurrent/futures/thread.py"),
    ("write groups (GroupCommitter: the group's statements and commit)", "GroupCommitter."),
    ("request handling (middleware, routing, dependencies, handler, response)",
     "RequestContextMiddleware."),
    ("HTTP server (parsing, connections)", "uvicorn/protocols"),
)  # fmt: skip


def _component(leaf: str) -> str:
    if leaf == _UVLOOP:
        return "uvloop (C: polling, socket I/O, callbacks)"
    if any(w in leaf for w in _WAITING):
        return "waiting (idle event loop, idle threads)"
    for name, needles in _COMPONENTS:
        if any(n in leaf for n in needles):
            return name
    return "other (standard library, C extensions)"


def _phase(frames: list[str]) -> str:
    if frames[-1] == _UVLOOP:
        return "uvloop (C: polling, socket I/O, callbacks)"
    if any(w in frames[-1] for w in _WAITING):
        return "waiting (idle event loop, idle threads)"
    for frame in reversed(frames):
        for name, needle in _PHASES:
            if needle in frame:
                return name
    # Mostly request and group code whose stack py-spy read without its outer frames
    # (--nonblocking samples a running process; the innermost frames are still right, so the
    # component table covers these samples).
    return "not attributable (partial stack)"


def summarise_profile(raw_path: Path, top: int = 25) -> dict[str, Any]:
    """From py-spy's collapsed stacks: the share of samples per component (by the innermost
    frame), per phase of the work (by the frames around it) and per function (self)."""
    own: Counter[str] = Counter()
    components: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [re.sub(r" \((.*?):\d+\)$", r" (\1)", f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        components[_component(frames[-1])] += count
        phases[_phase(frames)] += count

    def pct(c: Counter[str], n: int | None = None) -> list[list[Any]]:
        return [[name, round(100 * k / total, 1)] for name, k in c.most_common(n)]

    return {
        "samples": total,
        "components_pct": pct(components),
        "phases_pct": pct(phases),
        "self_pct": pct(own, top),
    }


# --------------------------------------------------------------------------- suite


@dataclass
class Options:
    mode: str
    out: Path
    duration: float
    warmup: float
    levels: list[int]
    scale: list[int]
    backends: list[str]
    sqlite_rows: int
    profile: bool
    workdir: Path
    scaleout: list[int] = field(default_factory=list)
    scaleout_levels: list[int] = field(default_factory=lambda: [TARGET_CLIENTS])
    only_scaleout: bool = False
    webhook_matches: int = 0


def service_point(
    opts: Options, wrk: Wrk, backend: str, preload: int, results: dict[str, Any]
) -> dict[str, Any]:
    from scripts.bench.load_registrations import load

    label = f"{backend}-{preload}"
    log(f"{label}: preparing database")
    db = create_database(backend, opts.workdir, label)
    point: dict[str, Any] = {"backend": backend, "preloaded": preload}
    server: ServerProcess | None = None
    try:
        if preload:
            log(f"{label}: loading {preload:,} registrations")
            point["load"] = load(database_url=db.url, data_dir=db.data_dir, count=preload)
            log(f"{label}: loaded in {point['load']['seconds']} s")
        server = start_service(db.url, db.data_dir, opts.out / "logs", f"service-{label}")
        point["rss_idle_bytes"] = server.memory().get("VmRSS")
        data = write_lua_data(opts.workdir / f"{label}.lua", db.people)
        url = server.base_url
        # Measured warm: a freshly started service on a large database first fills SQLite's
        # page cache and the operating system's, with stalls of up to a second (seen at
        # 10^7). That cold start is a figure of its own (``warmup``), not the steady state.
        warmup = opts.warmup if preload == 0 else max(opts.warmup, LARGE_WARMUP_S)
        w = wrk.run(url, "register.lua", [str(data), str(wrk.next_offset())], 32, warmup)
        point["warmup"] = w
        log(f"{label}: warm-up {warmup:.0f} s at 32 clients: p99 {w['p99_ms']:.1f} ms, "
            f"max {w['max_ms']:.1f} ms")  # fmt: skip
        levels = opts.levels if preload == 0 else [TARGET_CLIENTS]
        point["register"] = []
        for clients in levels:
            cpu_before = server.cpu_seconds()
            r = wrk.run(url, "register.lua", [str(data), str(wrk.next_offset())], clients)
            cpu = server.cpu_seconds() - cpu_before
            r["server_cpu_cores"] = round(cpu / r["seconds"], 2) if r.get("seconds") else None
            r["server_cpu_ms_per_request"] = (
                round(cpu * 1000 / r["requests"], 3) if r.get("requests") else None
            )
            point["register"].append(r)
            log(
                f"{label}: register c={clients}: {r['rps']:.0f}/s p50 {r['p50_ms']:.1f} ms "
                f"p99 {r['p99_ms']:.1f} ms non-2xx {r['non_2xx']}, server CPU "
                f"{r['server_cpu_cores']} cores, {r['server_cpu_ms_per_request']} ms/request"
            )
        matches = bench_match_ids(db)
        point["match_ids_read"] = len(matches)
        if matches:
            data = write_lua_data(opts.workdir / f"{label}-m.lua", db.people, matches)
            r = wrk.run(url, "match_read.lua", [str(data)], MATCH_READ_CLIENTS)
            point["match_read"] = r
            log(
                f"{label}: match read c={MATCH_READ_CLIENTS}: {r['rps']:.0f}/s "
                f"p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms non-2xx {r['non_2xx']}"
            )
        if preload == 0:
            total = 20_000 if opts.mode == "quick" else 100_000
            log(f"{label}: bulk, {total:,} registrations in batches of 1,000")
            point["bulk"] = bulk_point(url, db.people, total)
            log(f"{label}: bulk {point['bulk']['rows_per_s']:,}/s")
            log(f"{label}: CSV import of {total:,} registrations (import-registrations)")
            point["csv_import"] = csv_import_point(url, db.people, total, opts.workdir)
            log(f"{label}: CSV import {point['csv_import']['rows_per_s']:,}/s")
        if opts.profile and backend == "sqlite":
            point["profile"] = profile_service(opts, wrk, server, data, preload)
        mem = server.memory()
        point["rss_bytes"] = mem.get("VmRSS")
        point["rss_peak_bytes"] = mem.get("VmHWM")
        server.stop()
        server = None
        point["db_size_bytes"] = database_size(db)
        point["check"] = check_matches(db)
        log(
            f"{label}: {point['check']}, db {point['db_size_bytes'] / 1e6:.0f} MB, "
            f"rss {(point['rss_bytes'] or 0) / 1e6:.0f} MB"
        )
    finally:
        if server is not None:
            server.stop()
        drop_database(db)
    results["points"].append(point)
    return point


LARGE_WARMUP_S = 15.0
"""Warm-up at a preloaded scale point: the stalls of a cold start at 10^7 lasted ~6 s."""


def scaleout_point(opts: Options, wrk: Wrk, workers: int) -> dict[str, Any]:
    """PostgreSQL, ``serve --workers W --no-webhook-worker`` plus one separate
    ``notifier run`` process, on a fresh database; registrations at each client level, then
    the match check."""
    label = f"scaleout-w{workers}"
    log(f"{label}: preparing database")
    db = create_database("postgresql", opts.workdir, label)
    point: dict[str, Any] = {"workers": workers, "register": []}
    logs = opts.out / "logs"
    server: ServerProcess | None = None
    notifier: subprocess.Popen[bytes] | None = None
    try:
        args = ("--workers", str(workers), "--no-webhook-worker")
        server = start_service(db.url, db.data_dir, logs, f"service-{label}", args)
        notifier = start_notifier(db.url, db.data_dir, logs, f"notifier-{label}")
        data = write_lua_data(opts.workdir / f"{label}.lua", db.people)
        url = server.base_url
        wrk.run(url, "register.lua", [str(data), str(wrk.next_offset())], 32, opts.warmup)
        for clients in opts.scaleout_levels:
            r = wrk.run(url, "register.lua", [str(data), str(wrk.next_offset())], clients)
            point["register"].append(r)
            log(
                f"{label}: register c={clients}: {r['rps']:.0f}/s p50 {r['p50_ms']:.1f} ms "
                f"p99 {r['p99_ms']:.1f} ms non-2xx {r['non_2xx']}"
            )
        pids = worker_pids(server.log_path) or {server.process.pid}  # one process: no pids
        point["worker_processes"] = len(pids)
        point["rss_bytes"] = sum(_read_status(pid).get("VmRSS", 0) for pid in pids)
        server.stop()
        server = None
        point["notifier_ran_throughout"] = notifier.poll() is None
        point["notifier_exit"] = stop_process(notifier)
        notifier = None
        point["check"] = check_matches(db)
        log(f"{label}: {point['check']}")
    finally:
        if server is not None:
            server.stop()
        if notifier is not None:
            stop_process(notifier)
        drop_database(db)
    return point


def run_scaleout(opts: Options, wrk: Wrk, results: dict[str, Any]) -> None:
    section: dict[str, Any] = {
        "workers": opts.scaleout,
        "levels": opts.scaleout_levels,
        "points": [],
    }
    results["scaleout"] = section
    for workers in opts.scaleout:
        section["points"].append(scaleout_point(opts, wrk, workers))
        save(opts, results)


def _bsns(count: int, start: int = 60_000_000) -> list[str]:
    """``count`` valid BSNs from the bulk benchmark's own range (disjoint from wrk's)."""
    out: list[str] = []
    base = start
    while len(out) < count:
        digits = f"{base:08d}"
        check = sum(int(d) * w for d, w in zip(digits, range(9, 1, -1), strict=True)) % 11
        if check < 10:
            out.append(digits + str(check))
        base += 1
    return out


def bulk_point(
    url: str, people: dict[str, Any], total: int, concurrency: int = 2
) -> dict[str, Any]:
    """End-to-end registrations/s through ``POST /v1/registrations:batch`` (1,000 per
    request, ``concurrency`` requests in flight), fresh youths."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    who = people["a"][0]
    headers = {"Authorization": f"Bearer {who['key']}", "X-Professional-Id": who["professional"]}
    youths = _bsns(total + 1)
    batches = [
        {"items": [{"bsn": b, "birth_date": BIRTH_DATE} for b in youths[s : s + 1000]]}
        for s in range(1, total + 1, 1000)
    ]
    bodies = [json.dumps(b).encode() for b in batches]
    created = 0
    latencies: list[float] = []
    with httpx.Client(base_url=url, timeout=300) as client:

        def send(body: bytes) -> int:
            t0 = time.perf_counter()
            r = client.post(
                "/v1/registrations:batch",
                content=body,
                headers={**headers, "Content-Type": "application/json"},
            )
            latencies.append(time.perf_counter() - t0)
            r.raise_for_status()
            return int(r.json()["created"])

        send(json.dumps({"items": [{"bsn": youths[0], "birth_date": BIRTH_DATE}]}).encode())
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            created = sum(pool.map(send, bodies))
        seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "registrations": created,
        "requests": len(bodies),
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "rows_per_s": round(created / seconds),
        "batch_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
    }


def csv_import_point(url: str, people: dict[str, Any], total: int, workdir: Path) -> dict[str, Any]:
    """End-to-end registrations/s of ``verwijsindex import-registrations`` as an organisation
    runs it: a CSV file of ``total`` fresh youths, sent in batches of 1,000 one after another,
    timed from the command's start to its exit (interpreter start and the file's line count
    included)."""
    who = people["a"][0]
    path = workdir / f"import-{total}.csv"
    with path.open("w", newline="", encoding="utf-8") as fh:
        fh.write("bsn,birth_date\n")
        fh.writelines(f"{b},{BIRTH_DATE}\n" for b in _bsns(total, start=90_000_000))
    argv = [
        sys.executable,
        "-m",
        "verwijsindex.cli",
        "import-registrations",
        str(path),
        "--url",
        url,
        "--professional-id",
        who["professional"],
    ]
    env = {**os.environ, "VERWIJSINDEX_API_KEY": who["key"]}
    try:
        started = time.perf_counter()
        done = subprocess.run(
            argv, capture_output=True, text=True, env=env, cwd=ROOT, timeout=900, check=False
        )
        seconds = time.perf_counter() - started
    finally:
        path.unlink(missing_ok=True)
    if done.returncode != 0:
        raise RuntimeError(f"the CSV import failed ({done.returncode}): {done.stderr[-400:]}")
    report = json.loads(done.stdout)
    return {
        "rows": report["rows"],
        "registrations": report["created"],
        "failed": report["failed"],
        "seconds": round(seconds, 3),
        "rows_per_s": round(report["created"] / seconds),
    }


def profile_service(
    opts: Options, wrk: Wrk, server: ServerProcess, data: Path, preload: int
) -> dict[str, Any]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return {"error": "py-spy not installed (pip install py-spy)"}
    raw = opts.out / f"profile-sqlite-{preload}-c32.txt"
    seconds = max(5, round(opts.duration))
    log(f"profiling the SQLite service at {TARGET_CLIENTS} clients for {seconds} s (py-spy)")
    spy = subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(server.process.pid),
            "--duration",
            str(seconds),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(raw),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1)
    run = wrk.run(
        server.base_url,
        "register.lua",
        [str(data), str(wrk.next_offset())],
        TARGET_CLIENTS,
        seconds,
    )
    _, err = spy.communicate(timeout=seconds + 60)
    if not raw.exists():
        return {"error": f"py-spy failed: {err.decode(errors='replace')[-500:]}"}
    return {"file": raw.name, "run_under_profiler": run, **summarise_profile(raw)}


def run_suite(opts: Options) -> dict[str, Any]:
    results: dict[str, Any] = {
        "mode": opts.mode,
        "settings": {
            "duration_s": opts.duration,
            "levels": opts.levels,
            "scale": opts.scale,
            "backends": opts.backends,
            "birth_date": BIRTH_DATE,
            "match_read_clients": MATCH_READ_CLIENTS,
            "scaleout_workers": opts.scaleout,
            "scaleout_levels": opts.scaleout_levels,
        },
        "points": [],
    }
    wrk = Wrk(opts.duration)
    log("machine info")
    results["machine"] = machine_info(opts.backends)
    save(opts, results)
    if not opts.only_scaleout:
        run_single_process(opts, wrk, results)
        if opts.webhook_matches > 0:
            results["webhooks"] = run_webhooks(opts.webhook_matches)
            save(opts, results)
    if opts.scaleout:
        run_scaleout(opts, wrk, results)
    return results


def run_webhooks(matches: int) -> dict[str, Any]:
    """Match → webhook latency and delivery throughput, by ``scripts/bench_webhooks.py``
    (its own SQLite service, loopback receivers, signatures verified with standardwebhooks)."""
    log(f"match → webhook: {matches:,} matches, backlog of {matches:,}")
    script = Path(__file__).resolve().parent.parent / "bench_webhooks.py"
    done = subprocess.run(
        [sys.executable, str(script), "--matches", str(matches), "--backlog", str(matches)],
        capture_output=True,
        text=True,
        timeout=1800,
        check=False,
    )
    if done.returncode != 0:
        return {"error": done.stderr[-1000:]}
    result: dict[str, Any] = json.loads(done.stdout[done.stdout.index("{") :])
    log(f"  median {result['latency']['median_ms']:.1f} ms, "
        f"{result['throughput']['deliveries_per_s']:,.0f} deliveries/s")  # fmt: skip
    return result


def run_single_process(opts: Options, wrk: Wrk, results: dict[str, Any]) -> None:
    """Ceilings, then the single-process service runs and scale points per backend."""
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

    for backend in opts.backends:
        for preload in opts.scale:
            service_point(opts, wrk, backend, preload, results)
            save(opts, results)


def save(opts: Options, results: dict[str, Any]) -> None:
    opts.out.mkdir(parents=True, exist_ok=True)
    (opts.out / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    (opts.out / "results.md").write_text(render_markdown(results))


# --------------------------------------------------------------------------- report


def _by_clients(runs: list[dict[str, Any]] | None) -> dict[int, dict[str, Any]]:
    return {r["clients"]: r for r in runs or []}


def _mb(n: int | None) -> str:
    return "–" if n is None else f"{n / 1e6:,.0f} MB"


def _ms(v: float | None) -> str:
    return "–" if v is None else f"{v:.1f}"


def render_markdown(res: dict[str, Any]) -> str:
    m = res.get("machine", {})
    out = [f"# Benchmark results ({res.get('mode')})", ""]
    if m:
        pg = m.get("postgres", {})
        out += [
            "| machine | |",
            "|---|---|",
            f"| date | {m['date']} |",
            f"| CPU | {m['cpu_model']}, {m['cores']} cores ({m['usable_cores']} usable) |",
            f"| memory | {m['memory_gib']} GiB |",
            f"| kernel | {m['kernel']} |",
            f"| Python | {m['python']} |",
            f"| SQLite | {m['sqlite']} |",
            f"| PostgreSQL | {pg.get('server_version', '–')} (fsync={pg.get('fsync', '–')}, "
            f"synchronous_commit={pg.get('synchronous_commit', '–')}) |",
            f"| load generator | {m['wrk']} |",
            f"| git commit | {m['git_commit']}{' (dirty)' if m['git_dirty'] else ''} |",
            "| packages | " + ", ".join(f"{k} {v}" for k, v in m["packages"].items()) + " |",
            "",
        ]
    s = res.get("settings", {})
    out += [f"Each HTTP figure is one wrk run of {s.get('duration_s')} s; latencies in ms.", ""]
    if "hmac" in res:
        h, q = res["hmac"], res.get("sqlite", {})
        out += [
            "## Ceilings (measured in this run)",
            "",
            "| ceiling | figure |",
            "|---|---|",
            f"| HMAC-SHA256 of a BSN, one core | {h['hmac_sha256_per_s']:,}/s |",
            f"| full pseudonym (HMAC + base64), one core | {h['pseudonymise_per_s']:,}/s |",
        ]
        if q:
            out += [
                f"| raw sqlite3 executemany, {q['executemany_rows']:,} registrations, one "
                f"transaction, WAL, synchronous=FULL | {q['executemany_rows_per_s']:,} rows/s |",
                f"| raw sqlite3, one registration per durable transaction "
                f"| {q['durable_single_row_commits_per_s']:,} commits/s |",
            ]
        out.append("")
    bare = _by_clients(res.get("ceiling_bare"))
    fast = _by_clients(res.get("ceiling_fastapi"))
    if bare or fast:
        out += [
            "### HTTP ceilings: same uvicorn settings, same wrk script and request bodies",
            "",
            "| clients | bare ASGI (load generator ceiling) req/s | p99 | minimal FastAPI "
            "(ceiling 1) req/s | p50 | p99 |",
            "|---:|---:|---:|---:|---:|---:|",
        ]
        for c in sorted(set(bare) | set(fast)):
            b, f = bare.get(c, {}), fast.get(c, {})
            out.append(
                f"| {c} | {b.get('rps', 0):,.0f} | {_ms(b.get('p99_ms'))} | "
                f"{f.get('rps', 0):,.0f} | {_ms(f.get('p50_ms'))} | {_ms(f.get('p99_ms'))} |"
            )
        out.append("")
    points = res.get("points", [])
    sweeps = [p for p in points if p["preloaded"] == 0]
    if sweeps:
        out += [
            "## Registration through HTTP (`verwijsindex serve`, empty database, ~10% matches)",
            "",
            "| backend | clients | req/s | p50 | p95 | p99 | non-2xx | vs minimal FastAPI "
            "| vs bare ASGI |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for p in sweeps:
            for r in p["register"]:
                f = fast.get(r["clients"], {}).get("rps")
                b = bare.get(r["clients"], {}).get("rps")
                vs_fast = f"{r['rps'] / f:.1%}" if f else "–"
                vs_bare = f"{r['rps'] / b:.1%}" if b else "–"
                out.append(
                    f"| {p['backend']} | {r['clients']} | {r['rps']:,.0f} | {_ms(r['p50_ms'])} "
                    f"| {_ms(r['p95_ms'])} | {_ms(r['p99_ms'])} | {r['non_2xx']} | "
                    f"{vs_fast} | {vs_bare} |"
                )
        out.append("")
    if points:
        out += [
            f"## Scale (registrations and match reads at {TARGET_CLIENTS} clients)",
            "",
            "| backend | preloaded | load time | cold start: p99 / max | register req/s | p50 "
            "| p99 | p99 vs empty | match read req/s | p50 | p99 | RSS | RSS peak | DB on disk "
            "| youths missing a match |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        empty = {
            p["backend"]: _by_clients(p["register"]).get(TARGET_CLIENTS)
            for p in points
            if p["preloaded"] == 0
        }
        for p in points:
            r = _by_clients(p["register"]).get(TARGET_CLIENTS, {})
            mr = p.get("match_read", {})
            e = empty.get(p["backend"])
            ratio = f"{r['p99_ms'] / e['p99_ms']:.2f}×" if r and e and e["p99_ms"] else "–"
            load = p.get("load")
            load_time = f"{load['seconds']:.0f} s" if load else "–"
            missing = p.get("check", {}).get("youths_missing_a_match", "–")
            w = p.get("warmup") or {}
            cold = f"{_ms(w.get('p99_ms'))} / {_ms(w.get('max_ms'))}" if w else "–"
            out.append(
                f"| {p['backend']} | {p['preloaded']:,} | "
                f"{load_time} | {cold} | {r.get('rps', 0):,.0f} | "
                f"{_ms(r.get('p50_ms'))} | {_ms(r.get('p99_ms'))} | {ratio} | "
                f"{mr.get('rps', 0):,.0f} | {_ms(mr.get('p50_ms'))} | {_ms(mr.get('p99_ms'))} | "
                f"{_mb(p.get('rss_bytes'))} | {_mb(p.get('rss_peak_bytes'))} | "
                f"{_mb(p.get('db_size_bytes'))} | {missing} |"
            )
        out.append("")
    bulk_rows = [p for p in points if p.get("bulk")]
    if bulk_rows:
        executemany = (res.get("sqlite") or {}).get("executemany_rows_per_s")
        out += [
            "## Bulk registration (`POST /v1/registrations:batch`, 1,000 per request)",
            "",
            "| backend | registrations | in flight | seconds | registrations/s | batch p50 ms "
            "| vs raw executemany |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        for p in bulk_rows:
            b = p["bulk"]
            share = f"{b['rows_per_s'] / executemany:.1%}" if executemany else "–"
            out.append(
                f"| {p['backend']} | {b['registrations']:,} | {b['concurrency']} | {b['seconds']} "
                f"| {b['rows_per_s']:,} | {b['batch_p50_ms']} | {share} |"
            )
        out.append("")
        imports = [p for p in bulk_rows if p.get("csv_import")]
        if imports:
            out += [
                "CSV import (`verwijsindex import-registrations`, batches of 1,000 one after "
                "another, from the command's start to its exit):",
                "",
                "| backend | rows | created | failed | seconds | registrations/s |",
                "|---|---:|---:|---:|---:|---:|",
            ]
            for p in imports:
                c = p["csv_import"]
                out.append(
                    f"| {p['backend']} | {c['rows']:,} | {c['registrations']:,} | {c['failed']} "
                    f"| {c['seconds']} | {c['rows_per_s']:,} |"
                )
            out.append("")
    out += render_scaleout(res)
    out += render_webhooks(res.get("webhooks"))
    out += render_targets(res, fast)
    for p in points:
        prof = p.get("profile")
        if prof and "components_pct" in prof:
            run = prof["run_under_profiler"]
            out += [
                f"## Profile: {p['backend']} service, {p['preloaded']:,} preloaded, "
                f"{TARGET_CLIENTS} clients (py-spy, "
                f"{prof['samples']:,} samples; {run['rps']:,.0f} req/s under the profiler)",
                "",
                "| phase of the work | % of samples |",
                "|---|---:|",
                *[f"| {n} | {v} |" for n, v in prof["phases_pct"]],
                "",
                "| component (innermost frame) | % of samples |",
                "|---|---:|",
                *[f"| {n} | {v} |" for n, v in prof["components_pct"]],
                "",
                "| function (self) | % of samples |",
                "|---|---:|",
                *[f"| `{n}` | {v} |" for n, v in prof["self_pct"]],
                "",
            ]
    return "\n".join(out) + "\n"


def _scaleout_runs(res: dict[str, Any]) -> dict[tuple[int, int], dict[str, Any]]:
    """(workers, clients) → the wrk run, from the scale-out section."""
    return {
        (p["workers"], r["clients"]): r
        for p in (res.get("scaleout") or {}).get("points", [])
        for r in p["register"]
    }


def render_scaleout(res: dict[str, Any]) -> list[str]:
    points = (res.get("scaleout") or {}).get("points", [])
    if not points:
        return []
    runs = _scaleout_runs(res)
    out = [
        "## Scale-out on PostgreSQL (`serve --workers W --no-webhook-worker` "
        "and one `notifier run`)",
        "",
        "| API workers | clients | req/s | p50 | p99 | non-2xx | vs 1 worker | RSS (workers) "
        "| youths missing a match | youths with > 1 open match |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for p in points:
        check = p.get("check", {})
        for r in p["register"]:
            one = runs.get((1, r["clients"]))
            ratio = f"{r['rps'] / one['rps']:.2f}×" if one and one["rps"] else "–"
            out.append(
                f"| {p['workers']} | {r['clients']} | {r['rps']:,.0f} | {_ms(r['p50_ms'])} "
                f"| {_ms(r['p99_ms'])} | {r['non_2xx']} | {ratio} | {_mb(p.get('rss_bytes'))} "
                f"| {check.get('youths_missing_a_match', '–')} "
                f"| {check.get('youths_with_more_than_one_open_match', '–')} |"
            )
    out.append("")
    return out


def render_webhooks(hooks: dict[str, Any] | None) -> list[str]:
    out = ["## Match → webhook (`scripts/bench_webhooks.py`, SQLite)", ""]
    if not hooks:
        return [*out, "Not run (`--webhook-matches 0`).", ""]
    if "error" in hooks:
        return [*out, f"Failed: `{hooks['error'][-300:]}`", ""]
    lat, thr = hooks["latency"], hooks["throughput"]
    return [
        *out,
        f"Signatures verified with {hooks['verifier']}.",
        "",
        "| measure | figure |",
        "|---|---:|",
        f"| registration that makes a match → both organisations' webhooks verified, median "
        f"({lat['matches']:,} matches) | {lat['median_ms']:.1f} ms |",
        f"| p90 / p99 / max | {lat['p90_ms']:.1f} / {lat['p99_ms']:.1f} / {lat['max_ms']:.1f} ms |",
        f"| the registration's own response, median | "
        f"{lat['registration_response_median_ms']:.1f} ms |",
        f"| backlog of {thr['deliveries']:,} deliveries, one `notifier run` process | "
        f"{thr['deliveries_per_s']:,.0f} deliveries/s ({thr['rejected']} rejected) |",
        "",
    ]


def render_targets(res: dict[str, Any], fast: dict[int, dict[str, Any]]) -> list[str]:
    points = res.get("points", [])
    sqlite_empty = next(
        (p for p in points if p["backend"] == "sqlite" and p["preloaded"] == 0), None
    )
    rows = []
    if sqlite_empty:
        r = _by_clients(sqlite_empty["register"]).get(TARGET_CLIENTS)
        f = fast.get(TARGET_CLIENTS, {}).get("rps")
        if r:
            rows.append(
                (
                    "≥ 3,000 registrations/s, SQLite, 32 clients",
                    f"{r['rps']:,.0f}/s",
                    r["rps"] >= 3000,
                )
            )
            if f:
                rows.append(
                    (
                        "≥ 55% of minimal FastAPI, 32 clients",
                        f"{r['rps'] / f:.1%}",
                        r["rps"] / f >= 0.55,
                    )
                )
            rows.append(
                ("p99 ≤ 25 ms, SQLite, 32 clients", f"{r['p99_ms']:.1f} ms", r["p99_ms"] <= 25)
            )
    for backend in ("sqlite", "postgresql"):
        bp = [p for p in points if p["backend"] == backend]
        empty = next((p for p in bp if p["preloaded"] == 0), None)
        largest = max(bp, key=lambda p: p["preloaded"], default=None)
        if not empty or not largest or largest is empty:
            continue
        e = _by_clients(empty["register"]).get(TARGET_CLIENTS)
        big = _by_clients(largest["register"]).get(TARGET_CLIENTS)
        n = largest["preloaded"]
        suffix = "" if n >= 10_000_000 else f" (measured at {n:,} only; target is at 10^7)"
        if e and big:
            ratio = big["p99_ms"] / e["p99_ms"]
            rows.append(
                (
                    f"{backend}: p99 at 10^7 within 1.5× of empty{suffix}",
                    f"{ratio:.2f}×",
                    ratio <= 1.5 if n >= 10_000_000 else None,
                )
            )
        rss = largest.get("rss_bytes")
        if rss:
            rows.append(
                (
                    f"{backend}: RSS < 250 MB at 10^7{suffix}",
                    _mb(rss),
                    rss < 250e6 if n >= 10_000_000 else None,
                )
            )
    bulk = sqlite_empty.get("bulk") if sqlite_empty else None
    ceiling = (res.get("sqlite") or {}).get("executemany_rows_per_s")
    if bulk:
        rows.append(
            (
                "bulk ≥ 50,000 registrations/s (SQLite)",
                f"{bulk['rows_per_s']:,}/s",
                bulk["rows_per_s"] >= 50_000,
            )
        )
        if ceiling:
            share = bulk["rows_per_s"] / ceiling
            rows.append(("bulk ≥ half of raw executemany", f"{share:.1%}", share >= 0.5))
    runs = _scaleout_runs(res)
    one, two = runs.get((1, TARGET_CLIENTS)), runs.get((2, TARGET_CLIENTS))
    if one and two and one["rps"]:
        ratio = two["rps"] / one["rps"]
        rows.append(
            (
                f"PostgreSQL: 2 workers ≥ 1.6× one, {TARGET_CLIENTS} clients",
                f"{ratio:.2f}×",
                ratio >= 1.6,
            )
        )
    out = ["## Targets (issue 6)", "", "| target | measured | verdict |", "|---|---:|---|"]
    for name, value, ok in rows:
        verdict = "not decided" if ok is None else ("met" if ok else "**missed**")
        out.append(f"| {name} | {value} | {verdict} |")
    if not (one and two):
        out.append("| PostgreSQL: 2 workers ≥ 1.6× one | – | not measured in this run |")
    out.append("")
    return out


def parse_list(text: str) -> list[int]:
    return [int(float(x)) for x in text.split(",") if x.strip()]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0],
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog=__doc__.split("\n\n", 1)[1],
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument(
        "--quick",
        action="store_const",
        dest="mode",
        const="quick",
        help="5 s per figure, scale 0 and 10^5 (default; a few minutes)",
    )
    mode.add_argument(
        "--full",
        action="store_const",
        dest="mode",
        const="full",
        help="15 s per figure, scale 0, 10^6 and 10^7 (long)",
    )
    parser.add_argument("--out", type=Path, default=Path("bench-results"))
    parser.add_argument("--duration", type=float, help="seconds per wrk run")
    parser.add_argument("--levels", default="1,8,32,128", help="concurrent clients")
    parser.add_argument("--scale", help="registrations preloaded per scale point, e.g. 0,1e6")
    parser.add_argument("--backends", default="sqlite,postgresql")
    parser.add_argument("--sqlite-rows", type=int, help="rows for the executemany ceiling")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="py-spy profile of the SQLite service at 32 clients, at every scale point",
    )
    parser.add_argument(
        "--workdir", type=Path, help="where databases go (default a temporary directory)"
    )
    parser.add_argument(
        "--scaleout",
        default="1,2,4",
        help="API worker processes per scale-out run on PostgreSQL (default 1,2,4; "
        "'' or 0 skips the section; needs postgresql among --backends)",
    )
    parser.add_argument(
        "--scaleout-levels", help="clients of the scale-out runs (default 32; --full: 32,128)"
    )
    parser.add_argument(
        "--webhook-matches",
        type=int,
        help="matches (and backlog) for the match → webhook section, run through "
        "scripts/bench_webhooks.py (default 300; --full: 1000; 0 skips)",
    )
    parser.add_argument(
        "--only-scaleout",
        action="store_true",
        help="run only the scale-out section (no ceilings, no single-process runs)",
    )
    args = parser.parse_args()
    mode_name = args.mode or "quick"
    full = mode_name == "full"
    if not shutil.which("wrk"):
        parser.error("wrk is required (apt-get install wrk)")
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="vi-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    opts = Options(
        mode=mode_name,
        out=args.out,
        duration=args.duration or (15.0 if full else 5.0),
        warmup=3.0 if full else 2.0,
        levels=parse_list(args.levels),
        scale=parse_list(args.scale)
        if args.scale
        else ([0, 1_000_000, 10_000_000] if full else [0, 100_000]),
        backends=[b.strip() for b in args.backends.split(",") if b.strip()],
        sqlite_rows=args.sqlite_rows or (1_000_000 if full else 100_000),
        profile=args.profile,
        workdir=workdir,
        scaleout=[w for w in parse_list(args.scaleout) if w > 0],
        scaleout_levels=parse_list(args.scaleout_levels)
        if args.scaleout_levels
        else ([TARGET_CLIENTS, 128] if full else [TARGET_CLIENTS]),
        only_scaleout=args.only_scaleout,
        webhook_matches=args.webhook_matches
        if args.webhook_matches is not None
        else (1000 if full else 300),
    )
    if "postgresql" not in opts.backends:
        if args.only_scaleout:
            parser.error("--only-scaleout needs postgresql among --backends")
        opts.scaleout = []
    if args.only_scaleout and not opts.scaleout:
        parser.error("--only-scaleout needs worker counts in --scaleout")
    if 0 not in opts.scale:
        opts.scale.insert(0, 0)
    started = time.monotonic()
    try:
        results = run_suite(opts)
    finally:
        if not args.workdir:
            shutil.rmtree(workdir, ignore_errors=True)
    results["elapsed_s"] = round(time.monotonic() - started)
    save(opts, results)
    log(f"done in {results['elapsed_s']} s: {opts.out / 'results.md'}")


if __name__ == "__main__":
    main()

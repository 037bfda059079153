"""CPU per request in process: the quick loop for comparing two versions of the code.

Drives the ASGI app directly (no network, no load generator) with ``--concurrency`` requests
in flight on a fresh SQLite database (rate limits off, no webhook worker, no sweeper) and
reports requests per second and the process's CPU time per request (registrations, match
reads with ``--route match-read``, registration reads with ``--route registration-read``),
which is far less noisy than wall-clock figures on a shared machine. ``--backend postgresql``
runs on a fresh PostgreSQL database of its own (``BENCH_PG_DSN``), dropped afterwards.
Compare versions in one session, e.g. ``git stash`` / run / ``git stash pop`` / run, and
report the ratio. The figures that count
are the suite's (``python -m scripts.bench.run``); this script is for finding what to change.

    .venv/bin/python -m scripts.bench.inprocess --requests 4000 --concurrency 32 2>/dev/null
    .venv/bin/python -m scripts.bench.inprocess --profile out.prof 2>/dev/null  # with cProfile
    .venv/bin/python -m scripts.bench.inprocess --route match-read 2>/dev/null
    .venv/bin/python -m scripts.bench.inprocess --route registration-read --backend postgresql
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from scripts.bench.common import PG_ADMIN_DSN
from scripts.bench.databases import _pg_admin, seed_people
from scripts.bench.load_registrations import bsn_of
from verwijsindex.context import AppContext
from verwijsindex.http.app import create_app
from verwijsindex.logging import configure_logging
from verwijsindex.settings import Settings


async def run(
    requests: int,
    concurrency: int,
    profile: Path | None,
    route: str = "register",
    backend: str = "sqlite",
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="vi-inprocess-") as directory:
        data = Path(directory)
        if backend == "sqlite":
            url = f"sqlite+aiosqlite:///{data}/verwijsindex.db"
            result = await _run(data, url, requests, concurrency, profile, route)
            return {**result, "backend": backend}
        name = f"vi_inprocess_{os.getpid()}"
        await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await _pg_admin(f'CREATE DATABASE "{name}"')
        try:
            host = PG_ADMIN_DSN.split("://", 1)[1].rsplit("/", 1)[0]
            url = f"postgresql+asyncpg://{host}/{name}"
            result = await _run(data, url, requests, concurrency, profile, route)
        finally:
            await _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        return {**result, "backend": backend}


async def _run(
    data: Path, url: str, requests: int, concurrency: int, profile: Path | None, route: str
) -> dict[str, Any]:
    settings = Settings(
        data_dir=data,
        database_url=url,
        run_sweeper=False,
        run_webhook_worker=False,
        rate_limit_professional_per_minute=0,
        rate_limit_professional_per_day=0,
        rate_limit_organisation_per_minute=0,
    )
    app = create_app(settings, freeze_gc=True)  # as `verwijsindex serve` runs it
    async with app.router.lifespan_context(app):
        ctx: AppContext = app.state.ctx
        people = await seed_people(ctx, professionals=4)
        callers = [
            [(b"authorization", f"Bearer {p['key']}".encode()),
             (b"x-professional-id", p["professional"].encode())]
            for p in people["a"] + people["b"]
        ]  # fmt: skip
        statuses: dict[int, int] = {}
        matches: list[str] = []
        registrations: list[str] = []
        if route in ("match-read", "registration-read"):
            # One match per youth: a professional of each organisation registers it.
            a, b = people["a"][0], people["b"][0]
            for youth in range(1_000_000, 1_000_000 + 500):
                for who in (a, b):
                    body = json.dumps({"bsn": bsn_of(youth), "birth_date": "2012-05-01"})
                    response = await _request(app, "POST", "/v1/registrations", body, who)
                    if who is a:
                        registrations.append(json.loads(response)["id"])
                match_id = json.loads(response)["match_id"]
                assert match_id is not None
                matches.append(match_id)
            callers = callers[: len(people["a"])]  # organisation a takes part in every match

        def registration_body(index: int) -> bytes:
            # every 10th request registers a youth of 3 requests earlier: ~10% make a match
            youth = index - 3 if index % 10 == 9 else index
            return json.dumps(_item(youth, route)).encode()

        def batch_body(index: int) -> bytes:
            first = index * _BATCH
            items = [_item(youth, route) for youth in range(first, first + _BATCH)]
            return json.dumps({"items": items}).encode()

        # The request bodies are made before the run, so the client's work is not in it.
        bodies: dict[int, bytes] = {}
        if route in ("register", "register-parents"):
            bodies = {i: registration_body(i) for i in range(200 + requests)}
        elif route in ("batch", "batch-parents"):
            bodies = {i: batch_body(i) for i in (0, 1, *range(200, 200 + requests))}

        async def call(index: int) -> None:
            if route == "match-read":
                method, path, body = "GET", f"/v1/matches/{matches[index % len(matches)]}", b""
            elif route == "registration-read":
                registration = registrations[index % len(registrations)]
                method, path, body = "GET", f"/v1/registrations/{registration}", b""
            elif route in ("batch", "batch-parents"):
                method, path, body = "POST", "/v1/registrations:batch", bodies[index]
            else:
                method, path, body = "POST", "/v1/registrations", bodies[index]
            scope = {
                "type": "http",
                "asgi": {"version": "3.0"},
                "http_version": "1.1",
                "method": method,
                "scheme": "http",
                "path": path,
                "raw_path": path.encode(),
                "query_string": b"",
                "root_path": "",
                "headers": [
                    (b"host", b"bench"),
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *callers[index % len(callers)],
                ],
                "client": ("127.0.0.1", 50000),
                "server": ("127.0.0.1", 8080),
                "state": {},
            }
            sent = False

            async def receive() -> dict[str, Any]:
                nonlocal sent
                if not sent:
                    sent = True
                    return {"type": "http.request", "body": body, "more_body": False}
                await asyncio.Event().wait()  # no disconnect while the response is pending
                raise AssertionError("unreachable")

            async def send(message: dict[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    statuses[message["status"]] = statuses.get(message["status"], 0) + 1

            await app(scope, receive, send)

        async def drive(indices: list[int]) -> None:
            queue = list(reversed(indices))

            async def worker() -> None:
                while queue:
                    await call(queue.pop())

            await asyncio.gather(*(worker() for _ in range(concurrency)))

        await drive(list(range(2 if route.startswith("batch") else 200)))  # warm-up
        statuses.clear()
        profiler = cProfile.Profile() if profile else None
        groups, units = ctx.writes.groups, ctx.writes.units
        started, cpu = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        await drive(list(range(200, 200 + requests)))
        if profiler:
            profiler.disable()
            profiler.dump_stats(str(profile))
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        groups, units = ctx.writes.groups - groups, ctx.writes.units - units
    return {
        "route": route,
        "requests": requests,
        "concurrency": concurrency,
        "requests_per_s": round(requests / wall),
        "cpu_ms_per_request": round(1000 * cpu / requests, 3),
        "statuses": statuses,
        "write_groups": groups,
        "units_per_group": round(units / groups, 1) if groups else None,
        "profiled": profile is not None,
    }


_BATCH = 1000
_PARENTS = 20_000_000


def _item(youth: int, route: str) -> dict[str, Any]:
    """A registration of ``youth``; on the ``-parents`` routes with two parents of its own
    (no family match)."""
    item: dict[str, Any] = {"bsn": bsn_of(youth), "birth_date": "2012-05-01"}
    if route.endswith("-parents"):
        item["parents"] = [{"bsn": bsn_of(_PARENTS + 2 * youth + j)} for j in (0, 1)]
    return item


async def _request(app: Any, method: str, path: str, body: str, who: dict[str, str]) -> bytes:
    """One request through httpx's ASGI transport (set-up, not measured)."""
    import httpx

    headers = {
        "authorization": f"Bearer {who['key']}",
        "x-professional-id": who["professional"],
        "content-type": "application/json",
    }
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
        response = await client.request(method, path, content=body, headers=headers)
        response.raise_for_status()
        return response.content


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=4000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--profile", type=Path, help="write a cProfile of the measured run here")
    parser.add_argument(
        "--route",
        choices=[
            "register",
            "register-parents",
            "match-read",
            "registration-read",
            "batch",
            "batch-parents",
        ],
        default="register",
        help="POST /v1/registrations (~10%% make a match; register-parents: each naming two "
        "parents of its own), GET /v1/matches/{id} over 500 "
        "matches, GET /v1/registrations/{id} over 500 registrations (each in a match), or "
        "POST /v1/registrations:batch of 1,000 new youths (a request is a batch; batch-parents: "
        "each naming two parents of its own)",
    )
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgresql"],
        default="sqlite",
        help="a fresh SQLite database, or a fresh PostgreSQL database through BENCH_PG_DSN",
    )
    parser.add_argument(
        "--log-level",
        default="info",
        help="as served (info: one request line per registration on stderr; redirect it)",
    )
    args = parser.parse_args()
    configure_logging(level=args.log_level)
    result = asyncio.run(
        run(args.requests, args.concurrency, args.profile, args.route, args.backend)
    )
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()

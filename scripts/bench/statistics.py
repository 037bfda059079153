"""Benchmark of the statistics (ADR 0017) and of the metrics middleware.

``statistics``: a fresh database with ``--count`` registrations spread over the past year
(the loader, ``load_registrations``), then the first rollup (counting the whole year), the
query of a year of the municipality (``StatisticsService.figures``, several times), and a
steady rollup (the minutes since). ``middleware``: the per-request cost of the request
middleware with and without the metrics instruments, on a trivial ASGI app.

    python -m scripts.bench.statistics statistics --backend sqlite --count 1000000
    python -m scripts.bench.statistics statistics --backend postgresql --quick
    python -m scripts.bench.statistics middleware
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics as stats
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

QUICK_COUNT = 10_000


def _months_back(now: datetime, n: int) -> str:
    month = now.replace(day=1)
    for _ in range(n):
        month = (month - timedelta(days=1)).replace(day=1)
    return f"{month.year:04d}-{month.month:02d}"


async def _measure(url: str, data_dir: Path, repeats: int) -> dict[str, Any]:
    from verwijsindex.clock import SystemClock
    from verwijsindex.context import build_context
    from verwijsindex.settings import Settings

    settings = Settings(database_url=url, data_dir=data_dir, statistics_rollup_lag_seconds=0)
    ctx = build_context(settings, clock=SystemClock())
    try:
        if ctx.database.dialect == "postgresql":
            async with ctx.database.transaction() as session:
                from sqlalchemy import text

                await session.execute(text("ANALYZE"))
        started = time.perf_counter()
        first = await ctx.statistics.roll_up()
        backfill = time.perf_counter() - started
        now = datetime.now(UTC)
        first_month, last_month = _months_back(now, 12), _months_back(now, 1)
        times = []
        cells = 0
        for _ in range(repeats):
            started = time.perf_counter()
            figures = await ctx.statistics.figures(
                municipality="0363", first=first_month, last=last_month
            )
            times.append(time.perf_counter() - started)
            cells = sum(len(m) for s in figures.cells.values() for m in s.values())
        started = time.perf_counter()
        await ctx.statistics.roll_up()
        steady = time.perf_counter() - started
        return {
            "first_rollup_s": round(backfill, 3),
            "first_rollup_windows": first.windows,
            "query_months": f"{first_month}..{last_month}",
            "query_cells": cells,
            "query_s_median": round(stats.median(times), 4),
            "query_s_max": round(max(times), 4),
            "steady_rollup_s": round(steady, 4),
        }
    finally:
        await ctx.database.dispose()


def bench_statistics(backend: str, count: int, repeats: int) -> dict[str, Any]:
    from scripts.bench.databases import create_database, drop_database
    from scripts.bench.load_registrations import load

    workdir = Path(tempfile.mkdtemp(prefix="vi-bench-statistics-"))
    db = create_database(backend, workdir, "statistics")
    try:
        loaded = load(database_url=db.url, data_dir=db.data_dir, count=count, access_log=False)
        result = asyncio.run(_measure(db.url, db.data_dir, repeats))
        return {"backend": backend, "registrations": count, "load": loaded, **result}
    finally:
        drop_database(db)


def bench_middleware(requests: int) -> dict[str, Any]:
    """Per-request time of the request middleware around an app that answers at once, with
    the metrics off and on (the difference is what metrics cost a request)."""
    from verwijsindex.http.middleware import RequestContextMiddleware
    from verwijsindex.metrics import process_metrics

    class _Route:
        path = "/v1/registrations/{registration_id}"

    async def app(scope: Any, receive: Any, send: Any) -> None:
        scope["route"] = _Route()
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(_message: Any) -> None:
        return None

    def scope() -> dict[str, Any]:
        return {
            "type": "http",
            "method": "GET",
            "path": "/v1/registrations/0190-abc",
            "raw_path": b"/v1/registrations/0190-abc",
            "query_string": b"",
            "headers": [(b"host", b"bench")],
        }

    async def run(middleware: Any) -> float:
        for _ in range(1000):  # warm up
            await middleware(scope(), receive, send)
        started = time.perf_counter()
        for _ in range(requests):
            await middleware(scope(), receive, send)
        return (time.perf_counter() - started) / requests

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(40))  # warnings+
    off = RequestContextMiddleware(app, max_body_bytes=65536, max_batch_body_bytes=65536)
    on = RequestContextMiddleware(
        app, max_body_bytes=65536, max_batch_body_bytes=65536, metrics=process_metrics()
    )
    rounds: dict[str, list[float]] = {"off": [], "on": []}
    for _ in range(5):  # alternating rounds
        rounds["off"].append(asyncio.run(run(off)))
        rounds["on"].append(asyncio.run(run(on)))
    metrics = process_metrics()
    started = time.perf_counter()
    for _ in range(requests):
        metrics.observe_request("/v1/registrations", "POST", 201, 0.004)
    observe = (time.perf_counter() - started) / requests
    off_us, on_us = (stats.median(rounds[k]) * 1e6 for k in ("off", "on"))
    return {
        "requests_per_round": requests,
        "middleware_off_us": round(off_us, 2),
        "middleware_on_us": round(on_us, 2),
        "metrics_cost_us": round(on_us - off_us, 2),
        "observe_request_us": round(observe * 1e6, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="what", required=True)
    s = sub.add_parser("statistics")
    s.add_argument("--backend", choices=["sqlite", "postgresql"], default="sqlite")
    s.add_argument("--count", type=int, default=1_000_000)
    s.add_argument("--repeats", type=int, default=5)
    s.add_argument("--quick", action="store_true", help=f"{QUICK_COUNT} registrations")
    m = sub.add_parser("middleware")
    m.add_argument("--requests", type=int, default=20_000)
    args = parser.parse_args()
    if args.what == "statistics":
        count = QUICK_COUNT if args.quick else args.count
        result = bench_statistics(args.backend, count, args.repeats)
    else:
        result = bench_middleware(args.requests)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

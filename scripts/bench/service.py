"""Service runs: ``verwijsindex serve`` on a fresh database, registrations through HTTP at each
client level (wrk), match reads, the bulk endpoint and the CSV import, then the match check;
and the match → webhook figures of ``scripts/bench_webhooks.py``."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from scripts.bench.common import (
    BIRTH_DATE,
    LARGE_WARMUP_S,
    MATCH_READ_CLIENTS,
    ROOT,
    TARGET_CLIENTS,
    Options,
    log,
)
from scripts.bench.databases import (
    bench_match_ids,
    check_matches,
    create_database,
    database_size,
    drop_database,
)
from scripts.bench.processes import ServerProcess, Wrk, start_service, write_lua_data
from scripts.bench.profiling import profile_service


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
        # The same 32 clients, the same database and run, each registration naming two
        # parents (ADR 0016 holds it within 10 % of a registration without).
        offset = str(wrk.next_offset())
        r = wrk.run(url, "register.lua", [str(data), offset, "parents"], TARGET_CLIENTS)
        point["register_parents"] = r
        log(
            f"{label}: register with two parents c={TARGET_CLIENTS}: {r['rps']:.0f}/s "
            f"p50 {r['p50_ms']:.1f} ms p99 {r['p99_ms']:.1f} ms non-2xx {r['non_2xx']}"
        )
        # And without parents once more: the run with parents meets a database grown by the
        # run before it, so it is compared with the mean of the runs on either side of it.
        r = wrk.run(url, "register.lua", [str(data), str(wrk.next_offset())], TARGET_CLIENTS)
        point["register_plain_after"] = r
        log(f"{label}: register again without parents c={TARGET_CLIENTS}: {r['rps']:.0f}/s")
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
            point["bulk_parents"] = bulk_point(url, db.people, total, parents=True)
            log(f"{label}: bulk with two parents {point['bulk_parents']['rows_per_s']:,}/s")
            log(f"{label}: CSV import of {total:,} registrations (import-registrations)")
            point["csv_import"] = csv_import_point(url, db.people, total, opts.workdir)
            log(f"{label}: CSV import {point['csv_import']['rows_per_s']:,}/s")
            from scripts.bench.blind import blind_point

            point["blind"] = blind_point(opts, backend, total, point["csv_import"])
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


def _bsns(count: int, start: int = 60_000_000) -> list[str]:
    """``count`` valid BSNs from the bulk benchmark's own range (disjoint from wrk's; with
    parents, the youths from 70,000,000 and their parents from 90,000,000)."""
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
    url: str, people: dict[str, Any], total: int, concurrency: int = 2, *, parents: bool = False
) -> dict[str, Any]:
    """End-to-end registrations/s through ``POST /v1/registrations:batch`` (1,000 per
    request, ``concurrency`` requests in flight), fresh youths; with ``parents``, each
    naming two parents of its own."""
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    who = people["a"][0]
    headers = {"Authorization": f"Bearer {who['key']}", "X-Professional-Id": who["professional"]}
    youths = _bsns(total + 1, 70_000_000 if parents else 60_000_000)
    items: list[dict[str, Any]] = [{"bsn": b, "birth_date": BIRTH_DATE} for b in youths]
    if parents:
        pairs = _bsns(2 * len(youths), 90_000_000)
        for n, item in enumerate(items):
            item["parents"] = [{"bsn": pairs[2 * n]}, {"bsn": pairs[2 * n + 1]}]
    batches = [{"items": items[s : s + 1000]} for s in range(1, total + 1, 1000)]
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

        send(json.dumps({"items": items[:1]}).encode())
        started = time.perf_counter()
        with ThreadPoolExecutor(concurrency) as pool:
            created = sum(pool.map(send, bodies))
        seconds = time.perf_counter() - started
    latencies.sort()
    return {
        "parents": 2 if parents else 0,
        "registrations": created,
        "requests": len(bodies),
        "concurrency": concurrency,
        "seconds": round(seconds, 3),
        "rows_per_s": round(created / seconds),
        "batch_p50_ms": round(latencies[len(latencies) // 2] * 1000, 1),
    }


def csv_import_point(
    url: str,
    people: dict[str, Any],
    total: int,
    workdir: Path,
    keyservice: tuple[str, str] | None = None,
) -> dict[str, Any]:
    """End-to-end registrations/s of ``verwijsindex import-registrations`` as an organisation
    runs it: a CSV file of ``total`` fresh youths, sent in batches of 1,000 one after another,
    timed from the command's start to its exit (interpreter start and the file's line count
    included). With ``keyservice`` (URL, the organisation's key-service API key) the import
    takes the blind path."""
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
    if keyservice is not None:
        argv += ["--keyservice-url", keyservice[0]]
        env["VERWIJSINDEX_CLIENT_KEYSERVICE_API_KEY"] = keyservice[1]
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

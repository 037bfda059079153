"""Scale: the service on databases of growing size (each backend at each ``--scale`` point:
empty, then preloaded by the fast loader) and scale-out across API worker processes on
PostgreSQL (``serve --workers W --no-webhook-worker`` and one ``notifier run``)."""

from __future__ import annotations

import subprocess
from typing import Any

from scripts.bench.common import Options, log
from scripts.bench.databases import check_matches, create_database, drop_database
from scripts.bench.processes import (
    ServerProcess,
    Wrk,
    read_status,
    start_notifier,
    start_service,
    stop_process,
    worker_pids,
    write_lua_data,
)
from scripts.bench.report import save
from scripts.bench.service import service_point


def run_scale_points(opts: Options, wrk: Wrk, results: dict[str, Any]) -> None:
    """``points`` of ``results``: a service run per backend and scale point."""
    for backend in opts.backends:
        for preload in opts.scale:
            service_point(opts, wrk, backend, preload, results)
            save(opts, results)


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
        point["rss_bytes"] = sum(read_status(pid).get("VmRSS", 0) for pid in pids)
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

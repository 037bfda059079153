"""The benchmark suite: ceilings, registration throughput and latency, scale and scale-out,
and the portal's page latency at 8 signed-in sessions.

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
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from scripts.bench.ceilings import run_ceilings
from scripts.bench.common import BIRTH_DATE, MATCH_READ_CLIENTS, TARGET_CLIENTS, Options, log
from scripts.bench.machine import machine_info
from scripts.bench.portal import run_portal
from scripts.bench.processes import Wrk
from scripts.bench.report import save
from scripts.bench.scale import run_scale_points, run_scaleout
from scripts.bench.service import run_webhooks


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
        results["portal"] = [
            run_portal(backend, opts.workdir, opts.out / "logs", opts.duration)
            for backend in opts.backends
        ]
        save(opts, results)
    if opts.scaleout:
        run_scaleout(opts, wrk, results)
    return results


def run_single_process(opts: Options, wrk: Wrk, results: dict[str, Any]) -> None:
    """Ceilings, then the single-process service runs and scale points per backend."""
    run_ceilings(opts, wrk, results)
    run_scale_points(opts, wrk, results)


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

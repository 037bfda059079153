"""Server CPU per bulk item: the suite's bulk point, repeated on one service, with the
service's CPU time read around each run (and optionally a py-spy profile of the measured runs).

Run from a checkout's root with that checkout's interpreter, so that the suite's own seeding
(organisations, professionals, keys and, where the suite seeds one, a bulk-import grant),
service start and BSN recipe are used:

    .venv/bin/python /path/to/2026-12-06-bulk-cpu.py --backend sqlite --runs 4 --out x.json
        [--profile x.txt --py-spy /path/to/py-spy]

Each run sends 20,000 fresh youths through ``POST /v1/registrations:batch`` (1,000 per
request, 2 in flight), as the suite's ``--quick`` bulk point does, after one warm-up run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path.cwd()))

try:  # the suite split into modules
    from scripts.bench.common import BIRTH_DATE
    from scripts.bench.databases import create_database, drop_database
    from scripts.bench.processes import start_service
    from scripts.bench.service import _bsns
except ImportError:  # the suite in one module
    from scripts.bench.run import (  # type: ignore[no-redef]
        BIRTH_DATE,
        _bsns,
        create_database,
        drop_database,
        start_service,
    )

PER_RUN = 20_000


def send_all(url: str, who: dict[str, Any], start: int) -> dict[str, Any]:
    headers = {
        "Authorization": f"Bearer {who['key']}",
        "X-Professional-Id": who["professional"],
        "Content-Type": "application/json",
    }
    youths = _bsns(PER_RUN, start=start)
    bodies = [
        json.dumps(
            {"items": [{"bsn": b, "birth_date": BIRTH_DATE} for b in youths[s : s + 1000]]}
        ).encode()
        for s in range(0, PER_RUN, 1000)
    ]
    with httpx.Client(base_url=url, timeout=300) as client:

        def send(body: bytes) -> int:
            r = client.post("/v1/registrations:batch", content=body, headers=headers)
            r.raise_for_status()
            return int(r.json()["created"])

        started = time.perf_counter()
        with ThreadPoolExecutor(2) as pool:
            created = sum(pool.map(send, bodies))
        seconds = time.perf_counter() - started
    return {"created": created, "seconds": round(seconds, 3)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backend", default="sqlite")
    parser.add_argument("--runs", type=int, default=4)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--profile", type=Path)
    parser.add_argument("--py-spy", default="py-spy")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="vi-bulk-cpu-"))
    db = create_database(args.backend, workdir, f"{args.backend}-bulk")
    server = None
    result: dict[str, Any] = {"backend": args.backend, "items_per_run": PER_RUN, "runs": []}
    try:
        server = start_service(db.url, db.data_dir, workdir / "logs", "service-bulk")
        who = db.people["a"][0]
        send_all(server.base_url, who, start=50_000_000)  # warm-up
        spy = None
        if args.profile:
            spy = subprocess.Popen(  # noqa: S603 (py-spy, arguments of this script)
                [args.py_spy, "record", "--pid", str(server.process.pid), "--rate", "250",
                 "--format", "raw", "--output", str(args.profile), "--nonblocking",
                 "--duration", "600"],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )  # fmt: skip
            time.sleep(1)
        for i in range(args.runs):
            cpu = server.cpu_seconds()
            run = send_all(server.base_url, who, start=60_000_000 + i * 1_000_000)
            cpu = server.cpu_seconds() - cpu
            run["rows_per_s"] = round(run["created"] / run["seconds"])
            run["server_cpu_us_per_item"] = round(cpu * 1e6 / run["created"], 1)
            run["profiled"] = spy is not None
            result["runs"].append(run)
            print(json.dumps(run), flush=True)
        if spy is not None:
            spy.send_signal(signal.SIGINT)
            spy.wait(timeout=60)
    finally:
        if server is not None:
            server.stop()
        drop_database(db)
        shutil.rmtree(workdir, ignore_errors=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()

"""A database loaded once and measured many times: compare versions or settings on the same
data without loading 10^7 registrations for each (the suite loads a fresh one per run).

    python -m scripts.bench.kept load --label big --count 1e7      # once (~30 min at 10^7)
    python -m scripts.bench.kept run --label big --tag A            # 15 s warm-up, 60 s

``run`` starts ``verwijsindex serve`` of this checkout (settings from the environment, e.g.
``VERWIJSINDEX_SQLITE_CHECKPOINT_INTERVAL_S``) on the
kept database, registers fresh youths at 32 clients with wrk and prints requests/s, p50, p99,
max, the server's CPU per request and its resident memory; the service log is under
``WORKDIR/logs``. Each run takes BSNs of its own (a per-label counter): the loaded youths come
from index 30,000,000 on (``load_registrations``), so ``--first`` sets where a label's runs
start (default 41,000,000 for an empty database, 25,600,000 otherwise; the sequence ends at
45,000,000).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from scripts.bench.common import RUN_STRIDE
from scripts.bench.databases import create_database
from scripts.bench.load_registrations import add_access_log_option, load
from scripts.bench.processes import Wrk, start_service, write_lua_data


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("action", choices=["load", "run"])
    parser.add_argument("--label", required=True)
    parser.add_argument("--workdir", type=Path, default=Path("bench-kept"))
    parser.add_argument("--count", type=float, default=0)
    parser.add_argument("--tag", default="run")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--first", type=int, help="first BSN index of this label's runs")
    add_access_log_option(parser)
    args = parser.parse_args()
    work = args.workdir.resolve()
    meta_path = work / f"{args.label}.json"
    if args.action == "load":
        work.mkdir(parents=True, exist_ok=True)
        db = create_database("sqlite", work, args.label)
        count = int(args.count)
        info = (
            load(database_url=db.url, data_dir=db.data_dir, count=count, access_log=args.access_log)
            if count
            else {}
        )
        meta = {"url": db.url, "data_dir": str(db.data_dir), "people": db.people, "loaded": count}
        meta_path.write_text(json.dumps(meta))
        print(json.dumps(info))
        return
    meta = json.loads(meta_path.read_text())
    counter = work / f"{args.label}.offset"
    default_first = 25_600_000 if meta["loaded"] else 41_000_000
    first = args.first if args.first is not None else default_first
    runs = int(counter.read_text()) if counter.exists() else first // RUN_STRIDE - 1
    counter.write_text(str(runs + 2))
    server = start_service(
        meta["url"], Path(meta["data_dir"]), work / "logs", f"{args.label}-{args.tag}"
    )
    wrk = Wrk(args.seconds)
    wrk.runs = runs
    data = write_lua_data(work / f"{args.label}.lua", meta["people"])
    try:
        offset = str(wrk.next_offset())
        warm = wrk.run(server.base_url, "register.lua", [str(data), offset], 32, 15)
        print(args.tag, "warm-up", warm["rps"], "p99", warm["p99_ms"], flush=True)
        cpu = server.cpu_seconds()
        r = wrk.run(server.base_url, "register.lua", [str(data), str(wrk.next_offset())], 32)
        cpu = server.cpu_seconds() - cpu
        per_request = round(cpu * 1000 / r["requests"], 3) if r["requests"] else None
        rss = server.memory().get("VmRSS")
        print(
            f"{args.tag}: {r['rps']}/s p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms max "
            f"{r['max_ms']} ms non-2xx {r['non_2xx']} CPU {per_request} ms/request RSS {rss}",
            flush=True,
        )
    finally:
        server.stop()


if __name__ == "__main__":
    main()

"""Registration without, with two parents and again without at 32 clients through HTTP, for
two or more checkouts of the code in turn (each on a fresh database; the service started with
the checkout first on PYTHONPATH): req/s, the service's and PostgreSQL's CPU per request, and
the ratio as the suite holds it.

    .venv/bin/python docs/benchmarks/2026-12-07-round6/checkouts-ab.py postgresql 3 10 20 \
        /path/to/before,/path/to/after
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))
from scripts.bench.databases import create_database, drop_database
from scripts.bench.processes import Wrk, postgres_cpu, start_service, write_lua_data

backend, rounds, seconds, warm = (
    sys.argv[1],
    int(sys.argv[2]),
    float(sys.argv[3]),
    float(sys.argv[4]),
)
trees = sys.argv[5].split(",")
work = Path(tempfile.mkdtemp(prefix="http-ab-"))
logs = work / "logs"
logs.mkdir()
for number in range(rounds):
    for tree in trees:
        tag = f"r{number}{Path(tree).name}"
        db = create_database(backend, work, tag)
        service = start_service(db.url, db.data_dir, logs, tag, extra_env={"PYTHONPATH": tree})
        try:
            data = write_lua_data(work / f"{tag}.lua", db.people)
            wrk = Wrk(seconds)
            wrk.run(service.base_url, "register.lua", [str(data), str(wrk.next_offset())], 32, warm)
            out = {"round": number, "tree": tree}
            for kind in ("plain", "parents", "plain_after"):
                args = [str(data), str(wrk.next_offset())] + (
                    ["parents"] if kind == "parents" else []
                )
                app, pg = service.cpu_seconds(), postgres_cpu()
                r = wrk.run(service.base_url, "register.lua", args, 32)
                out[kind] = r["rps"]
                out[f"{kind}_app"] = round((service.cpu_seconds() - app) / r["requests"] * 1e3, 3)
                out[f"{kind}_pg"] = round((postgres_cpu() - pg) / r["requests"] * 1e3, 3)
            out["ratio"] = round(out["parents"] / ((out["plain"] + out["plain_after"]) / 2), 3)
            print(json.dumps(out), flush=True)
        finally:
            service.stop()
            drop_database(db)

"""Registration without and with two parents at 32 clients on a fresh database, with the
service's young-table analyser off (``0``) and on (``10``), each mode on its own database:
req/s, the service's and PostgreSQL's CPU per request, and the ratio of the run with parents
to the mean of the runs before and after it (as the suite holds it).

    .venv/bin/python docs/benchmarks/2026-12-07-round5/parents-analyser-ab.py postgresql 3 10 0,10
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from scripts.bench.databases import create_database, drop_database
from scripts.bench.processes import Wrk, postgres_cpu, start_service, write_lua_data


def main(backend: str, rounds: int, seconds: float, modes: list[str]) -> None:
    work = Path(tempfile.mkdtemp(prefix="parents-ab-"))
    logs = work / "logs"
    logs.mkdir()
    for number in range(rounds):
        for mode in modes:
            db = create_database(backend, work, f"p{number}m{mode}")
            env = {"VERWIJSINDEX_POSTGRES_ANALYSE_INTERVAL_S": mode}
            service = start_service(db.url, db.data_dir, logs, f"p{number}m{mode}", extra_env=env)
            try:
                data = write_lua_data(work / f"p{number}m{mode}.lua", db.people)
                wrk = Wrk(seconds)
                warm = [str(data), str(wrk.next_offset())]
                wrk.run(service.base_url, "register.lua", warm, 32, 5)
                out: dict[str, object] = {"round": number, "analyse_interval_s": mode}
                for kind in ("plain", "parents", "plain_after"):
                    args = [str(data), str(wrk.next_offset())]
                    if kind == "parents":
                        args.append("parents")
                    app, pg = service.cpu_seconds(), postgres_cpu()
                    r = wrk.run(service.base_url, "register.lua", args, 32)
                    out[kind] = r["rps"]
                    out[f"{kind}_app_ms"] = round(
                        (service.cpu_seconds() - app) / r["requests"] * 1e3, 3
                    )
                    out[f"{kind}_pg_ms"] = round((postgres_cpu() - pg) / r["requests"] * 1e3, 3)
                mean = (float(out["plain"]) + float(out["plain_after"])) / 2  # type: ignore[arg-type]
                out["ratio"] = round(float(out["parents"]) / mean, 3)  # type: ignore[arg-type]
                print(json.dumps(out), flush=True)
            finally:
                service.stop()
                drop_database(db)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4].split(","))

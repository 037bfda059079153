"""Where the blind path's time goes: the direct CSV import and the blind one of the same
number of fresh youths, each on a fresh database, with the CPU seconds of the index, the key
service and the command (``import-registrations``) beside the wall time.

    .venv/bin/python docs/benchmarks/2026-12-07-round5/blind-cpu.py sqlite 20000 2
"""

from __future__ import annotations

import json
import resource
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

from scripts.bench.databases import create_database, drop_database
from scripts.bench.processes import (
    keyservice_caller,
    start_keyservice,
    start_service,
)
from scripts.bench.service import csv_import_point


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def direct(backend: str, total: int, work: Path, label: str) -> dict[str, Any]:
    db = create_database(backend, work, label)
    service = start_service(db.url, db.data_dir, work / "logs", label)
    try:
        index, command = service.cpu_seconds(), children_cpu()
        result = csv_import_point(service.base_url, db.people, total, work)
        result["index_cpu_s"] = round(service.cpu_seconds() - index, 2)
        result["command_cpu_s"] = round(children_cpu() - command, 2)
        return result
    finally:
        service.stop()
        drop_database(db)


def blind(backend: str, total: int, work: Path, label: str) -> dict[str, Any]:
    db = create_database(backend, work, label)
    keys_dir = work / f"{label}-keyservice"
    keyservice = start_keyservice(keys_dir, work / "logs", f"{label}-keyservice")
    env = {
        "VERWIJSINDEX_KEYSERVICE_URL": keyservice.base_url,
        "VERWIJSINDEX_KEYSERVICE_API_KEY": keyservice_caller(keys_dir, "index"),
    }
    organisation_key = keyservice_caller(keys_dir, "organisation-a")
    service = start_service(db.url, db.data_dir, work / "logs", label, extra_env=env)
    try:
        index, keys, command = service.cpu_seconds(), keyservice.cpu_seconds(), children_cpu()
        result = csv_import_point(
            service.base_url,
            db.people,
            total,
            work,
            keyservice=(keyservice.base_url, organisation_key),
        )
        result["index_cpu_s"] = round(service.cpu_seconds() - index, 2)
        result["keyservice_cpu_s"] = round(keyservice.cpu_seconds() - keys, 2)
        result["command_cpu_s"] = round(children_cpu() - command, 2)
        return result
    finally:
        service.stop()
        keyservice.stop()
        drop_database(db)


def main(backend: str, total: int, rounds: int) -> None:
    work = Path(tempfile.mkdtemp(prefix="blind-cpu-"))
    (work / "logs").mkdir()
    for number in range(rounds):
        d = direct(backend, total, work, f"d{number}")
        b = blind(backend, total, work, f"b{number}")
        ratio = round(b["rows_per_s"] / d["rows_per_s"], 3)
        print(json.dumps({"direct": d, "blind": b, "ratio": ratio}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))

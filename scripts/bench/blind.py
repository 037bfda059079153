"""The blind path against the direct path, in the same run: a key service in its own process,
an index on a fresh database that uses it, and the CSV import of the same number of fresh
youths through the blind path (the organisation's command blinds, the key service evaluates,
the index receives subject tokens). Compared with the direct path's CSV import of the same
service point (``csv_import``), which the issue's target (≥ 50 %) is about."""

from __future__ import annotations

from typing import Any

from scripts.bench.common import Options, log
from scripts.bench.databases import check_matches, create_database, drop_database
from scripts.bench.processes import (
    ServerProcess,
    keyservice_caller,
    start_keyservice,
    start_service,
)
from scripts.bench.service import csv_import_point


def blind_point(
    opts: Options, backend: str, total: int, direct: dict[str, Any] | None
) -> dict[str, Any]:
    label = f"{backend}-blind"
    db = create_database(backend, opts.workdir, label)
    ks_dir = opts.workdir / f"{label}-keyservice"
    logs = opts.out / "logs"
    keyservice: ServerProcess | None = None
    index: ServerProcess | None = None
    point: dict[str, Any] = {"backend": backend}
    try:
        keyservice = start_keyservice(ks_dir, logs, f"keyservice-{label}")
        index_key = keyservice_caller(ks_dir, "index")
        org_key = keyservice_caller(ks_dir, "organisation-a")
        index = start_service(
            db.url,
            db.data_dir,
            logs,
            f"service-{label}",
            extra_env={
                "VERWIJSINDEX_KEYSERVICE_URL": keyservice.base_url,
                "VERWIJSINDEX_KEYSERVICE_API_KEY": index_key,
            },
        )
        log(f"{label}: CSV import of {total:,} registrations through the blind path")
        cpu_before = keyservice.cpu_seconds()
        result = csv_import_point(
            index.base_url,
            db.people,
            total,
            opts.workdir,
            keyservice=(keyservice.base_url, org_key),
        )
        result["keyservice_cpu_s"] = round(keyservice.cpu_seconds() - cpu_before, 2)
        point["csv_import"] = result
        if direct:
            point["direct_rows_per_s"] = direct["rows_per_s"]
            point["ratio"] = round(result["rows_per_s"] / direct["rows_per_s"], 2)
        log(
            f"{label}: blind CSV import {result['rows_per_s']:,}/s"
            + (f", {point['ratio']:.0%} of the direct path" if direct else "")
        )
        index.stop()
        index = None
        point["check"] = check_matches(db)
    finally:
        for process in (index, keyservice):
            if process is not None:
                process.stop()
        drop_database(db)
    return point

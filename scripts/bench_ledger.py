#!/usr/bin/env python3
"""Benchmarks of the consent ledger (figures recorded in docs/benchmarks.md).

1. appends/s: consent events recorded through ConsentService (event row + ledger leaf,
   one transaction each, as the API does) on SQLite, and on PostgreSQL with --pg-url;
2. proof generation at N leaves (default 10^6): root, inclusion and consistency proofs
   read from the ledger_entries table, with a cold and a warm subtree cache;
3. full verification of N entries by scripts/verify_ledger.py: leaf hashes recomputed
   from the records, commitments opened, business rules folded, root replayed.

Usage: .venv/bin/python scripts/bench_ledger.py [--leaves 1000000] [--appends 2000]
       [--pg-url postgresql+asyncpg://postgres@127.0.0.1:5432/<an empty database>]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import importlib.util
import json
import os
import sqlite3
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from consent import (
    ConsentService,
    DataCategory,
    Direction,
    EventKind,
    GrantorRole,
    Ledger,
    Method,
    Purpose,
    canonical_json,
    commitment,
)
from crypto import leaf_hash, verify_consistency, verify_inclusion
from verwijsindex.logging import configure_logging
from verwijsindex.settings import Settings
from verwijsindex.storage import create_database
from verwijsindex.storage.migrate import upgrade

HERE = Path(__file__).resolve().parent
T0 = datetime(2026, 1, 5, 9, 0, tzinfo=UTC)


def _ledger() -> Ledger:
    return Ledger(origin="bench.example/consent-ledger", signing_key=Ed25519PrivateKey.generate())


async def bench_appends(url: str, data_dir: Path, n: int) -> float:
    settings = Settings(data_dir=data_dir, database_url=url, run_sweeper=False)
    database = create_database(settings)
    await upgrade(database)
    service = ConsentService(ledger=_ledger())
    start = time.perf_counter()
    for i in range(n):
        async with database.transaction() as session:
            await service.record_event(
                session,
                match_id=f"m{i % 100}",
                participants={"org-a", "org-b"},
                organisation_id="org-a",
                professional_id="pro-1",
                counterpart_organisation_id="org-b",
                kind=EventKind.GIVEN,
                grantor=GrantorRole.YOUTH,
                purpose=Purpose.CARE_COORDINATION,
                data_categories=[DataCategory.CARE],
                direction=Direction.OUTGOING,
                subject_birth_date=date(2008, 1, 1),
                method=Method.WRITTEN,
                now=T0 + timedelta(seconds=i),
            )
    elapsed = time.perf_counter() - start
    await database.dispose()
    return n / elapsed


async def bench_proofs(data_dir: Path, n: int) -> dict[str, float]:
    path = data_dir / "proofs.db"
    url = f"sqlite+aiosqlite:///{path}"
    database = create_database(Settings(data_dir=data_dir, database_url=url))
    await upgrade(database)
    await database.dispose()
    raw = sqlite3.connect(path)
    raw.execute("PRAGMA journal_mode=WAL")
    created = T0.replace(tzinfo=None).isoformat(sep=" ")
    rows = (
        (i, leaf_hash(f"entry {i}".encode()), f'{{"bench":{i}}}', None, None, created, None)
        for i in range(n)
    )
    raw.executemany("INSERT INTO ledger_entries VALUES (?,?,?,?,?,?,?)", rows)
    raw.commit()
    raw.close()
    database = create_database(Settings(data_dir=data_dir, database_url=url))
    figures: dict[str, float] = {}
    ledger = _ledger()
    async with database.transaction() as session:
        t = time.perf_counter()
        root = await ledger.root_hash(session, n)
        figures["root, cold cache (reads every leaf once)"] = time.perf_counter() - t
        t = time.perf_counter()
        leaf, path_ = await ledger.inclusion_proof(session, index=n // 3, tree_size=n)
        figures["inclusion proof, warm cache"] = time.perf_counter() - t
        verify_inclusion(leaf_hash=leaf, index=n // 3, tree_size=n, proof=path_, root=root)
        t = time.perf_counter()
        proof = await ledger.consistency_proof(session, first=n - 12345, second=n)
        figures["consistency proof, warm cache"] = time.perf_counter() - t
        old_root = await ledger.root_hash(session, n - 12345)
        verify_consistency(
            first=n - 12345, second=n, first_root=old_root, second_root=root, proof=proof
        )
        cold = _ledger()
        t = time.perf_counter()
        await cold.inclusion_proof(session, index=n - 7, tree_size=n)
        figures["inclusion proof, cold cache (fresh process)"] = time.perf_counter() - t
        t = time.perf_counter()
        await ledger.checkpoint(session, at=T0)
        figures["first signed checkpoint (warm cache)"] = time.perf_counter() - t
    await database.dispose()
    return figures


def _load_verifier() -> Any:
    spec = importlib.util.spec_from_file_location("verify_ledger", HERE / "verify_ledger.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["verify_ledger"] = module
    spec.loader.exec_module(module)
    return module


def synthetic_entries(n: int) -> list[dict[str, Any]]:
    """Entries as /v1/audit/entries serves them: per match two grants then exchanges."""
    entries: list[dict[str, Any]] = []
    per_match = 10
    for i in range(n):
        match, slot = divmod(i, per_match)
        at = (T0 + timedelta(seconds=i)).isoformat()
        if slot < 2:
            record: dict[str, Any] = {
                "type": "consent-event",
                "id": f"ev-{match}-{slot}",
                "match_id": f"m{match}",
                "recorded_at": at,
                "organisation_id": "org-a",
                "counterpart_organisation_id": "org-b",
                "event": "given",
                "grantor": ("youth", "parent")[slot],
                "purpose": "care-coordination",
                "data_categories": ["care"],
                "direction": "outgoing",
                "age_band": "12-15",
                "method": "written",
                "valid_from": None,
                "valid_until": None,
            }
            personal: dict[str, Any] = {"recorded_by": "pro-1", "evidence_hash": None}
        else:
            record = {
                "type": "exchange",
                "id": f"ex-{i}",
                "match_id": f"m{match}",
                "created_at": at,
                "sender_organisation_id": "org-a",
                "recipient_organisation_id": "org-b",
                "purpose": "care-coordination",
                "data_category": "care",
                "basis": "consent",
                "consent_reference": sorted([f"ev-{match}-0", f"ev-{match}-1"]),
                "legal_ground": None,
                "flagged_for_review": False,
                "ciphertext_sha256": "0" * 64,
                "recipient_key_id": "key-1",
            }
            personal = {"sender_professional_id": "pro-1", "justification": None}
        salt = os.urandom(16)
        personal_json = canonical_json(personal)
        data = canonical_json({**record, "v": 1, "commitment": commitment(salt, personal_json)})
        entries.append(
            {
                "index": i,
                "leaf_hash": base64.b64encode(leaf_hash(data)).decode(),
                "data": data.decode(),
                "salt": base64.b64encode(salt).decode(),
                "personal": personal_json.decode(),
            }
        )
    return entries


def bench_verify(n: int) -> tuple[float, int]:
    verifier = _load_verifier()
    entries = synthetic_entries(n)
    start = time.perf_counter()
    report = verifier.Report()
    leaves = verifier.check_entries(entries, report)
    verifier.root_hash(leaves)
    elapsed = time.perf_counter() - start
    assert report.ok, report.violations[:3]
    return elapsed, report.exchanges


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--leaves", type=int, default=1_000_000)
    parser.add_argument("--appends", type=int, default=2000)
    parser.add_argument("--pg-url", default=None)
    args = parser.parse_args()
    configure_logging(level="warning", json=False)
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp)
        rate = asyncio.run(
            bench_appends(f"sqlite+aiosqlite:///{data_dir / 'appends.db'}", data_dir, args.appends)
        )
        out["appends/s (SQLite, one transaction per consent event)"] = round(rate, 1)
        print(f"appends/s SQLite: {rate:.1f}", flush=True)
        if args.pg_url:
            rate = asyncio.run(bench_appends(args.pg_url, data_dir, args.appends))
            out["appends/s (PostgreSQL, one transaction per consent event)"] = round(rate, 1)
            print(f"appends/s PostgreSQL: {rate:.1f}", flush=True)
        proofs = asyncio.run(bench_proofs(data_dir, args.leaves))
        for name, seconds in proofs.items():
            out[f"{name} at {args.leaves} leaves (s)"] = round(seconds, 4)
            print(f"{name} at {args.leaves} leaves: {seconds:.4f} s", flush=True)
    elapsed, exchanges = bench_verify(args.leaves)
    out[f"full verification of {args.leaves} entries (s)"] = round(elapsed, 2)
    print(
        f"full verification of {args.leaves} entries ({exchanges} exchanges): {elapsed:.2f} s",
        flush=True,
    )
    print(json.dumps(out, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())

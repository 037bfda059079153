"""What the benchmark's modules share: where things are, the suite's fixed settings, its options
and its progress log."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent.parent
PG_ADMIN_DSN = os.environ.get("BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/test")
BIRTH_DATE = "2012-05-01"
RUN_STRIDE = 400_000  # BSN indexes per wrk run (register.lua uses 200,000 per thread)
MATCH_READ_CLIENTS = 32
TARGET_CLIENTS = 32
LARGE_WARMUP_S = 15.0
"""Warm-up at a preloaded scale point: the stalls of a cold start at 10^7 lasted ~6 s."""


def log(message: str) -> None:
    print(f"[{datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


@dataclass
class Options:
    """The suite's settings, as ``run.main`` makes them from the command line."""

    mode: str
    out: Path
    duration: float
    warmup: float
    levels: list[int]
    scale: list[int]
    backends: list[str]
    sqlite_rows: int
    profile: bool
    workdir: Path
    scaleout: list[int] = field(default_factory=list)
    scaleout_levels: list[int] = field(default_factory=lambda: [TARGET_CLIENTS])
    only_scaleout: bool = False
    webhook_matches: int = 0

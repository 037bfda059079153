"""``--profile``: py-spy samples the SQLite service while wrk registers at 32 clients, and the
samples are summed per component (by the innermost frame), per phase of the work (by the
frames around it) and per function."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from scripts.bench.common import TARGET_CLIENTS, Options, log
from scripts.bench.processes import ServerProcess, Wrk


def profile_service(
    opts: Options, wrk: Wrk, server: ServerProcess, data: Path, preload: int
) -> dict[str, Any]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    if not Path(py_spy).exists():
        return {"error": "py-spy not installed (pip install py-spy)"}
    raw = opts.out / f"profile-sqlite-{preload}-c32.txt"
    seconds = max(5, round(opts.duration))
    log(f"profiling the SQLite service at {TARGET_CLIENTS} clients for {seconds} s (py-spy)")
    spy = subprocess.Popen(
        [
            py_spy,
            "record",
            "--pid",
            str(server.process.pid),
            "--duration",
            str(seconds),
            "--rate",
            "200",
            "--format",
            "raw",
            "--output",
            str(raw),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    time.sleep(1)
    run = wrk.run(
        server.base_url,
        "register.lua",
        [str(data), str(wrk.next_offset())],
        TARGET_CLIENTS,
        seconds,
    )
    _, err = spy.communicate(timeout=seconds + 60)
    if not raw.exists():
        return {"error": f"py-spy failed: {err.decode(errors='replace')[-500:]}"}
    return {"file": raw.name, "run_under_profiler": run, **summarise_profile(raw)}


# Where a sample's innermost frame is, by component (first match wins).
_WAITING = ("EpollSelector.select", "Condition.wait", "SimpleQueue.get", "Queue.get",
            "Event.wait", "Thread.join",
            # a thread's own loop as the innermost frame: blocked on its queue (the work it
            # runs shows as deeper frames)
            "_connection_worker_thread (aiosqlite", "_worker (concurrent/futures")  # fmt: skip
# uvloop runs the loop in C: a sample whose innermost Python frame is the runner is uvloop
# polling, doing socket I/O or dispatching callbacks (py-spy cannot tell those apart).
_UVLOOP = "Runner.run (asyncio/runners.py)"
_COMPONENTS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("SQLite itself (statements and commits, in C)", ("inline_sqlite.py", "aiosqlite/")),
    ("SQLAlchemy", ("sqlalchemy/",)),
    ("FastAPI, Starlette, pydantic", ("fastapi/", "starlette/", "pydantic")),
    ("uvicorn, httptools (HTTP server)", ("uvicorn/", "httptools")),
    ("logging (structlog, logging)", ("structlog/", "logging/", "verwijsindex/logging.py")),
    ("service code (verwijsindex, crypto, notifier, consent)",
     ("verwijsindex/", "crypto/", "notifier/", "consent/")),
    ("asyncio event loop", ("asyncio/",)),
)  # fmt: skip
# Which part of the work a sample belongs to (first match from the innermost frame out).
_PHASES: tuple[tuple[str, str], ...] = (
    ("aiosqlite threads (reads; BEGIN/COMMIT of other transactions)",
     "_connection_worker_thread"),
    ("worker threads (BEGIN and COMMIT of the write groups: lock wait, fsync)",
     "concurrent/futures/thread.py"),
    ("write groups (GroupCommitter: the group's statements and commit)", "GroupCommitter."),
    ("request handling (middleware, routing, dependencies, handler, response)",
     "RequestContextMiddleware."),
    ("HTTP server (parsing, connections)", "uvicorn/protocols"),
)  # fmt: skip


def _component(leaf: str) -> str:
    if leaf == _UVLOOP:
        return "uvloop (C: polling, socket I/O, callbacks)"
    if any(w in leaf for w in _WAITING):
        return "waiting (idle event loop, idle threads)"
    for name, needles in _COMPONENTS:
        if any(n in leaf for n in needles):
            return name
    return "other (standard library, C extensions)"


def _phase(frames: list[str]) -> str:
    if frames[-1] == _UVLOOP:
        return "uvloop (C: polling, socket I/O, callbacks)"
    if any(w in frames[-1] for w in _WAITING):
        return "waiting (idle event loop, idle threads)"
    for frame in reversed(frames):
        for name, needle in _PHASES:
            if needle in frame:
                return name
    # Mostly request and group code whose stack py-spy read without its outer frames
    # (--nonblocking samples a running process; the innermost frames are still right, so the
    # component table covers these samples).
    return "not attributable (partial stack)"


def summarise_profile(raw_path: Path, top: int = 25) -> dict[str, Any]:
    """From py-spy's collapsed stacks: the share of samples per component (by the innermost
    frame), per phase of the work (by the frames around it) and per function (self)."""
    own: Counter[str] = Counter()
    components: Counter[str] = Counter()
    phases: Counter[str] = Counter()
    total = 0
    for line in raw_path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [re.sub(r" \((.*?):\d+\)$", r" (\1)", f) for f in stack.split(";")]
        total += count
        own[frames[-1]] += count
        components[_component(frames[-1])] += count
        phases[_phase(frames)] += count

    def pct(c: Counter[str], n: int | None = None) -> list[list[Any]]:
        return [[name, round(100 * k / total, 1)] for name, k in c.most_common(n)]

    return {
        "samples": total,
        "components_pct": pct(components),
        "phases_pct": pct(phases),
        "self_pct": pct(own, top),
    }

"""The processes the suite starts (the service, a notifier, the ceiling servers) and the load
generator, wrk, with the Lua data files its scripts read."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from scripts.bench.common import BIRTH_DATE, HERE, ROOT, RUN_STRIDE

_TICK = os.sysconf("SC_CLK_TCK")


def postgres_cpu() -> float:
    """CPU seconds of every ``postgres`` process (the server's backends and workers)."""
    total = 0
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            if Path(f"/proc/{pid}/comm").read_text().startswith("postgres"):
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                total += int(fields[11]) + int(fields[12])
        except OSError:
            continue
    return total / _TICK


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def read_status(pid: int) -> dict[str, int]:
    out: dict[str, int] = {}
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return out
    for line in text.splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) * 1024
    return out


@dataclass
class ServerProcess:
    name: str
    base_url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @classmethod
    def start(
        cls, name: str, argv: list[str], env: dict[str, str], log_dir: Path, port: int
    ) -> ServerProcess:
        log_dir.mkdir(parents=True, exist_ok=True)
        log_path = log_dir / f"{name}.log"
        with log_path.open("wb") as log_file:
            process = subprocess.Popen(
                argv, env=env, stdout=log_file, stderr=subprocess.STDOUT, cwd=ROOT
            )
        server = cls(name, f"http://127.0.0.1:{port}", process, log_path)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited:\n{log_path.read_text()[-4000:]}")
            try:
                ready = httpx.get(server.base_url + "/readyz", timeout=1).status_code < 500
                if ready or httpx.get(server.base_url + "/healthz", timeout=1).status_code == 200:
                    return server
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        server.stop()
        raise RuntimeError(f"{name} did not become ready:\n{log_path.read_text()[-4000:]}")

    def memory(self) -> dict[str, int]:
        return read_status(self.process.pid)

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process (all its threads) so far."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return 0.0
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_keyservice(data_dir: Path, log_dir: Path, name: str) -> ServerProcess:
    """``verwijsindex keyservice serve``: its own process (and so its own core)."""
    port = free_port()
    env = {
        **os.environ,
        "VERWIJSINDEX_KEYSERVICE_DATA_DIR": str(data_dir),
        "VERWIJSINDEX_KEYSERVICE_PORT": str(port),
        "VERWIJSINDEX_KEYSERVICE_DEFAULT_RATE_PER_MINUTE": "100000000",
    }
    argv = [sys.executable, "-m", "verwijsindex.cli", "keyservice", "serve"]
    return ServerProcess.start(name, argv, env, log_dir, port)


def keyservice_caller(data_dir: Path, caller_id: str) -> str:
    """Issue a key-service API key for ``caller_id``."""
    done = subprocess.run(
        [sys.executable, "-m", "verwijsindex.cli", "keyservice", "callers", "add", caller_id],
        env={**os.environ, "VERWIJSINDEX_KEYSERVICE_DATA_DIR": str(data_dir)},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=ROOT,
    )
    return str(json.loads(done.stdout)["api_key"])


def start_ceiling(kind: str, log_dir: Path) -> ServerProcess:
    port = free_port()
    argv = [sys.executable, "-m", "scripts.bench.ceiling_apps", kind, "--port", str(port)]
    return ServerProcess.start(f"ceiling-{kind}", argv, dict(os.environ), log_dir, port)


def service_env(database_url: str, data_dir: Path, port: int) -> dict[str, str]:
    # BENCH_METRICS=1: the service measures its metrics as in production with a metrics token
    # set (ADR 0017: registration throughput with metrics on within 5 % of off)
    metrics = (
        {"VERWIJSINDEX_METRICS_TOKEN": "bench-metrics-token-0123456789"}
        if os.environ.get("BENCH_METRICS") == "1"
        else {}
    )
    return {
        **metrics,
        **os.environ,
        "VERWIJSINDEX_ENV": "development",
        "VERWIJSINDEX_DATABASE_URL": database_url,
        "VERWIJSINDEX_DATA_DIR": str(data_dir),
        "VERWIJSINDEX_PORT": str(port),
        # Throughput is measured with a handful of professionals, far above the enumeration
        # defence's per-professional limits; switch the limits off for the measurement.
        "VERWIJSINDEX_RATE_LIMIT_PROFESSIONAL_PER_MINUTE": "0",
        "VERWIJSINDEX_RATE_LIMIT_PROFESSIONAL_PER_DAY": "0",
        "VERWIJSINDEX_RATE_LIMIT_ORGANISATION_PER_MINUTE": "0",
        "VERWIJSINDEX_RATE_LIMIT_ORGANISATION_BATCH_PER_DAY": "0",
    }


def start_service(
    database_url: str,
    data_dir: Path,
    log_dir: Path,
    name: str,
    args: tuple[str, ...] = (),
    extra_env: dict[str, str] | None = None,
) -> ServerProcess:
    """``verwijsindex serve [args]``; with ``--workers N`` (N > 1) it returns once all N worker
    processes have started (one answering ``/readyz`` is not enough)."""
    port = free_port()
    env = {**service_env(database_url, data_dir, port), **(extra_env or {})}
    argv = [sys.executable, "-m", "verwijsindex.cli", "serve", *args]
    server = ServerProcess.start(name, argv, env, log_dir, port)
    workers = int(args[args.index("--workers") + 1]) if "--workers" in args else 1
    if workers > 1:
        deadline = time.monotonic() + 120
        while len(worker_pids(server.log_path)) < workers:
            if time.monotonic() > deadline or server.process.poll() is not None:
                server.stop()
                raise RuntimeError(f"{name}: not all {workers} workers started")
            time.sleep(0.1)
    return server


def worker_pids(log_path: Path) -> set[int]:
    """The processes that logged the app's ``started`` line (``serve --workers N`` logs pids)."""
    pids = set()
    for line in log_path.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"started"' in line:
            event = json.loads(line)
            if event.get("event") == "started" and "pid" in event:
                pids.add(int(event["pid"]))
    return pids


def start_notifier(
    database_url: str, data_dir: Path, log_dir: Path, name: str
) -> subprocess.Popen[bytes]:
    """A separate ``verwijsindex notifier run`` process (webhook delivery) on the database."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"{name}.log").open("wb") as log_file:
        return subprocess.Popen(
            [sys.executable, "-m", "verwijsindex.cli", "notifier", "run"],
            env=service_env(database_url, data_dir, free_port()),
            stdout=log_file,
            stderr=subprocess.STDOUT,
            cwd=ROOT,
        )


def stop_process(process: subprocess.Popen[bytes]) -> int | None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


class Wrk:
    """wrk with a Lua script; results come back as one ``BENCHJSON`` line from ``done()``."""

    def __init__(self, duration: float) -> None:
        self.duration = duration
        self.runs = 0

    def next_offset(self) -> int:
        self.runs += 1
        return self.runs * RUN_STRIDE

    def run(
        self,
        url: str,
        script: str,
        script_args: list[str],
        clients: int,
        duration: float | None = None,
    ) -> dict[str, Any]:
        threads = 1 if clients == 1 else 2
        seconds = max(1, round(duration or self.duration))
        argv = [
            "wrk",
            f"-t{threads}",
            f"-c{clients}",
            f"-d{seconds}s",
            "--timeout",
            "30s",
            "-s",
            str(HERE / script),
            url,
            "--",
            *script_args,
        ]
        done = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)
        for line in done.stdout.splitlines():
            if line.startswith("BENCHJSON "):
                raw = json.loads(line[len("BENCHJSON ") :])
                break
        else:
            raise RuntimeError(f"wrk gave no result:\n{done.stdout}\n{done.stderr}")
        secs = raw["duration_us"] / 1e6
        errors = raw["errors"]
        return {
            "clients": clients,
            "threads": threads,
            "seconds": round(secs, 2),
            "requests": raw["requests"],
            "rps": round(raw["requests"] / secs, 1) if secs else 0.0,
            "p50_ms": raw["p50_us"] / 1000,
            "p95_ms": raw["p95_us"] / 1000,
            "p99_ms": raw["p99_us"] / 1000,
            "p999_ms": raw["p999_us"] / 1000,
            "max_ms": raw["max_us"] / 1000,
            "non_2xx": errors["status"],
            "socket_errors": errors["connect"]
            + errors["read"]
            + errors["write"]
            + errors["timeout"],
        }


def write_lua_data(path: Path, data: dict[str, Any], matches: list[str] | None = None) -> Path:
    def people(items: list[dict[str, str]]) -> str:
        return ", ".join(
            f'{{key = "{p["key"]}", professional = "{p["professional"]}"}}' for p in items
        )

    ids = ", ".join(f'"{m}"' for m in (matches or []))
    path.write_text(
        "BENCH = {\n"
        f'  birth_date = "{BIRTH_DATE}",\n'
        f"  a = {{{people(data['a'])}}},\n"
        f"  b = {{{people(data['b'])}}},\n"
        f"  matches = {{{ids}}},\n"
        "}\n"
    )
    return path

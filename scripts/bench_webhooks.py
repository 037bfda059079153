#!/usr/bin/env python3
"""Benchmark webhook delivery end to end, on one machine, over loopback only.

1. Latency. Starts ``verwijsindex serve`` (a real process, SQLite in a temporary directory,
   in-process worker) and a loopback receiver that verifies every delivery's signature
   (with ``standardwebhooks`` when installed, else the project's own verifier). For each of
   ``--matches`` youths organisation A registers, then the clock starts, organisation B
   registers (which makes the match) and the clock stops when the receiver has verified the
   ``match.created`` webhook of *both* organisations. Reports median, p90, p99 and max.
2. Throughput. Builds a backlog of ``--backlog`` matches among 10 organisations, each with an
   endpoint on its own receiver, with the in-process worker off; then starts one standalone
   ``verwijsindex notifier run`` and reports verified deliveries per second from the first
   delivery to the last.

Usage::

    .venv/bin/python scripts/bench_webhooks.py --matches 1000 --backlog 1000

Only 127.0.0.1 is contacted; every loop is bounded and the script stops by itself.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx

try:
    from standardwebhooks.webhooks import Webhook

    def make_verifier(secret: str) -> Callable[[bytes, dict[str, str]], None]:
        hook = Webhook(secret)
        return lambda body, headers: hook.verify(body, headers)

    VERIFIER = "standardwebhooks"
except ImportError:  # pragma: no cover - the test extras install it
    from crypto import parse_webhook_secret, verify_webhook

    def make_verifier(secret: str) -> Callable[[bytes, dict[str, str]], None]:
        key = parse_webhook_secret(secret)
        return lambda body, headers: verify_webhook(
            secret=key, headers=headers, body=body, now=time.time()
        )

    VERIFIER = "crypto.verify_webhook"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Receiver:
    """Verifies each POST, then records (perf_counter time, path, payload) and answers 204."""

    def __init__(self) -> None:
        self.port = free_port()
        self.verifiers: dict[str, Callable[[bytes, dict[str, str]], None]] = {}
        self.seen: dict[str, float] = {}
        self.times: list[float] = []
        self.rejected = 0
        self.lock = threading.Lock()
        self.changed = threading.Condition(self.lock)
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                headers = {k.lower(): v for k, v in self.headers.items()}
                name = self.path.lstrip("/")
                try:
                    receiver.verifiers[name](body, headers)
                    ok = True
                except Exception:
                    ok = False
                now = time.perf_counter()
                with receiver.changed:
                    if ok:
                        data = json.loads(body)["data"]
                        receiver.seen.setdefault(f"{data['match_id']}/{name}", now)
                        receiver.times.append(now)
                    else:
                        receiver.rejected += 1
                    receiver.changed.notify_all()
                self.send_response(204 if ok else 401)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/{name}"

    def wait_for(self, keys: list[str], within: float = 30.0) -> float:
        """Block until every key was seen; return the latest arrival time."""
        deadline = time.monotonic() + within
        with self.changed:
            while not all(k in self.seen for k in keys):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("webhook not delivered in time")
                self.changed.wait(left)
            return max(self.seen[k] for k in keys)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class Service:
    def __init__(self, data_dir: Path, **extra_env: str) -> None:
        self.port = free_port()
        self.env = {
            **os.environ,
            "VERWIJSINDEX_DATA_DIR": str(data_dir),
            "VERWIJSINDEX_PORT": str(self.port),
            "VERWIJSINDEX_LOG_LEVEL": "warning",
            "VERWIJSINDEX_RUN_SWEEPER": "false",
            # One professional registers every youth: switch off the enumeration defence's
            # per-professional limits for the measurement.
            "VERWIJSINDEX_RATE_LIMIT_PROFESSIONAL_PER_MINUTE": "0",
            "VERWIJSINDEX_RATE_LIMIT_PROFESSIONAL_PER_DAY": "0",
            "VERWIJSINDEX_RATE_LIMIT_ORGANISATION_PER_MINUTE": "0",
            **extra_env,
        }
        self.base_url = f"http://127.0.0.1:{self.port}"
        self.log = (data_dir / f"serve-{self.port}.log").open("wb")
        self.process = self.spawn("serve")
        deadline = time.monotonic() + 60
        while True:
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("the service did not start; see " + self.log.name)
            try:
                if httpx.get(self.base_url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)

    def spawn(self, *args: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [sys.executable, "-m", "verwijsindex.cli", *args],
            env=self.env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )

    def cli(self, *args: str) -> dict[str, Any]:
        done = subprocess.run(
            [sys.executable, "-m", "verwijsindex.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=60,
            check=True,
        )
        result: dict[str, Any] = json.loads(done.stdout)
        return result

    def organisation(self, n: int) -> tuple[dict[str, str], dict[str, str]]:
        org = self.cli(
            "admin",
            "create-organisation",
            "--name",
            f"Bench {n}",
            "--sector",
            "education",
            "--municipality",
            "0363",
        )["id"]
        pro = self.cli(
            "admin",
            "create-professional",
            "--organisation",
            org,
            "--name",
            f"Bench {n}",
            "--email",
            f"bench{n}@example.org",
            "--phone",
            "+31 20 555 0000",
        )["id"]
        key = self.cli("admin", "create-api-key", "--organisation", org, "--role", "professional")
        admin = self.cli("admin", "create-api-key", "--organisation", org, "--role", "org-admin")
        return (
            {"Authorization": f"Bearer {key['key']}", "X-Professional-Id": pro},
            {"Authorization": f"Bearer {admin['key']}"},
        )

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()


def bsn(n: int) -> str:
    base = 20_000_000 + n * 7
    while True:
        digits = f"{base:08d}"
        total = sum(int(d) * w for d, w in zip(digits, (9, 8, 7, 6, 5, 4, 3, 2), strict=True))
        if total % 11 < 10:
            return digits + str(total % 11)
        base += 1


def register(client: httpx.Client, headers: dict[str, str], youth: int) -> dict[str, Any]:
    r = client.post(
        "/v1/registrations", json={"bsn": bsn(youth), "birth_date": "2012-05-01"}, headers=headers
    )
    if r.status_code != 201:
        raise RuntimeError(f"registration failed: {r.status_code} {r.text}")
    body: dict[str, Any] = r.json()
    return body


def add_endpoint(
    client: httpx.Client, admin: dict[str, str], receiver: Receiver, name: str
) -> None:
    r = client.post("/v1/webhook-endpoints", json={"url": receiver.url(name)}, headers=admin)
    if r.status_code != 201:
        raise RuntimeError(f"endpoint registration failed: {r.status_code} {r.text}")
    receiver.verifiers[name] = make_verifier(r.json()["secret"])


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))
    return ordered[index]


def bench_latency(matches: int, warmup: int) -> dict[str, Any]:
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Path(tmp))
        try:
            a, a_admin = service.organisation(1)
            b, b_admin = service.organisation(2)
            with httpx.Client(base_url=service.base_url, timeout=30) as client:
                add_endpoint(client, a_admin, receiver, "a")
                add_endpoint(client, b_admin, receiver, "b")
                latencies: list[float] = []
                responses: list[float] = []
                after_response: list[float] = []
                for youth in range(warmup + matches):
                    register(client, a, youth)
                    started = time.perf_counter()
                    match_id = register(client, b, youth)["match_id"]
                    answered = time.perf_counter()
                    arrived = receiver.wait_for([f"{match_id}/a", f"{match_id}/b"])
                    if youth >= warmup:
                        latencies.append((arrived - started) * 1000)
                        responses.append((answered - started) * 1000)
                        after_response.append((arrived - answered) * 1000)
        finally:
            service.stop()
            receiver.stop()
    return {
        "matches": matches,
        "median_ms": statistics.median(latencies),
        "p90_ms": percentile(latencies, 90),
        "p99_ms": percentile(latencies, 99),
        "max_ms": max(latencies),
        "registration_response_median_ms": statistics.median(responses),
        "registration_response_p99_ms": percentile(responses, 99),
        "response_to_verified_median_ms": statistics.median(after_response),
        "response_to_verified_p99_ms": percentile(after_response, 99),
        "load_average_1m_at_end": os.getloadavg()[0],
        "rejected": receiver.rejected,
    }


def bench_throughput(backlog: int, receivers_count: int) -> dict[str, Any]:
    receivers = [Receiver() for _ in range(receivers_count)]
    with tempfile.TemporaryDirectory() as tmp:
        service = Service(Path(tmp), VERWIJSINDEX_RUN_WEBHOOK_WORKER="false")
        worker: subprocess.Popen[bytes] | None = None
        try:
            orgs = [service.organisation(n) for n in range(receivers_count)]
            with httpx.Client(base_url=service.base_url, timeout=30) as client:
                for n, (_, admin) in enumerate(orgs):
                    add_endpoint(client, admin, receivers[n], "r")
                for youth in range(backlog):
                    first, second = youth % receivers_count, (youth + 1) % receivers_count
                    register(client, orgs[first][0], 100_000 + youth)
                    register(client, orgs[second][0], 100_000 + youth)
            expected = backlog * 2
            worker = service.spawn("notifier", "run")
            deadline = time.monotonic() + 300
            while sum(len(r.seen) for r in receivers) < expected:
                if time.monotonic() > deadline or worker.poll() is not None:
                    raise RuntimeError("the backlog was not delivered")
                time.sleep(0.05)
        finally:
            if worker is not None and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=15)
            service.stop()
            for r in receivers:
                r.stop()
    times = sorted(t for r in receivers for t in r.times)
    elapsed = times[-1] - times[0]
    return {
        "receivers": receivers_count,
        "deliveries": len(times),
        "elapsed_s": elapsed,
        "deliveries_per_s": (len(times) - 1) / elapsed,
        "load_average_1m_at_end": os.getloadavg()[0],
        "rejected": sum(r.rejected for r in receivers),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--matches", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=20)
    parser.add_argument("--backlog", type=int, default=1000, help="matches for the throughput run")
    parser.add_argument("--receivers", type=int, default=10)
    args = parser.parse_args()
    result = {
        "verifier": VERIFIER,
        "latency": bench_latency(args.matches, args.warmup),
        "throughput": bench_throughput(args.backlog, args.receivers),
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

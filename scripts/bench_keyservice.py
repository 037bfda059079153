#!/usr/bin/env python3
"""Micro-benchmark of the key service: evaluations per second on one core.

1. In process: ``OprfKey.blind_evaluate`` (the VOPRF evaluation and its batch proof) for
   batches of 1, 10, 100 and 1,000 blinded elements.
2. Over HTTP: a real ``verwijsindex keyservice serve`` process on loopback (one process, so
   one core), sent pre-blinded batches by one client, so that the figure is the service's
   (parsing, authentication, rate limit, evaluation, proof, response).

Usage::

    .venv/bin/python -m scripts.bench_keyservice [--seconds 3]

Only 127.0.0.1 is contacted; every loop is bounded by ``--seconds`` and it stops by itself.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

import crypto
from tests.e2e.conftest import free_port


def _rate(work: int, seconds: float, run: object) -> float:
    done = 0
    start = time.perf_counter()
    while time.perf_counter() - start < seconds:
        run()  # type: ignore[operator]
        done += work
    return done / (time.perf_counter() - start)


def in_process(seconds: float) -> dict[int, float]:
    key = crypto.OprfKey.derive(seed=os.urandom(32), info=b"bench")
    results = {}
    for size in (1, 10, 100, 1000):
        elements = [b.element for b in crypto.oprf_blind([os.urandom(9) for _ in range(size)])]
        results[size] = _rate(size, seconds, lambda e=elements: key.blind_evaluate(e))
    return results


def over_http(seconds: float) -> dict[int, float]:
    with tempfile.TemporaryDirectory() as data_dir:
        env = {**os.environ, "VERWIJSINDEX_KEYSERVICE_DATA_DIR": data_dir}
        port = free_port()
        caller = subprocess.run(
            [sys.executable, "-m", "verwijsindex.cli", "keyservice", "callers", "add", "bench",
             "--rate-per-minute", "100000000"],
            env=env, capture_output=True, text=True, check=True, timeout=60,
        )  # fmt: skip
        api_key = json.loads(caller.stdout)["api_key"]
        process = subprocess.Popen(
            [sys.executable, "-m", "verwijsindex.cli", "keyservice", "serve",
             "--port", str(port)],
            env={**env, "VERWIJSINDEX_KEYSERVICE_LOG_LEVEL": "warning"},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            base = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    httpx.get(base + "/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            results = {}
            headers = {"Authorization": f"Bearer {api_key}"}
            with httpx.Client(base_url=base, timeout=30) as http:
                for size in (1, 10, 100, 1000):
                    blinded = crypto.oprf_blind([os.urandom(9) for _ in range(size)])
                    body = {
                        "blinded_elements": [
                            base64.urlsafe_b64encode(b.element).rstrip(b"=").decode()
                            for b in blinded
                        ]
                    }

                    def call(body: dict[str, object] = body) -> None:
                        response = http.post("/v1/evaluate", json=body, headers=headers)
                        response.raise_for_status()

                    results[size] = _rate(size, seconds, call)
            return results
        finally:
            process.terminate()
            process.wait(timeout=15)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=3.0, help="per measurement (max 20)")
    args = parser.parse_args()
    seconds = min(args.seconds, 20.0)
    report = {
        "in_process_evaluations_per_s": {str(k): round(v) for k, v in in_process(seconds).items()},
        "http_evaluations_per_s": {str(k): round(v) for k, v in over_http(seconds).items()},
    }
    print(json.dumps(report, indent=2))
    Path("bench-results").mkdir(exist_ok=True)
    Path("bench-results/keyservice.json").write_text(json.dumps(report, indent=2) + "\n")


if __name__ == "__main__":
    main()

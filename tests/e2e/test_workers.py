"""``verwijsindex serve --workers N``: several API processes on one port and one database."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import Caller, make_bsn
from tests.e2e.conftest import Server, start_server
from tests.e2e.test_concurrency import _callers, _counts

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

NO_RATE_LIMITS = {
    "VERWIJSINDEX_RATE_LIMIT_PROFESSIONAL_PER_MINUTE": "0",
    "VERWIJSINDEX_RATE_LIMIT_PROFESSIONAL_PER_DAY": "0",
    "VERWIJSINDEX_RATE_LIMIT_ORGANISATION_PER_MINUTE": "0",
}
YOUTHS_PER_WAVE = 20
MAX_WAVES = 10


def _log_events(server: Server) -> list[dict[str, Any]]:
    events = []
    for line in server.logs().splitlines():
        if line.startswith("{"):
            events.append(json.loads(line))
    return events


def _wait_for_log(server: Server, event: str, count: int = 1) -> list[dict[str, Any]]:
    """Wait (bounded) until the server has logged ``event`` ``count`` times; its lines."""
    deadline = time.monotonic() + 60
    while True:
        found = [e for e in _log_events(server) if e.get("event") == event]
        if len(found) >= count or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _registration_pids(server: Server) -> set[int]:
    """The processes that answered ``POST /v1/registrations`` (from their request log lines)."""
    return {
        e["pid"]
        for e in _log_events(server)
        if e.get("event") == "request" and e.get("route") == "/v1/registrations"
    }


async def _wave(
    server: Server, callers: list[Caller], first_youth: int
) -> dict[str, list[httpx.Response]]:
    """Two professionals of different organisations register each youth, all at once, each
    request on a new connection so that the connections spread over the worker processes."""
    limits = httpx.Limits(max_connections=2 * YOUTHS_PER_WAVE, max_keepalive_connections=0)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as http:
        gate = asyncio.Event()

        async def one(caller: Caller, bsn: str) -> httpx.Response:
            await gate.wait()
            body = {"bsn": bsn, "birth_date": "2012-05-01"}
            return await http.post("/v1/registrations", json=body, headers=caller.headers)

        tasks: dict[str, list[asyncio.Task[httpx.Response]]] = {}
        for i in range(first_youth, first_youth + YOUTHS_PER_WAVE):
            bsn = make_bsn(i)
            pair = (callers[i % len(callers)], callers[(i + 1) % len(callers)])
            tasks[bsn] = [asyncio.create_task(one(c, bsn)) for c in pair]
        await asyncio.sleep(0.05)
        gate.set()
        return {bsn: list(await asyncio.gather(*ts)) for bsn, ts in tasks.items()}


@pytest.fixture
def workers_server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    srv = start_server(database_url, tmp_path, "--workers", "2", **NO_RATE_LIMITS)
    try:
        _wait_for_log(srv, "started", count=2)  # /readyz answered: one worker is up
        yield srv
    finally:
        srv.stop()


class TestServeWorkers:
    async def test_two_workers_share_the_load_and_every_youth_gets_exactly_one_match(
        self, workers_server: Server, database_url: str, tmp_path: Path
    ) -> None:
        callers = await _callers(database_url, tmp_path, 6)
        responses: dict[str, list[httpx.Response]] = {}
        # Keep registering new youths until both processes have answered some (the kernel
        # hands connections to whichever worker accepts first), within a bound.
        for wave in range(MAX_WAVES):
            responses.update(await _wave(workers_server, callers, wave * YOUTHS_PER_WAVE))
            if len(_registration_pids(workers_server)) > 1:
                break
        youths = len(responses)

        worker_pids = {e["pid"] for e in _log_events(workers_server) if e.get("event") == "started"}
        assert len(worker_pids) == 2
        assert workers_server.process.pid not in worker_pids
        assert _registration_pids(workers_server) == worker_pids

        match_ids = set()
        for pair in responses.values():
            assert [r.status_code for r in pair] == [201, 201]
            ids = [r.json()["match_id"] for r in pair]
            assert ids.count(None) == 1  # the first of the two made no match, the second did
            match_ids |= set(ids) - {None}
        assert len(match_ids) == youths
        assert await _counts(database_url, tmp_path) == (2 * youths, youths, 2 * youths)

    def test_the_supervisor_migrates_once_and_runs_the_only_sweeper(self, tmp_path: Path) -> None:
        database_url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"  # not migrated yet
        server = start_server(database_url, tmp_path, "--workers", "2", "--no-webhook-worker")
        try:
            assert httpx.get(server.base_url + "/readyz").status_code == 200
            _wait_for_log(server, "started", count=2)
            _wait_for_log(server, "sweep")
        finally:
            server.stop()
        events = _log_events(server)
        parent = server.process.pid
        workers = {e["pid"] for e in events if e.get("event") == "started"}
        assert len(workers) == 2
        migrations = [e for e in events if str(e.get("event", "")).startswith("Running upgrade")]
        assert migrations
        assert {e["pid"] for e in migrations} == {parent}
        assert {e["pid"] for e in events if e.get("event") == "sweep"} == {parent}
        assert not [e for e in events if e.get("event") == "webhook_worker_started"]


def test_metrics_add_up_every_worker_process(database_url: str, tmp_path: Path) -> None:
    """``/metrics`` of ``serve --workers 2``: whichever process answers, the requests of both
    are counted (Prometheus' multiprocess mode), and the directory is removed at the end."""
    token = "metrics-token-0123456789abcdef"
    server = start_server(
        database_url, tmp_path, "--workers", "2", VERWIJSINDEX_METRICS_TOKEN=token
    )
    bearer = {"Authorization": f"Bearer {token}"}

    async def at_once(path: str, n: int, headers: dict[str, str]) -> list[httpx.Response]:
        # all at once, each on a new connection, so that they spread over the processes
        limits = httpx.Limits(max_connections=n, max_keepalive_connections=0)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30, limits=limits) as h:
            return list(await asyncio.gather(*(h.get(path, headers=headers) for _ in range(n))))

    try:
        _wait_for_log(server, "started", count=2)
        _wait_for_log(server, "sweep")  # by the supervising process
        healthz = 0
        for _ in range(10):
            answered = asyncio.run(at_once("/healthz", 20, {}))
            assert {r.status_code for r in answered} == {200}
            healthz += len(answered)
            pids = {e["pid"] for e in _log_events(server) if e.get("route") == "/healthz"}
            if len(pids) == 2:
                break
        assert len(pids) == 2, "both workers answered"
        assert httpx.get(server.base_url + "/metrics").status_code == 401
        scrapes = [r.text for r in asyncio.run(at_once("/metrics", 8, bearer))]
        counts = set()
        for text in scrapes:
            [line] = [
                line
                for line in text.splitlines()
                if line.startswith("verwijsindex_http_request_duration_seconds_count")
                and 'route="/healthz"' in line
            ]
            counts.add(float(line.rsplit(" ", 1)[1]))
        assert counts == {float(healthz)}
        # the supervisor's sweeper is counted too (it set the directory up before importing)
        deadline = time.monotonic() + 30
        while 'verwijsindex_sweep_runs_total{outcome="ok"}' not in scrapes[-1]:
            assert time.monotonic() < deadline, "the sweep is not in the metrics"
            time.sleep(0.2)
            scrapes.append(httpx.get(server.base_url + "/metrics", headers=bearer).text)
        scrapers = {e["pid"] for e in _log_events(server) if e.get("route") == "/metrics"}
        assert scrapers, "the scrapes were answered"
    finally:
        server.stop()

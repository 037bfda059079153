"""Two server processes on one database: the access-log chain stays gap-free and verifiable,
and the registration rate limit holds across processes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_bsn
from tests.e2e.conftest import Server, start_server
from tests.e2e.test_concurrency import _callers

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _pair(database_url: str, tmp_path: Path, **env: str) -> Iterator[tuple[Server, Server]]:
    first = start_server(database_url, tmp_path, **env)
    try:
        second = start_server(database_url, tmp_path, **env)  # same data dir: same keys
        try:
            yield first, second
        finally:
            second.stop()
    finally:
        first.stop()


async def _fire(
    servers: tuple[Server, Server], calls: list[tuple[dict[str, str], str]]
) -> list[httpx.Response]:
    clients = [
        httpx.AsyncClient(
            base_url=s.base_url, timeout=60, limits=httpx.Limits(max_connections=len(calls))
        )
        for s in servers
    ]
    gate = asyncio.Event()

    async def one(i: int, headers: dict[str, str], bsn: str) -> httpx.Response:
        await gate.wait()
        body = {"bsn": bsn, "birth_date": "2012-05-01"}
        return await clients[i % 2].post("/v1/registrations", json=body, headers=headers)

    try:
        tasks = [asyncio.create_task(one(i, h, b)) for i, (h, b) in enumerate(calls)]
        await asyncio.sleep(0.05)
        gate.set()
        return await asyncio.gather(*tasks)
    finally:
        for c in clients:
            await c.aclose()


class TestAcrossProcesses:
    async def test_one_valid_chain_and_exact_rate_limits_from_two_processes(
        self, database_url: str, tmp_path: Path
    ) -> None:
        callers = await _callers(database_url, tmp_path, 3)
        env = {
            "VERWIJSINDEX_RATE_LIMIT_PROFESSIONAL_PER_MINUTE": "0",
            "VERWIJSINDEX_RATE_LIMIT_ORGANISATION_PER_MINUTE": "0",
            "VERWIJSINDEX_RATE_LIMIT_PROFESSIONAL_PER_DAY": "10",
        }
        calls = [(c.headers, make_bsn(i)) for i in range(14) for c in callers]
        for servers in _pair(database_url, tmp_path, **env):
            responses = await _fire(servers, calls)
            by_professional: dict[str, list[int]] = {}
            for (headers, _), r in zip(calls, responses, strict=True):
                by_professional.setdefault(headers["X-Professional-Id"], []).append(r.status_code)
            for statuses in by_professional.values():
                assert sorted(statuses) == [201] * 10 + [429] * 4
            assert all(int(r.headers["retry-after"]) > 0 for r in responses if r.status_code == 429)
            # every attempt, accepted or refused, is one record of one gap-free, valid chain
            report = json.loads(servers[0].cli("access-log", "verify").stdout)
            assert report["ok"] is True
            assert report["records"] == len(calls)

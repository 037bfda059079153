"""``GET /metrics``: the token guard, what is measured, that no label holds a raw path or
personal data, and the multiprocess aggregation of ``serve --workers N``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from tests.conftest import Caller, make_caller, registration_body
from verwijsindex.clock import FrozenClock
from verwijsindex.http.app import create_app
from verwijsindex.settings import Settings

TOKEN = "metrics-token-for-tests-0123456789"
BSN, BIRTH_DATE = "111222333", "2012-05-01"


@pytest.fixture
async def metrics_client(
    settings: Settings, clock: FrozenClock
) -> AsyncIterator[tuple[httpx.AsyncClient, FastAPI]]:
    app = create_app(settings.model_copy(update={"metrics_token": SecretStr(TOKEN)}), clock=clock)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            yield c, app


async def test_metrics_are_not_there_without_a_token(client: httpx.AsyncClient) -> None:
    response = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_metrics_need_the_token(
    metrics_client: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, _ = metrics_client
    assert (await client.get("/metrics")).status_code == 401
    wrong = await client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
    assert wrong.status_code == 401
    assert wrong.headers["content-type"].startswith("application/problem+json")
    ok = await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200
    assert ok.headers["content-type"].startswith("text/plain")


async def test_requests_by_route_template_and_the_database_gauges(
    metrics_client: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    client, app = metrics_client
    caller: Caller = await make_caller(app.state.ctx, 0)
    created = await client.post(
        "/v1/registrations", json=registration_body(BSN, BIRTH_DATE), headers=caller.headers
    )
    assert created.status_code == 201
    registration_id = created.json()["id"]
    read = await client.get(f"/v1/registrations/{registration_id}", headers=caller.headers)
    assert read.status_code == 200
    assert (await client.get("/v1/no/such/path/0363")).status_code == 404
    text = (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).text

    for forbidden in (registration_id, BSN, BIRTH_DATE, caller.professional_id, "/0363"):
        assert forbidden not in text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    requests = families["verwijsindex_http_request_duration_seconds"]
    counts = {
        (s.labels["route"], s.labels["method"], s.labels["status"]): s.value
        for s in requests.samples
        if s.name.endswith("_count")
    }
    assert counts[("/v1/registrations", "POST", "201")] >= 1
    assert counts[("/v1/registrations/{registration_id}", "GET", "200")] >= 1
    assert counts[("unmatched", "GET", "404")] >= 1
    group = families["verwijsindex_write_group_size"]
    assert any(s.name.endswith("_count") and s.value >= 1 for s in group.samples)
    gauges = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for name in (
            "verwijsindex_webhook_messages",
            "verwijsindex_webhook_oldest_pending_age_seconds",
            "verwijsindex_ledger_entries",
            "verwijsindex_access_log_records",
            "verwijsindex_statistics_rollup_lag_seconds",
        )
        for s in families[name].samples
    }
    assert gauges[("verwijsindex_webhook_messages", (("status", "pending"),))] == 0
    assert gauges[("verwijsindex_access_log_records", ())] >= 2  # the registration, the read
    assert gauges[("verwijsindex_ledger_entries", ())] == 0


_WORKER = """
from verwijsindex.metrics import process_metrics
process_metrics().observe_request("/v1/registrations", "POST", 201, 0.004)
process_metrics().observe_group(3)
"""
_SCRAPE = """
from verwijsindex.metrics import render
import sys
sys.stdout.write(render([]).decode())
"""


@pytest.mark.slow
def test_several_worker_processes_are_added_up(tmp_path: Path) -> None:
    """What ``serve --workers N`` does: each process writes to the shared directory; the one
    that answers the scrape adds every process's counts up."""
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}
    for _ in range(2):
        subprocess.run([sys.executable, "-c", _WORKER], env=env, check=True, timeout=60)
    out = subprocess.run(
        [sys.executable, "-c", _SCRAPE], env=env, check=True, timeout=60, capture_output=True
    ).stdout.decode()
    families = {f.name: f for f in text_string_to_metric_families(out)}
    [count] = [
        s.value
        for s in families["verwijsindex_http_request_duration_seconds"].samples
        if s.name.endswith("_count") and s.labels["route"] == "/v1/registrations"
    ]
    assert count == 2
    [groups] = [
        s.value
        for s in families["verwijsindex_write_group_size"].samples
        if s.name.endswith("_sum")
    ]
    assert groups == 6


async def test_the_dashboard_draws_only_metrics_the_service_exposes(
    metrics_client: tuple[httpx.AsyncClient, FastAPI],
) -> None:
    import json
    import re

    client, app = metrics_client
    caller = await make_caller(app.state.ctx, 1)
    await client.post("/v1/registrations", json=registration_body(), headers=caller.headers)
    text = (await client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})).text
    exposed = {f.name for f in text_string_to_metric_families(text)}
    dashboard = Path(__file__).parents[3] / "docs" / "grafana" / "verwijsindex.json"
    expressions = [
        target["expr"]
        for panel in json.loads(dashboard.read_text())["panels"]
        for target in panel["targets"]
    ]
    drawn = {
        re.sub(r"_(bucket|sum|count|total)$", "", name)
        for expr in expressions
        for name in re.findall(r"verwijsindex_[a-z_]+", expr)
    }
    assert drawn and drawn <= exposed, drawn - exposed

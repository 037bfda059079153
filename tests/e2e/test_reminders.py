"""The sweeper's reminders with real servers: two serving processes sweeping the same database,
one of them killed with SIGKILL in the middle, still send each ``registration.inform_due``
exactly once."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from notifier import OutboxEvent
from tests.conftest import make_bsn
from tests.e2e.conftest import Server, start_server
from verwijsindex.clock import SystemClock
from verwijsindex.context import build_context
from verwijsindex.registrations.models import RegistrationReminder
from verwijsindex.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

SWEEPING = {"VERWIJSINDEX_SWEEP_INTERVAL_SECONDS": "0.3"}


def _cli_json(server: Server, *args: str) -> dict[str, str]:
    result: dict[str, str] = json.loads(server.cli(*args).stdout)
    return result


async def _counts(database_url: str, tmp_path: Path) -> tuple[int, int, int]:
    ctx = build_context(Settings(database_url=database_url, data_dir=tmp_path), clock=SystemClock())
    try:
        async with ctx.database.transaction() as s:
            events = (
                await s.execute(
                    select(func.count(), func.count(func.distinct(OutboxEvent.payload))).where(
                        OutboxEvent.event_type == "registration.inform_due"
                    )
                )
            ).one()
            reminders = (
                await s.execute(select(func.count()).select_from(RegistrationReminder))
            ).scalar_one()
        return int(events[0]), int(events[1]), int(reminders)
    finally:
        await ctx.database.dispose()


def test_inform_due_once_with_two_sweepers_and_a_kill(database_url: str, tmp_path: Path) -> None:
    first = start_server(database_url, tmp_path, **SWEEPING)
    try:

        def organisation(name: str, sector: str) -> str:
            made = _cli_json(
                first,
                *("admin", "create-organisation", "--name", name, "--sector", sector),
                *("--municipality", "0363"),
            )
            return made["id"]

        def api_key(organisation_id: str, role: str) -> str:
            made = _cli_json(
                first,
                *("admin", "create-api-key", "--organisation", organisation_id, "--role", role),
            )
            return made["key"]

        town, org = organisation("Gemeente", "municipality"), organisation("Zorg", "youth-care")
        admin_key, key = api_key(town, "municipality-admin"), api_key(org, "professional")
        pro = _cli_json(
            first,
            *("admin", "create-professional", "--organisation", org, "--name", "P"),
            *("--email", "p@x.example", "--phone", "+31 20 555 0000"),
        )
        headers = {"Authorization": f"Bearer {key}", "X-Professional-Id": pro["id"]}
        with httpx.Client(base_url=first.base_url, timeout=30) as http:
            covenant = {
                "coordinator_sectors": ["youth-care"],
                "respond_within": "P2D",
                "coordinate_within": "P10D",
                "inform_within": "PT2S",
            }
            r = http.put(
                "/v1/municipalities/0363/covenant",
                json=covenant,
                headers={"Authorization": f"Bearer {admin_key}"},
            )
            assert r.status_code == 200, r.text
            for n in range(40):
                body = {"bsn": make_bsn(7000 + n), "birth_date": "2012-01-01"}
                assert http.post("/v1/registrations", json=body, headers=headers).status_code == 201
        second = start_server(database_url, tmp_path, **SWEEPING)
        try:
            time.sleep(2.2)  # the deadline passes while both sweep
            os.kill(first.process.pid, signal.SIGKILL)
            first.process.wait()
            time.sleep(2.0)
        finally:
            second.stop()
        third = start_server(database_url, tmp_path, **SWEEPING)
        time.sleep(1.5)
        third.stop()
    finally:
        first.stop()
    events, distinct, reminders = asyncio.run(_counts(database_url, tmp_path))
    assert (events, distinct, reminders) == (40, 40, 40)

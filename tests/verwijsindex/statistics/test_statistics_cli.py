"""``verwijsindex statistics``: the same cells as the API, as JSON or CSV, for an operator."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import timedelta

import httpx
from click.testing import CliRunner

from tests.conftest import Caller, make_bsn, registration_body
from verwijsindex.cli import main
from verwijsindex.clock import FrozenClock
from verwijsindex.settings import Settings


async def test_json_and_csv(
    client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock, settings: Settings
) -> None:
    for n in range(12):  # in March 2026 (the tests' clock), a closed month by now
        clock.advance(timedelta(minutes=2))
        r = await client.post(
            "/v1/registrations", json=registration_body(make_bsn(n)), headers=callers[0].headers
        )
        assert r.status_code == 201
    env = {
        "VERWIJSINDEX_DATABASE_URL": settings.database_url,
        "VERWIJSINDEX_DATA_DIR": str(settings.data_dir),
    }
    args = ["statistics", "--municipality", "0363", "--from", "2026-03", "--to", "2026-03"]

    def run(*extra: str) -> str:
        result = CliRunner().invoke(main, [*args, *extra], env=env)
        assert result.exit_code == 0, result.output
        return result.output

    document = json.loads(await asyncio.to_thread(run))
    [march] = document["months"]
    youth_care = next(s for s in march["sectors"] if s["sector"] == "youth-care")
    assert youth_care["measures"]["registrations_active"] == {"value": 12, "suppressed": False}
    # none ended (each reason 0, suppressed): with made and active both shown, their
    # difference would say so, so made is suppressed as their complement
    assert youth_care["measures"]["registrations_made"] == {"value": None, "suppressed": True}
    rows = list(csv.DictReader(io.StringIO(await asyncio.to_thread(run, "--format", "csv"))))
    active = next(
        r for r in rows if r["sector"] == "youth-care" and r["measure"] == "registrations_active"
    )
    assert (active["value"], active["suppressed"]) == ("12", "false")
    police = next(r for r in rows if r["sector"] == "police" and r["measure"] == "matches_made")
    assert (police["value"], police["suppressed"]) == ("", "true")


def test_an_invalid_month_is_refused() -> None:
    result = CliRunner().invoke(
        main, ["statistics", "--municipality", "0363", "--from", "2026-1", "--to", "2026-03"]
    )
    assert result.exit_code != 0
    assert "from must be a month as YYYY-MM" in result.output

"""``GET /v1/statistics``, the rollup behind it and ``verwijsindex statistics``, on SQLite and
PostgreSQL: real registrations through the API, counted once their month has closed."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.conftest import Caller, make_bsn, registration_body
from tests.verwijsindex.statistics.scenario import MARCH, march, register
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.settings import Settings


def _cell(document: dict[str, Any], month: str, sector: str, measure: str) -> dict[str, Any]:
    found = next(m for m in document["months"] if m["month"] == month)
    figures = next(s for s in found["sectors"] if s["sector"] == sector)
    cell: dict[str, Any] = figures["measures"][measure]
    return cell


async def test_an_auditor_reads_the_closed_months_under_disclosure_control(
    client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock
) -> None:
    await march(client, callers, clock)
    response = await client.get(
        "/v1/statistics",
        params={"municipality": "0363", "from": "2026-01", "to": "2026-12"},
        headers=callers[2].auditor_headers,
    )
    assert response.status_code == 200, response.text
    document = response.json()
    assert document["complete_through"] == MARCH
    assert document["threshold"] == 10
    assert [m["month"] for m in document["months"]] == [MARCH]
    assert _cell(document, MARCH, "youth-care", "registrations_made") == {
        "value": 15,
        "suppressed": False,
    }
    # 4 active: suppressed, and its complement too (else 15 - 11 gives it away)
    for measure in ("registrations_active", "registrations_ended_risk_resolved"):
        assert _cell(document, MARCH, "youth-care", measure) == {"value": None, "suppressed": True}
    # 3 matches, 3 registrations: below the threshold
    assert _cell(document, MARCH, "education", "matches_made")["suppressed"] is True
    assert _cell(document, MARCH, "education", "registrations_made")["suppressed"] is True
    # an overlapping period shows the same cells the same way
    again = await client.get(
        "/v1/statistics",
        params={"municipality": "0363", "from": MARCH, "to": MARCH},
        headers=callers[2].auditor_headers,
    )
    assert again.json()["months"] == document["months"]


async def test_nothing_is_published_of_the_month_still_open(
    client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock
) -> None:
    for n in range(12):
        clock.advance(timedelta(minutes=2))
        await register(client, callers[0], n)
    response = await client.get(
        "/v1/statistics",
        params={"municipality": "0363", "from": MARCH, "to": MARCH},
        headers=callers[0].auditor_headers,
    )
    assert response.status_code == 200
    assert response.json()["months"] == []
    assert response.json()["complete_through"] is None


@pytest.mark.parametrize("how", ["accept", "format"])
async def test_csv_export(
    client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock, how: str
) -> None:
    await march(client, callers, clock)
    params = {"municipality": "0363", "from": MARCH, "to": MARCH}
    headers = dict(callers[2].auditor_headers)
    if how == "accept":
        headers["Accept"] = "text/csv"
    else:
        params["format"] = "csv"
    response = await client.get("/v1/statistics", params=params, headers=headers)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    made = next(
        r for r in rows if r["sector"] == "youth-care" and r["measure"] == "registrations_made"
    )
    assert made == {
        "municipality": "0363",
        "month": MARCH,
        "sector": "youth-care",
        "measure": "registrations_made",
        "value": "15",
        "suppressed": "false",
    }
    active = next(
        r for r in rows if r["sector"] == "youth-care" and r["measure"] == "registrations_active"
    )
    assert (active["value"], active["suppressed"]) == ("", "true")


@pytest.mark.parametrize(
    "params",
    [
        {"municipality": "0363", "from": "2026-13", "to": "2026-12"},
        {"municipality": "363", "from": "2026-01", "to": "2026-12"},
        {"municipality": "0363", "from": "2026-05", "to": "2026-01"},
        {"municipality": "0363", "from": "2000-01", "to": "2026-01"},
        {"municipality": "0016", "from": "0000-09", "to": "7100-05"},
        {"municipality": "0363", "from": "1999-12", "to": "2000-01"},
        {"municipality": "0363", "from": "2026-01"},
    ],
)
async def test_invalid_queries_are_422(
    client: httpx.AsyncClient, callers: list[Caller], params: dict[str, str]
) -> None:
    response = await client.get("/v1/statistics", params=params, headers=callers[0].auditor_headers)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_other_roles_are_refused(client: httpx.AsyncClient, callers: list[Caller]) -> None:
    params = {"municipality": "0363", "from": MARCH, "to": MARCH}
    for headers in (callers[0].headers, callers[0].admin_headers):
        response = await client.get("/v1/statistics", params=params, headers=headers)
        assert response.status_code == 403
    assert (await client.get("/v1/statistics", params=params)).status_code == 401


async def test_the_sweep_counts_before_it_purges(
    client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock, ctx: AppContext
) -> None:
    """With no retention (the default), ended registrations are purged by the sweep at once;
    what the rollup has not reached yet (the last minutes) is counted by the purge."""
    from verwijsindex.registrations.sweep import sweep_once

    await march(client, callers, clock, then_april=False)
    assert clock.now() == datetime(2026, 3, 2, 10, 0, tzinfo=UTC)
    # the sweep runs while the withdrawals are still within the rollup's lag
    clock.set(datetime(2026, 3, 2, 10, 3, tzinfo=UTC))
    result = await sweep_once(ctx)
    assert result.purged_registrations == 11
    counted = await ctx.statistics.counted_through()
    assert counted == datetime(2026, 3, 2, 9, 58, tzinfo=UTC)  # before the withdrawals
    clock.set(datetime(2026, 4, 2, 8, 0, tzinfo=UTC))
    figures = await ctx.statistics.figures(municipality="0363", first=MARCH, last=MARCH)
    assert figures.cells[MARCH]["youth-care"]["registrations_made"] == 15
    async with ctx.database.read() as session:
        from verwijsindex.statistics import repository

        cells = await repository.cells(session, municipality="0363", months=[MARCH])
    assert cells[(MARCH, "youth-care", "registrations_ended_risk_resolved")] == 11


def test_the_threshold_is_never_below_five(tmp_path: Any) -> None:
    with pytest.raises(ValueError, match="statistics_threshold"):
        Settings(data_dir=tmp_path, statistics_threshold=4)
    assert Settings(data_dir=tmp_path, statistics_threshold=5).statistics_threshold == 5


async def test_a_municipality_admin_reads_only_its_own_municipality(
    client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock, ctx: AppContext
) -> None:
    await march(client, callers, clock)
    async with ctx.database.transaction() as session:
        org = await ctx.admin.create_organisation(
            session, name="Gemeente Amsterdam", sector="municipality", municipality="0363"
        )
        key = await ctx.admin.create_api_key(
            session, organisation_id=org.id, role="municipality-admin"
        )
    headers = {"Authorization": f"Bearer {key.key}"}
    own = await client.get(
        "/v1/statistics",
        params={"municipality": "0363", "from": MARCH, "to": MARCH},
        headers=headers,
    )
    assert own.status_code == 200
    assert _cell(own.json(), MARCH, "youth-care", "registrations_made")["value"] == 15
    other = await client.get(
        "/v1/statistics",
        params={"municipality": "0518", "from": MARCH, "to": MARCH},
        headers=headers,
    )
    assert other.status_code == 403
    assert other.headers["content-type"].startswith("application/problem+json")


async def test_coordination_counts_and_days_to_an_accepted_coordinator(
    client: httpx.AsyncClient, clock: FrozenClock, ctx: AppContext
) -> None:
    from tests.verwijsindex.coordination.helpers import make_world

    world = await make_world(ctx, client, {"care": "youth-care", "protect": "youth-protection"})
    matches = []
    for _ in range(12):
        match_id, _ = await world.register(world.bsn(), "care", "protect")
        assert match_id is not None
        matches.append(match_id)
    for n, match_id in enumerate(matches[:11]):
        clock.set(datetime(2026, 3, 2 + (3 if n < 8 else 9), 12, tzinfo=UTC))
        r = await world.act("protect", match_id, "accept")
        assert r.status_code == 200, r.text
    clock.set(datetime(2026, 4, 2, 8, 0, tzinfo=UTC))
    response = await client.get(
        "/v1/statistics",
        params={"municipality": "0363", "from": MARCH, "to": MARCH},
        headers=world.orgs["care"].caller.auditor_headers,
    )
    assert response.status_code == 200
    document = response.json()

    def value(measure: str) -> Any:
        return _cell(document, MARCH, "youth-protection", measure)["value"]

    assert value("coordination_proposed") == 12
    assert value("coordination_accepted") == 11
    assert value("coordination_days_to_accepted_median") == 3  # 8 after 3 days, 3 after 9
    assert value("coordination_days_to_accepted_p90") == 9
    assert _cell(document, MARCH, "youth-care", "coordination_accepted")["suppressed"] is True
    assert _cell(document, MARCH, "youth-care", "coordination_days_to_accepted_median") == {
        "value": None,
        "suppressed": True,
    }


async def test_family_matches_and_informing(
    client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock, ctx: AppContext
) -> None:
    from verwijsindex.registrations.models import InformingStatus, RegistrationInforming

    ctx.settings.rate_limit_professional_per_minute = 0
    informed = []
    for n in range(11):
        parents = [{"bsn": make_bsn(300 + n)}]
        for caller, youth in ((callers[0], 100 + n), (callers[1], 200 + n)):
            body = {**registration_body(make_bsn(youth)), "parents": parents}
            r = await client.post("/v1/registrations", json=body, headers=caller.headers)
            assert r.status_code == 201, r.text
        assert r.json()["family_match_id"] is not None
        informed.append(r.json()["id"])
    async with ctx.database.transaction() as session:
        for n in range(22):  # two records each: a postponement's history stays
            session.add(
                RegistrationInforming(
                    registration_id=informed[n % 11],
                    status=InformingStatus.POSTPONED if n < 2 else InformingStatus.INFORMED,
                    youth_informed=n >= 2,
                    parents_informed=n >= 2,
                    informed_on=None,
                    reason="unreachable" if n < 2 else None,
                    revisit_on=None,
                    professional_id=callers[1].professional_id,
                    recorded_at=clock.now(),
                )
            )
    clock.set(datetime(2026, 4, 2, 8, 0, tzinfo=UTC))
    response = await client.get(
        "/v1/statistics",
        params={"municipality": "0363", "from": MARCH, "to": MARCH},
        headers=callers[2].auditor_headers,
    )
    document = response.json()
    assert _cell(document, MARCH, "youth-care", "family_matches_made")["value"] == 11
    assert _cell(document, MARCH, "education", "family_matches_made")["value"] == 11
    assert _cell(document, MARCH, "education", "informing_informed")["value"] == 20
    assert _cell(document, MARCH, "education", "informing_postponed") == {
        "value": None,
        "suppressed": True,
    }  # 2: below the threshold

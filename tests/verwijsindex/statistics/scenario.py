"""A month of registrations that the statistics tests (API and portal) count."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.conftest import Caller, make_bsn, registration_body
from verwijsindex.clock import FrozenClock

MARCH = "2026-03"


async def register(client: httpx.AsyncClient, caller: Caller, n: int) -> str:
    response = await client.post(
        "/v1/registrations", json=registration_body(make_bsn(n)), headers=caller.headers
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def march(
    client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock, *, then_april: bool = True
) -> None:
    """Caller 0 (youth-care) registers 15 youths and withdraws 11 as resolved; caller 1
    (education) registers 3 of the same youths (3 matches); then April begins."""
    ids = []
    for n in range(15):
        clock.advance(timedelta(minutes=2))  # the per-professional rate limit
        ids.append(await register(client, callers[0], n))
    for registration_id in ids[:11]:
        response = await client.post(
            f"/v1/registrations/{registration_id}/withdraw",
            json={"reason": "risk_resolved"},
            headers=callers[0].headers,
        )
        assert response.status_code == 200, response.text
    for n in range(11, 14):
        await register(client, callers[1], n)
    if then_april:
        clock.set(datetime(2026, 4, 2, 8, 0, tzinfo=UTC))

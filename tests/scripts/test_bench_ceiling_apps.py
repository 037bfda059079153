"""The minimal FastAPI ceiling does what the service's first step does: it parses the
registration body with the service's own model (and answers 201)."""

from __future__ import annotations

import httpx

from scripts.bench.ceiling_apps import fastapi_app


async def test_the_fastapi_ceiling_parses_the_body() -> None:
    transport = httpx.ASGITransport(app=fastapi_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://ceiling") as client:
        r = await client.post(
            "/v1/registrations", json={"bsn": "111222333", "birth_date": "2012-05-01"}
        )
        assert r.status_code == 201, r.text
        assert r.json()["bsn_len"] == 9
        r = await client.post("/v1/registrations", json={"bsn": "111222333"})
        assert r.status_code == 422

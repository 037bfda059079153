"""Reading registrations: one statement per read (the registration and its open match's id,
as a plain row), and the body FastAPI would give for the documented model. On both databases."""

from __future__ import annotations

import httpx

from tests.conftest import Caller, make_bsn, registration_body
from tests.verwijsindex.helpers import as_fastapi_would, index_reads
from verwijsindex.context import AppContext
from verwijsindex.http.schemas import RegistrationOut, RegistrationPage


async def test_a_registration_read_is_one_statement_with_its_open_match(
    client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
) -> None:
    youth = registration_body(make_bsn(7))
    a = (await client.post("/v1/registrations", json=youth, headers=callers[0].headers)).json()
    path = f"/v1/registrations/{a['id']}"
    await client.get(path, headers=callers[0].headers)  # credentials cached

    with index_reads(ctx) as statements:
        alone = await client.get(path, headers=callers[0].headers)
    assert alone.status_code == 200, alone.text
    assert len(statements) == 1, statements
    assert alone.json() == {**a, "ended_at": None, "end_reason": None}
    assert alone.headers["content-type"] == "application/json"
    assert alone.content == as_fastapi_would(RegistrationOut, alone.content)

    b = await client.post("/v1/registrations", json=youth, headers=callers[1].headers)
    match_id = b.json()["match_id"]
    assert match_id is not None
    again = await client.post("/v1/registrations", json=youth, headers=callers[1].headers)
    assert (b.status_code, again.status_code) == (201, 200)
    # The create route's bodies, new and repeated, with a match: what the model serialises.
    for created in (b, again):
        assert created.content == as_fastapi_would(RegistrationOut, created.content)
    matched = await client.get(path, headers=callers[0].headers)
    assert matched.json() == {**alone.json(), "match_id": match_id}

    # The other participant withdraws: the match closes, and is no longer an open match.
    withdrawn = await client.post(
        f"/v1/registrations/{b.json()['id']}/withdraw",
        json={"reason": "other"},
        headers=callers[1].headers,
    )
    assert withdrawn.status_code == 200, withdrawn.text
    after = await client.get(path, headers=callers[0].headers)
    assert after.json() == alone.json()

    # Another organisation's registration, and an unknown one, are not found.
    assert (await client.get(path, headers=callers[2].headers)).status_code == 404
    unknown = await client.get("/v1/registrations/unknown", headers=callers[0].headers)
    assert unknown.status_code == 404


async def test_a_list_is_one_statement_with_each_open_match(
    client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
) -> None:
    made = []
    for n in range(3):
        r = await client.post(
            "/v1/registrations", json=registration_body(make_bsn(n)), headers=callers[0].headers
        )
        made.append(r.json())
    b = await client.post(
        "/v1/registrations", json=registration_body(make_bsn(1)), headers=callers[1].headers
    )
    match_id = b.json()["match_id"]
    assert match_id is not None
    await client.get("/v1/registrations", headers=callers[0].headers)  # credentials cached

    with index_reads(ctx) as statements:
        first = await client.get("/v1/registrations?limit=2", headers=callers[0].headers)
    assert first.status_code == 200, first.text
    assert len(statements) == 1, statements
    assert first.content == as_fastapi_would(RegistrationPage, first.content)
    page = first.json()
    assert [r["id"] for r in page["items"]] == [made[0]["id"], made[1]["id"]]
    assert [r["match_id"] for r in page["items"]] == [None, match_id]
    rest = await client.get(
        f"/v1/registrations?limit=2&cursor={page['next_cursor']}", headers=callers[0].headers
    )
    assert [r["id"] for r in rest.json()["items"]] == [made[2]["id"]]
    assert rest.json()["next_cursor"] is None

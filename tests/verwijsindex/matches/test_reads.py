"""Reading a match: one statement (the match's columns on each participant's row), visible to
an organisation exactly when it takes part. On both databases."""

from __future__ import annotations

import httpx

from tests.conftest import Caller, make_bsn, registration_body
from tests.verwijsindex.helpers import as_fastapi_would, index_reads
from verwijsindex.context import AppContext
from verwijsindex.http.schemas import MatchOut


async def test_a_match_read_is_one_statement(
    client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
) -> None:
    youth = registration_body(make_bsn(3))
    made = []
    for caller in callers[:2]:
        r = await client.post("/v1/registrations", json=youth, headers=caller.headers)
        made.append(r.json())
    match_id = made[1]["match_id"]
    assert match_id is not None
    path = f"/v1/matches/{match_id}"
    await client.get(path, headers=callers[0].headers)  # credentials cached

    with index_reads(ctx) as statements:
        read = await client.get(path, headers=callers[0].headers)
    assert read.status_code == 200, read.text
    assert len(statements) == 1, statements
    assert read.headers["content-type"] == "application/json"
    assert read.content == as_fastapi_would(MatchOut, read.content)
    body = read.json()
    assert (body["id"], body["status"], body["closed_at"]) == (match_id, "open", None)
    assert [p["registration_id"] for p in body["participants"]] == [m["id"] for m in made]
    assert [p["organisation"]["id"] for p in body["participants"]] == [
        c.organisation_id for c in callers[:2]
    ]
    assert all(p["left_at"] is None for p in body["participants"])

    # An organisation that does not take part, and an unknown match: not found.
    assert (await client.get(path, headers=callers[2].headers)).status_code == 404
    unknown = await client.get("/v1/matches/unknown", headers=callers[0].headers)
    assert unknown.status_code == 404

    # A participant that left still reads the (now closed) match, with its participation ended.
    left = await client.post(
        f"/v1/registrations/{made[0]['id']}/withdraw",
        json={"reason": "other"},
        headers=callers[0].headers,
    )
    assert left.status_code == 200, left.text
    closed = (await client.get(path, headers=callers[0].headers)).json()
    assert closed["status"] == "closed"
    assert closed["participants"][0]["left_at"] is not None

"""Shared set-up for the consent API tests: a match between organisations, keys, consents."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from typing import Any

import httpx

from crypto import hpke_generate_keypair
from tests.conftest import Caller, registration_body
from verwijsindex.client.exchange import ExchangeClient

PROBLEM = "https://verwijsindex.nl/problems/"
UNDER_12 = "2018-01-01"
FROM_12_TO_15 = "2012-05-01"
FROM_16 = "2008-01-01"
JUSTIFICATION = (
    "The youth told the teacher this morning about violence at home last night. "
    "There are visible injuries and the youth is afraid to go home after school. "
    "Veilig Thuis must assess the safety of the youth today, before the school day ends."
)


@dataclass
class Party:
    caller: Caller
    private_key: bytes
    public_key: bytes

    @property
    def org(self) -> str:
        return self.caller.organisation_id

    def client(self, app_client: httpx.AsyncClient) -> ExchangeClient:
        return ExchangeClient(
            base_url="http://testserver",
            api_key=self.caller.key,
            professional_id=self.caller.professional_id,
            private_key=self.private_key,
            transport=app_client._transport,  # type: ignore[arg-type]
        )


async def open_match(
    client: httpx.AsyncClient, callers: list[Caller], bsn: str = "111222333", birth: str = FROM_16
) -> str:
    match_id: str | None = None
    for caller in callers:
        r = await client.post(
            "/v1/registrations", json=registration_body(bsn, birth), headers=caller.headers
        )
        assert r.status_code == 201, r.text
        match_id = r.json()["match_id"] or match_id
    assert match_id is not None
    return match_id


async def with_key(client: httpx.AsyncClient, caller: Caller) -> Party:
    private, public = hpke_generate_keypair()
    r = await client.put(
        "/v1/organisations/me/encryption-key",
        json={"public_key": base64.b64encode(public).decode()},
        headers=caller.admin_headers,
    )
    assert r.status_code == 201, r.text
    return Party(caller, private, public)


def consent_body(counterpart: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "counterpart_organisation_id": counterpart,
        "event": "given",
        "grantor": "youth",
        "purpose": "care-coordination",
        "data_categories": ["care"],
        "direction": "outgoing",
        "subject_birth_date": FROM_16,
        "method": "written",
    }
    body.update(overrides)
    return body


async def record(
    client: httpx.AsyncClient, match_id: str, caller: Caller, counterpart: str, **overrides: Any
) -> dict[str, Any]:
    r = await client.post(
        f"/v1/matches/{match_id}/consents",
        json=consent_body(counterpart, **overrides),
        headers=caller.headers,
    )
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


def raw_exchange(recipient: str, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "recipient_organisation_id": recipient,
        "purpose": "care-coordination",
        "data_category": "care",
        "enc": base64.b64encode(b"\x01" * 32).decode(),
        "ciphertext": base64.b64encode(b"sealed elsewhere").decode(),
    }
    body.update(overrides)
    return body

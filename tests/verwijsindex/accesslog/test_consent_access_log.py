"""The consent and exchange routes are in the access log like every other access to data about
a youth: each answers with exactly the expected records (operation, activity, status, the match
as subject, the consent event or exchange as reference), refusals included, and no record holds
personal content. The encryption-key routes hold no personal data and write none."""

from __future__ import annotations

import base64
import re
from typing import Any

import httpx

from crypto import hpke_generate_keypair
from tests.conftest import Caller
from tests.consent.helpers import (
    FROM_16,
    JUSTIFICATION,
    consent_body,
    open_match,
    raw_exchange,
    with_key,
)
from tests.verwijsindex.helpers import records
from verwijsindex.accesslog import AccessLogRecord, Operation, activity_of
from verwijsindex.context import AppContext

BSN = "111222333"


class Log:
    """The records written since the last call."""

    def __init__(self, ctx: AppContext) -> None:
        self.ctx = ctx
        self.seen = 0

    async def new(self) -> list[AccessLogRecord]:
        found = [r for r in await records(self.ctx) if r.seq > self.seen]
        if found:
            self.seen = found[-1].seq
        return found

    async def summary(self) -> list[tuple[Any, ...]]:
        """(operation, activity, status, organisation, subject type, subject, reason,
        reference) of each new record; every new record's pseudonym is checked to be empty."""
        found = await self.new()
        assert all(r.subject_pseudonym is None for r in found)
        for r in found:
            assert r.activity_id == activity_of(Operation(r.operation))
        return [
            (
                r.operation,
                r.status,
                r.organisation_id,
                r.subject_ref_type,
                r.subject_ref,
                r.reason,
                r.reference,
            )
            for r in found
        ]


def _match(match_id: str) -> tuple[str, str]:
    return ("match", match_id)


async def _matched(
    client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
) -> tuple[str, Log]:
    """A match of the first two callers, and the log from here on."""
    match_id = await open_match(client, callers[:2], bsn=BSN, birth=FROM_16)
    log = Log(ctx)
    await log.new()
    return match_id, log


async def _logged_values(ctx: AppContext) -> list[str]:
    """Every value of every access-log record, as text."""
    return [
        str(getattr(x, c.key))
        for x in await records(ctx)
        for c in AccessLogRecord.__table__.columns
    ]


_HEX = set("0123456789abcdef")


def _holds(value: str, needle: str) -> bool:
    """Whether ``value`` holds ``needle`` other than by chance inside a hash, id or the
    fraction of a timestamp: a hit with a hex digit on both sides is such chance (as
    ``tests/at_rest.py`` rules), and so is one in a record's own time (a timestamp's text)."""
    if _TIMESTAMP.fullmatch(value):
        return False
    start = value.find(needle)
    while start != -1:
        end = start + len(needle)
        before = value[start - 1].lower() if start else ""
        after = value[end].lower() if end < len(value) else ""
        if not (before in _HEX and after in _HEX and before and after):
            return True
        start = value.find(needle, start + 1)
    return False


_TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}(\.\d+)?([+-]\d{2}:\d{2})?")


class TestConsentRoutes:
    async def test_each_consent_route_records_its_operation_on_the_match(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        a, b, _ = callers
        match_id, log = await _matched(client, callers, ctx)
        org = a.organisation_id

        r = await client.post(
            f"/v1/matches/{match_id}/consents",
            json=consent_body(b.organisation_id),
            headers=a.headers,
        )
        assert r.status_code == 201, r.text
        event_id = r.json()["id"]
        assert await log.summary() == [
            ("consent.record", "success", org, *_match(match_id), None, event_id)
        ]
        [record] = [x for x in await records(ctx) if x.seq == log.seen]
        assert record.professional_id == a.professional_id
        assert record.activity_id == "VI-07"

        r = await client.get(f"/v1/matches/{match_id}/consents", headers=a.headers)
        assert r.status_code == 200
        assert await log.summary() == [
            ("consent.list", "success", org, *_match(match_id), None, None)
        ]

        r = await client.get(
            f"/v1/matches/{match_id}/consents/decision",
            params={
                "recipient_organisation_id": b.organisation_id,
                "purpose": "care-coordination",
                "data_category": "care",
            },
            headers=a.headers,
        )
        assert r.status_code == 200 and r.json()["allowed"]
        assert await log.summary() == [
            ("consent.decision", "success", org, *_match(match_id), None, None)
        ]

        for export in ("fhir", "record"):
            r = await client.get(f"/v1/consents/{event_id}/{export}", headers=a.headers)
            assert r.status_code == 200
            assert await log.summary() == [
                ("consent.export", "success", org, *_match(match_id), None, event_id)
            ]

    async def test_refusals_are_recorded_with_the_reference_asked_for(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        a, b, outsider = callers
        match_id = await open_match(client, [a, b], bsn=BSN, birth=FROM_16)
        r = await client.post(
            f"/v1/matches/{match_id}/consents",
            json=consent_body(b.organisation_id),
            headers=a.headers,
        )
        event_id = r.json()["id"]
        log = Log(ctx)
        await log.new()
        stranger = outsider.organisation_id

        r = await client.get(f"/v1/matches/{match_id}/consents", headers=outsider.headers)
        assert r.status_code == 404
        r = await client.get(f"/v1/consents/{event_id}/record", headers=outsider.headers)
        assert r.status_code == 404
        r = await client.post(
            f"/v1/matches/{match_id}/consents", json=consent_body(b.organisation_id)
        )
        assert r.status_code == 401
        r = await client.post(
            f"/v1/matches/{match_id}/consents",
            json=consent_body(b.organisation_id, subject_birth_date="1990-01-01"),
            headers=a.headers,
        )
        assert r.status_code == 422  # 23 or older: refused, the birth date is not logged
        assert await log.summary() == [
            ("consent.list", "denied", stranger, *_match(match_id), None, None),
            ("consent.export", "denied", stranger, "consent", event_id, None, None),
            ("consent.record", "denied", None, *_match(match_id), None, None),
            ("consent.record", "failure", a.organisation_id, *_match(match_id), None, None),
        ]
        assert not any(_holds(value, "1990") for value in await _logged_values(ctx))


class TestExchangeRoutes:
    async def test_each_exchange_route_records_its_operation_and_refusals(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        a, b, _ = callers
        match_id, log = await _matched(client, callers, ctx)
        recipient = await with_key(client, b)
        _, public = hpke_generate_keypair()
        r = await client.put(
            "/v1/organisations/me/encryption-key",
            json={"public_key": base64.b64encode(public).decode()},
            headers=a.admin_headers,
        )
        assert r.status_code == 201
        r = await client.get(f"/v1/organisations/{recipient.org}/encryption-key", headers=a.headers)
        assert r.status_code == 200
        assert await log.new() == []  # keys are no data about a youth
        r = await client.post(
            f"/v1/matches/{match_id}/consents",
            json=consent_body(recipient.org),
            headers=a.headers,
        )
        assert r.status_code == 201
        await log.new()
        url = f"/v1/matches/{match_id}/exchanges"
        sender, receiver = a.organisation_id, b.organisation_id

        r = await client.post(url, json=raw_exchange(recipient.org), headers=a.headers)
        assert r.status_code == 201, r.text
        on_consent = r.json()["id"]
        body = raw_exchange(
            recipient.org, legal_ground={"code": "court-measure", "justification": JUSTIFICATION}
        )
        r = await client.post(url, json=body, headers=a.headers)
        assert r.status_code == 201, r.text
        on_ground = r.json()["id"]
        r = await client.post(
            url, json=raw_exchange(recipient.org, data_category="health"), headers=a.headers
        )
        assert r.status_code == 403
        assert r.json()["type"].endswith("/consent-required")
        assert await log.summary() == [
            ("exchange.create", "success", sender, *_match(match_id), None, on_consent),
            ("exchange.create", "success", sender, *_match(match_id), "court-measure", on_ground),
            ("exchange.create", "denied", sender, *_match(match_id), None, None),
        ]

        r = await client.get("/v1/exchanges", headers=b.headers)
        assert r.status_code == 200 and len(r.json()["items"]) == 2
        assert await log.summary() == [
            ("exchange.list", "success", receiver, *_match(match_id), None, None)
        ]

        r = await client.get(f"/v1/exchanges/{on_consent}", headers=b.headers)
        assert r.status_code == 200
        r = await client.post(f"/v1/exchanges/{on_consent}/acknowledge", headers=b.headers)
        assert r.status_code == 200
        r = await client.get(f"/v1/exchanges/{on_consent}", headers=b.headers)
        assert r.status_code == 410  # acknowledged: the ciphertext is gone
        r = await client.get(f"/v1/exchanges/{on_ground}", headers=a.headers)
        assert r.status_code == 404  # only the recipient fetches
        assert await log.summary() == [
            ("exchange.read", "success", receiver, *_match(match_id), None, on_consent),
            ("exchange.acknowledge", "success", receiver, *_match(match_id), None, on_consent),
            ("exchange.read", "failure", receiver, "exchange", on_consent, None, None),
            ("exchange.read", "denied", sender, "exchange", on_ground, None, None),
        ]

        r = await client.get("/v1/exchanges", headers=a.headers)
        assert r.status_code == 200 and r.json()["items"] == []
        assert await log.summary() == [("exchange.list", "success", sender, None, None, None, None)]

    async def test_no_record_holds_content_or_the_justification(
        self, client: httpx.AsyncClient, callers: list[Caller], ctx: AppContext
    ) -> None:
        a, b, _ = callers
        match_id = await open_match(client, [a, b], bsn=BSN, birth=FROM_16)
        recipient = await with_key(client, b)
        body = raw_exchange(
            recipient.org, legal_ground={"code": "meldrecht", "justification": JUSTIFICATION}
        )
        r = await client.post(f"/v1/matches/{match_id}/exchanges", json=body, headers=a.headers)
        assert r.status_code == 201, r.text
        r = await client.get(f"/v1/exchanges/{r.json()['id']}", headers=b.headers)
        assert r.status_code == 200
        values = await _logged_values(ctx)
        for secret in (BSN, FROM_16, body["ciphertext"], JUSTIFICATION[:40], "violence"):
            assert not any(secret in v for v in values), secret

"""The exchange gate end to end through HTTP, on both databases."""

from __future__ import annotations

import base64
from datetime import timedelta

import httpx
import pytest
from sqlalchemy import select

from consent import Exchange
from crypto import HPKEError
from tests.conftest import Caller
from tests.consent.helpers import (
    FROM_12_TO_15,
    JUSTIFICATION,
    PROBLEM,
    UNDER_12,
    open_match,
    raw_exchange,
    record,
    with_key,
)
from verwijsindex.client.exchange import ClientError
from verwijsindex.clock import FrozenClock
from verwijsindex.context import AppContext
from verwijsindex.registrations.sweep import sweep_once


class TestAllowed:
    async def test_hpke_round_trip_through_the_api_with_the_client(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2])
        sender, recipient = await with_key(client, callers[0]), await with_key(client, callers[1])
        event = await record(client, match_id, callers[0], recipient.org)
        assert event["ledger_index"] == 0
        assert event["age_band"] == "16-plus"
        assert "subject_birth_date" not in event

        async with sender.client(client) as out, recipient.client(client) as inbox:
            sent = await out.send(match_id, recipient.org, "care-coordination", "care", b"zorgplan")
            assert sent.consent_reference == [event["id"]]
            assert sent.ledger_index == 1
            assert not sent.flagged_for_review
            items = await inbox.inbox()
            assert [i["id"] for i in items] == [sent.id]
            received = await inbox.read(sent.id)
            assert received.plaintext == b"zorgplan"
            assert received.sender_organisation_id == sender.org
            # Acknowledged: the ciphertext is deleted and the inbox is empty.
            assert await inbox.inbox() == []
            with pytest.raises(ClientError) as gone:
                await inbox.read(sent.id)
            assert gone.value.status == 410

    async def test_the_sender_cannot_read_its_own_exchange(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2])
        sender, recipient = await with_key(client, callers[0]), await with_key(client, callers[1])
        await record(client, match_id, callers[0], recipient.org)
        async with sender.client(client) as out:
            sent = await out.send(match_id, recipient.org, "care-coordination", "care", b"x")
        r = await client.get(f"/v1/exchanges/{sent.id}", headers=callers[0].headers)
        assert r.status_code == 404


class TestRefused:
    async def test_no_consent_is_403_naming_the_missing_party(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2])
        recipient = await with_key(client, callers[1])
        r = await client.post(
            f"/v1/matches/{match_id}/exchanges",
            json=raw_exchange(recipient.org),
            headers=callers[0].headers,
        )
        assert r.status_code == 403
        problem = r.json()
        assert problem["type"].endswith("/consent-required")
        assert set(problem["missing"]) == {"youth", "parent-or-guardian"}

    async def test_refusal_is_403_refused_by_youth(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2])
        recipient = await with_key(client, callers[1])
        await record(client, match_id, callers[0], recipient.org, event="refused")
        r = await client.post(
            f"/v1/matches/{match_id}/exchanges",
            json=raw_exchange(recipient.org),
            headers=callers[0].headers,
        )
        assert r.status_code == 403
        assert r.json()["refused_by"] == ["youth"]
        assert r.json()["missing"] == []

    async def test_consent_for_another_category_does_not_cover(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2])
        recipient = await with_key(client, callers[1])
        await record(client, match_id, callers[0], recipient.org, data_categories=["education"])
        r = await client.post(
            f"/v1/matches/{match_id}/exchanges",
            json=raw_exchange(recipient.org),
            headers=callers[0].headers,
        )
        assert r.status_code == 403

    async def test_incoming_consent_does_not_let_the_recorder_send(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2])
        await with_key(client, callers[0])
        recipient = await with_key(client, callers[1])
        await record(client, match_id, callers[0], recipient.org, direction="incoming")
        r = await client.post(
            f"/v1/matches/{match_id}/exchanges",
            json=raw_exchange(recipient.org),
            headers=callers[0].headers,
        )
        assert r.status_code == 403
        # ...but the counterpart may send to the recorder.
        r = await client.post(
            f"/v1/matches/{match_id}/exchanges",
            json=raw_exchange(callers[0].organisation_id),
            headers=callers[1].headers,
        )
        assert r.status_code == 201, r.text


class TestWithdrawn:
    async def test_withdrawal_mid_way_stops_sending_and_withholds_undelivered(
        self, client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock
    ) -> None:
        match_id = await open_match(client, callers[:2])
        sender, recipient = await with_key(client, callers[0]), await with_key(client, callers[1])
        await record(client, match_id, callers[0], recipient.org)
        async with sender.client(client) as out, recipient.client(client) as inbox:
            first = await out.send(match_id, recipient.org, "care-coordination", "care", b"one")
            clock.advance(timedelta(minutes=5))
            await record(client, match_id, callers[0], recipient.org, event="withdrawn")
            with pytest.raises(ClientError) as refused:
                await out.send(match_id, recipient.org, "care-coordination", "care", b"two")
            assert refused.value.status == 403
            with pytest.raises(ClientError) as gone:
                await inbox.read(first.id)
            assert gone.value.status == 410
            assert gone.value.problem["type"] == PROBLEM + "exchange-unavailable"
        r = await client.get(
            "/v1/exchanges", params={"include_done": "true"}, headers=callers[1].headers
        )
        assert r.json()["items"][0]["deletion_reason"] == "consent-withdrawn"

    async def test_posting_with_a_stale_consent_reference_is_409(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2])
        recipient = await with_key(client, callers[1])
        await record(client, match_id, callers[0], recipient.org)
        r = await client.post(
            f"/v1/matches/{match_id}/exchanges",
            json=raw_exchange(recipient.org, consent_reference=["not-the-current-one"]),
            headers=callers[0].headers,
        )
        assert r.status_code == 409
        assert r.json()["type"] == PROBLEM + "consent-changed"


class TestExpired:
    async def test_expiry_ends_the_grant_without_an_event(
        self, client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock
    ) -> None:
        match_id = await open_match(client, callers[:2])
        recipient = await with_key(client, callers[1])
        until = (clock.now() + timedelta(days=1)).isoformat()
        await record(client, match_id, callers[0], recipient.org, valid_until=until)
        url = f"/v1/matches/{match_id}/exchanges"
        body = raw_exchange(recipient.org)
        assert (await client.post(url, json=body, headers=callers[0].headers)).status_code == 201
        clock.advance(timedelta(days=1))
        r = await client.post(url, json=body, headers=callers[0].headers)
        assert r.status_code == 403
        assert r.json()["missing"] == ["youth"]

    async def test_unacknowledged_ciphertext_is_deleted_after_retention(
        self, client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock, ctx: AppContext
    ) -> None:
        match_id = await open_match(client, callers[:2])
        recipient = await with_key(client, callers[1])
        await record(client, match_id, callers[0], recipient.org)
        r = await client.post(
            f"/v1/matches/{match_id}/exchanges",
            json=raw_exchange(recipient.org),
            headers=callers[0].headers,
        )
        exchange_id = r.json()["id"]
        clock.advance(timedelta(days=ctx.settings.exchange_retention_days, seconds=1))
        await sweep_once(ctx)
        async with ctx.database.transaction() as session:
            row = (
                await session.execute(select(Exchange).where(Exchange.id == exchange_id))
            ).scalar_one()
        assert row.ciphertext is None and row.enc is None
        assert row.deletion_reason == "retention"
        r = await client.get(f"/v1/exchanges/{exchange_id}", headers=callers[1].headers)
        assert r.status_code == 410


class TestAgeBands:
    async def test_12_to_15_needs_youth_and_parent(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2], birth=FROM_12_TO_15)
        recipient = await with_key(client, callers[1])
        url = f"/v1/matches/{match_id}/exchanges"
        await record(client, match_id, callers[0], recipient.org, subject_birth_date=FROM_12_TO_15)
        r = await client.post(url, json=raw_exchange(recipient.org), headers=callers[0].headers)
        assert r.status_code == 403
        assert r.json()["missing"] == ["parent-or-guardian"]
        assert "parent-or-guardian" in r.json()["detail"]
        await record(
            client,
            match_id,
            callers[0],
            recipient.org,
            subject_birth_date=FROM_12_TO_15,
            grantor="guardian",
        )
        r = await client.post(url, json=raw_exchange(recipient.org), headers=callers[0].headers)
        assert r.status_code == 201, r.text
        assert len(r.json()["consent_reference"]) == 2

    async def test_12_to_15_only_parent_names_the_youth(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2], birth=FROM_12_TO_15)
        recipient = await with_key(client, callers[1])
        await record(
            client,
            match_id,
            callers[0],
            recipient.org,
            subject_birth_date=FROM_12_TO_15,
            grantor="parent",
        )
        r = await client.post(
            f"/v1/matches/{match_id}/exchanges",
            json=raw_exchange(recipient.org),
            headers=callers[0].headers,
        )
        assert r.status_code == 403
        assert r.json()["missing"] == ["youth"]

    async def test_under_12_a_parent_suffices(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2], birth=UNDER_12)
        recipient = await with_key(client, callers[1])
        event = await record(
            client,
            match_id,
            callers[0],
            recipient.org,
            subject_birth_date=UNDER_12,
            grantor="parent",
        )
        assert event["age_band"] == "under-12"
        r = await client.post(
            f"/v1/matches/{match_id}/exchanges",
            json=raw_exchange(recipient.org),
            headers=callers[0].headers,
        )
        assert r.status_code == 201, r.text


class TestLegalGround:
    async def test_legal_ground_is_allowed_and_flagged(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2])
        sender, recipient = await with_key(client, callers[0]), await with_key(client, callers[1])
        async with sender.client(client) as out, recipient.client(client) as inbox:
            sent = await out.send(
                match_id,
                recipient.org,
                "safety-assessment",
                "safety",
                b"urgent",
                legal_ground=("meldrecht", JUSTIFICATION),
            )
            assert sent.flagged_for_review
            assert sent.consent_reference == ["legal-ground:meldrecht"]
            items = await inbox.inbox()
            assert items[0]["flagged_for_review"] and items[0]["legal_ground"] == "meldrecht"
            assert (await inbox.read(sent.id)).plaintext == b"urgent"

    async def test_a_short_justification_is_422(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2])
        recipient = await with_key(client, callers[1])
        r = await client.post(
            f"/v1/matches/{match_id}/exchanges",
            json=raw_exchange(
                recipient.org, legal_ground={"code": "meldrecht", "justification": "urgent"}
            ),
            headers=callers[0].headers,
        )
        assert r.status_code == 422
        assert r.json()["type"] == PROBLEM + "invalid-consent"


class TestParticipation:
    async def test_non_participants_get_404(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2])
        await with_key(client, callers[0])
        outsider = callers[2]
        r = await client.post(
            f"/v1/matches/{match_id}/consents",
            json={
                "counterpart_organisation_id": callers[0].organisation_id,
                "event": "given",
                "grantor": "youth",
                "purpose": "care-coordination",
                "data_categories": ["care"],
                "direction": "outgoing",
                "subject_birth_date": "2008-01-01",
                "method": "oral",
            },
            headers=outsider.headers,
        )
        assert r.status_code == 404
        for url in (f"/v1/matches/{match_id}/consents",):
            assert (await client.get(url, headers=outsider.headers)).status_code == 404
        r = await client.post(
            f"/v1/matches/{match_id}/exchanges",
            json=raw_exchange(callers[0].organisation_id),
            headers=outsider.headers,
        )
        assert r.status_code == 404
        r = await client.get(
            f"/v1/organisations/{callers[0].organisation_id}/encryption-key",
            headers=outsider.headers,
        )
        assert r.status_code == 404

    async def test_consent_about_an_outsider_is_404(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2])
        r = await client.post(
            f"/v1/matches/{match_id}/consents",
            json={
                "counterpart_organisation_id": callers[2].organisation_id,
                "event": "given",
                "grantor": "youth",
                "purpose": "care-coordination",
                "data_categories": ["care"],
                "direction": "outgoing",
                "subject_birth_date": "2008-01-01",
                "method": "oral",
            },
            headers=callers[0].headers,
        )
        assert r.status_code == 404


class TestConsentViews:
    async def test_list_gives_events_and_folded_state(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        match_id = await open_match(client, callers[:2])
        b = callers[1].organisation_id
        event = await record(client, match_id, callers[0], b, direction="both")
        r = await client.get(f"/v1/matches/{match_id}/consents", headers=callers[1].headers)
        assert r.status_code == 200
        body = r.json()
        assert [e["id"] for e in body["events"]] == [event["id"]]
        flows = {
            (s["sender_organisation_id"], s["recipient_organisation_id"]): s["allowed"]
            for s in body["state"]
        }
        assert flows == {
            (callers[0].organisation_id, b): True,
            (b, callers[0].organisation_id): True,
        }

    async def test_fhir_export(self, client: httpx.AsyncClient, callers: list[Caller]) -> None:
        match_id = await open_match(client, callers[:2])
        event = await record(client, match_id, callers[0], callers[1].organisation_id)
        r = await client.get(f"/v1/consents/{event['id']}/fhir", headers=callers[1].headers)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("application/fhir+json")
        resource = r.json()
        assert resource["resourceType"] == "Consent"
        assert resource["decision"] == "permit"
        assert resource["subject"]["identifier"]["value"] == f"match:{match_id}"
        r = await client.get(f"/v1/consents/{event['id']}/fhir", headers=callers[2].headers)
        assert r.status_code == 404
        r = await client.get(f"/v1/consents/{event['id']}/record", headers=callers[0].headers)
        assert r.status_code == 200
        assert r.json()["event"]["age_band"] == "16-plus"
        assert r.json()["processing"]["pii_categories"] == ["care"]


class TestKeys:
    async def test_rotation_keeps_history_and_serves_the_current_key(
        self, client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock
    ) -> None:
        await open_match(client, callers[:2])
        first = await with_key(client, callers[1])
        clock.advance(timedelta(minutes=1))
        second = await with_key(client, callers[1])
        r = await client.get(
            f"/v1/organisations/{callers[1].organisation_id}/encryption-key",
            headers=callers[0].headers,
        )
        assert r.status_code == 200
        assert base64.b64decode(r.json()["public_key"]) == second.public_key != first.public_key

    async def test_a_professional_key_cannot_register_and_bad_keys_are_422(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        body = {"public_key": base64.b64encode(b"\x09" * 32).decode()}
        r = await client.put(
            "/v1/organisations/me/encryption-key", json=body, headers=callers[0].headers
        )
        assert r.status_code == 403
        short = {"public_key": base64.b64encode(b"\x09" * 31).decode()}
        r = await client.put(
            "/v1/organisations/me/encryption-key", json=short, headers=callers[0].admin_headers
        )
        assert r.status_code == 422


class TestRotation:
    async def test_an_exchange_sealed_before_rotation_opens_with_the_previous_key(
        self, client: httpx.AsyncClient, callers: list[Caller], clock: FrozenClock
    ) -> None:
        from verwijsindex.client.exchange import ExchangeClient

        match_id = await open_match(client, callers[:2])
        sender, old = await with_key(client, callers[0]), await with_key(client, callers[1])
        await record(client, match_id, callers[0], old.org)
        async with sender.client(client) as out:
            sent = await out.send(match_id, old.org, "care-coordination", "care", b"before")
        clock.advance(timedelta(minutes=1))
        new = await with_key(client, callers[1])
        only_new = ExchangeClient(
            base_url="http://testserver",
            api_key=callers[1].key,
            professional_id=callers[1].professional_id,
            private_key=new.private_key,
            transport=client._transport,  # type: ignore[arg-type]
        )
        async with only_new:
            with pytest.raises(HPKEError):
                await only_new.read(sent.id, acknowledge=False)
        both = ExchangeClient(
            base_url="http://testserver",
            api_key=callers[1].key,
            professional_id=callers[1].professional_id,
            private_key=new.private_key,
            previous_private_keys=[old.private_key],
            transport=client._transport,  # type: ignore[arg-type]
        )
        async with both:
            assert (await both.read(sent.id)).plaintext == b"before"

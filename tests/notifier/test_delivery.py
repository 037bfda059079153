"""Webhook delivery through the API and the in-process worker, to a real loopback receiver.

Every delivery is verified by the receiver with the independent ``standardwebhooks`` package.
Runs on SQLite and PostgreSQL. The retry schedule is shortened; waits are bounded polls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from crypto import parse_ed25519_public_key, verify_webhook_ed25519
from notifier import DeliveryAttempt, WebhookEndpoint, WebhookMessage
from tests.conftest import Caller, make_bsn, registration_body
from tests.notifier.receiver import Behaviour, Receiver, eventually, eventually_async
from verwijsindex.context import AppContext
from verwijsindex.settings import Settings

SCHEDULE = [0.0, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2, 0.2]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        run_sweeper=False,
        auto_migrate=False,
        run_webhook_worker=True,
        webhook_poll_interval_seconds=0.05,
        webhook_retry_schedule=SCHEDULE,
        webhook_retry_jitter=0.0,
        webhook_timeout_seconds=2.0,
        webhook_lease_seconds=4.0,
    )


@pytest.fixture(autouse=True)
def one_message_per_match_and_organisation(ctx: AppContext) -> None:
    """These tests are about delivery (retries, order, dead letters), counted in messages of
    one match to one organisation: the coordination hook, whose ``coordination.*`` webhooks
    would add messages to every match, is left out here. Coordination's webhooks, delivered
    to a real receiver, are tested in tests/verwijsindex/coordination/test_webhooks.py."""
    ctx.index.hooks = None


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    try:
        yield r
    finally:
        r.stop()


async def add_endpoint(
    client: httpx.AsyncClient, caller: Caller, receiver: Receiver, name: str, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/webhook-endpoints",
        json={"url": receiver.url(name), **extra},
        headers=caller.admin_headers,
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    receiver.expect(name, body["secret"])
    return body


async def register(client: httpx.AsyncClient, caller: Caller, youth: int) -> dict[str, Any]:
    response = await client.post(
        "/v1/registrations", json=registration_body(make_bsn(youth)), headers=caller.headers
    )
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


async def messages_of(ctx: AppContext, endpoint_id: str) -> list[WebhookMessage]:
    async with ctx.database.transaction() as session:
        rows = await session.scalars(
            select(WebhookMessage)
            .where(WebhookMessage.endpoint_id == endpoint_id)
            .order_by(WebhookMessage.seq)
        )
        return list(rows.all())


async def attempts_of(ctx: AppContext, endpoint_id: str) -> list[DeliveryAttempt]:
    async with ctx.database.transaction() as session:
        rows = await session.scalars(
            select(DeliveryAttempt)
            .where(DeliveryAttempt.endpoint_id == endpoint_id)
            .order_by(DeliveryAttempt.id)
        )
        return list(rows.all())


class TestDelivery:
    async def test_match_created_reaches_both_organisations_with_thin_payloads(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller], receiver: Receiver
    ) -> None:
        a, b = callers[0], callers[1]
        await add_endpoint(client, a, receiver, "a")
        await add_endpoint(client, b, receiver, "b")
        first = await register(client, a, 1)
        second = await register(client, b, 1)
        match_id = second["match_id"]
        assert match_id is not None

        await eventually(lambda: len(receiver.of("a")) == 1 and len(receiver.of("b")) == 1)
        (to_a,) = receiver.of("a")
        (to_b,) = receiver.of("b")
        assert to_a.payload["type"] == "match.created"
        assert to_a.payload["data"] == {"match_id": match_id, "registration_id": first["id"]}
        assert to_b.payload["data"] == {"match_id": match_id, "registration_id": second["id"]}
        assert set(to_a.payload) == {"type", "timestamp", "data"}
        assert to_a.webhook_id != to_b.webhook_id
        assert receiver.rejected == 0

        # Thin: nothing that identifies the youth or a professional travels.
        bsn = make_bsn(1)
        pseudonym = str(ctx.keys.pseudonymise(bsn))
        for delivery in (to_a, to_b):
            text = delivery.body.decode()
            for forbidden in (bsn, pseudonym, "2012-05-01", "Professional", "@org.example"):
                assert forbidden not in text
            for value in delivery.headers.values():
                assert bsn not in value and pseudonym not in value

    async def test_receiver_failing_then_recovering_gets_everything_once(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller], receiver: Receiver
    ) -> None:
        a, b = callers[0], callers[1]
        endpoint = await add_endpoint(client, a, receiver, "a")
        receiver.behaviour["a"] = Behaviour(statuses=[500, 503])
        await register(client, a, 2)
        await register(client, b, 2)
        await eventually(lambda: len(receiver.of("a")) == 1)
        await eventually_async(lambda: _all_delivered(ctx, endpoint["id"]))
        attempts = await attempts_of(ctx, endpoint["id"])
        assert [x.status_code for x in attempts] == [500, 503, 200]
        assert [x.outcome for x in attempts] == ["retry", "retry", "delivered"]
        assert [x.attempt for x in attempts] == [1, 2, 3]

        log = await client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}/deliveries", headers=a.admin_headers
        )
        assert log.status_code == 200
        items = log.json()["items"]
        assert [i["status_code"] for i in items] == [200, 503, 500]  # newest first
        assert {i["message_id"] for i in items} == {receiver.of("a")[0].webhook_id}
        assert "body" not in json.dumps(items) and "payload" not in json.dumps(items)

    async def test_retry_after_lengthens_the_wait(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller], receiver: Receiver
    ) -> None:
        a, b = callers[0], callers[1]
        endpoint = await add_endpoint(client, a, receiver, "a")
        receiver.behaviour["a"] = Behaviour(statuses=[429], headers={"Retry-After": "1"})
        await register(client, a, 3)
        await register(client, b, 3)
        await eventually(lambda: len(receiver.of("a")) == 1)
        await eventually_async(lambda: _all_delivered(ctx, endpoint["id"]))
        first, second = await attempts_of(ctx, endpoint["id"])
        assert first.status_code == 429
        assert first.next_attempt_at is not None
        assert (first.next_attempt_at - first.attempted_at).total_seconds() >= 1.0
        assert second.attempted_at >= first.next_attempt_at

    async def test_receiver_down_for_a_while_then_up(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller]
    ) -> None:
        receiver = Receiver()  # not listening yet: connection refused
        a, b = callers[0], callers[1]
        endpoint = await add_endpoint(client, a, receiver, "a")
        for youth in range(10, 15):
            await register(client, a, youth)
            await register(client, b, youth)

        async def all_failed_twice() -> bool:
            messages = await messages_of(ctx, endpoint["id"])
            return len(messages) == 5 and all(m.attempts >= 2 for m in messages)

        await eventually_async(all_failed_twice)
        attempts = await attempts_of(ctx, endpoint["id"])
        assert {x.error for x in attempts} == {"connection"}
        receiver.start()
        try:
            await eventually(lambda: len(receiver.unique("a")) == 5)
            messages = await messages_of(ctx, endpoint["id"])
            await eventually_async(
                lambda: _all_delivered(ctx, endpoint["id"]),
            )
            assert set(receiver.unique("a")) == {m.public_id for m in messages}
            assert len(receiver.of("a")) == 5  # once each
        finally:
            receiver.stop()

    async def test_dead_letter_after_the_schedule_then_redeliver(
        self,
        client: httpx.AsyncClient,
        ctx: AppContext,
        callers: list[Caller],
        receiver: Receiver,
        settings: Settings,
    ) -> None:
        a, b = callers[0], callers[1]
        endpoint = await add_endpoint(client, a, receiver, "a")
        receiver.behaviour["a"] = Behaviour(statuses=[500] * len(SCHEDULE))
        await register(client, a, 4)
        await register(client, b, 4)

        async def dead() -> bool:
            r = await client.get("/v1/webhook-messages?status=dead", headers=a.admin_headers)
            return len(r.json()["items"]) == 1

        await eventually_async(dead)
        await eventually_async(lambda: _all_dead(ctx, endpoint["id"]))
        (message,) = (
            await client.get("/v1/webhook-messages?status=dead", headers=a.admin_headers)
        ).json()["items"]
        assert message["attempts"] == len(SCHEDULE)
        assert message["last_status_code"] == 500
        attempts = await attempts_of(ctx, endpoint["id"])
        assert attempts[-1].outcome == "dead"
        assert receiver.of("a") == []

        other = await client.get("/v1/webhook-messages?status=dead", headers=b.admin_headers)
        assert other.json()["items"] == []
        assert (
            await client.post(
                f"/v1/webhook-messages/{message['id']}/redeliver", headers=b.admin_headers
            )
        ).status_code == 404

        again = await client.post(
            f"/v1/webhook-messages/{message['id']}/redeliver", headers=a.admin_headers
        )
        assert again.status_code == 202
        await eventually(lambda: len(receiver.of("a")) == 1)
        assert receiver.of("a")[0].webhook_id == message["id"]  # the same webhook-id

    async def test_410_disables_the_endpoint_until_enabled_again(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller], receiver: Receiver
    ) -> None:
        a, b = callers[0], callers[1]
        endpoint = await add_endpoint(client, a, receiver, "a")
        receiver.behaviour["a"] = Behaviour(statuses=[410])
        await register(client, a, 5)
        await register(client, b, 5)

        async def disabled() -> bool:
            r = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=a.admin_headers)
            body = r.json()
            return body["enabled"] is False and body["disabled_reason"] == "gone"

        await eventually_async(disabled)
        assert receiver.requests == 1
        assert receiver.of("a") == []
        attempts = await attempts_of(ctx, endpoint["id"])
        assert [x.outcome for x in attempts] == ["endpoint-disabled"]

        enabled = await client.patch(
            f"/v1/webhook-endpoints/{endpoint['id']}",
            json={"enabled": True},
            headers=a.admin_headers,
        )
        assert enabled.json()["enabled"] is True
        await eventually(lambda: len(receiver.of("a")) == 1)

    async def test_secret_rotation_signs_with_both_secrets_during_the_overlap(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller], receiver: Receiver
    ) -> None:
        a, b = callers[0], callers[1]
        endpoint = await add_endpoint(client, a, receiver, "a")
        old = endpoint["secret"]
        rotated = await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
            json={"overlap_seconds": 3600},
            headers=a.admin_headers,
        )
        assert rotated.status_code == 200
        new = rotated.json()["secret"]
        assert new.startswith("whsec_") and new != old
        receiver.expect("old", old)
        receiver.expect("new", new)
        receiver.expect("a", new)
        await register(client, a, 6)
        await register(client, b, 6)
        await eventually(lambda: len(receiver.of("a")) == 1)
        delivery = receiver.of("a")[0]
        signatures = delivery.headers["webhook-signature"].split(" ")
        assert len(signatures) == 2 and all(s.startswith("v1,") for s in signatures)
        from standardwebhooks.webhooks import Webhook

        for secret in (old, new):  # each verifies on its own
            Webhook(secret).verify(delivery.body, delivery.headers)

        # Without overlap the old secret stops at once.
        await client.post(
            f"/v1/webhook-endpoints/{endpoint['id']}/rotate-secret",
            json={"overlap_seconds": 0},
            headers=a.admin_headers,
        )
        (await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=a.admin_headers))
        newest = await client.get(
            f"/v1/webhook-endpoints/{endpoint['id']}", headers=a.admin_headers
        )
        assert newest.json()["previous_secret_expires_at"] is None

    async def test_ed25519_endpoint_gets_a_v1a_signature(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller], receiver: Receiver
    ) -> None:
        a, b = callers[0], callers[1]
        endpoint = await add_endpoint(client, a, receiver, "a", ed25519=True)
        public = endpoint["ed25519_public_key"]
        assert public.startswith("whpk_")
        await register(client, a, 7)
        await register(client, b, 7)
        await eventually(lambda: len(receiver.of("a")) == 1)
        delivery = receiver.of("a")[0]
        assert [s.split(",")[0] for s in delivery.headers["webhook-signature"].split()] == [
            "v1",
            "v1a",
        ]
        verify_webhook_ed25519(
            public_key=parse_ed25519_public_key(public),
            headers=delivery.headers,
            body=delivery.body,
            now=int(delivery.headers["webhook-timestamp"]),
        )

    async def test_a_hanging_endpoint_does_not_delay_another(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller], receiver: Receiver
    ) -> None:
        a, b = callers[0], callers[1]
        await add_endpoint(client, a, receiver, "slow")
        await add_endpoint(client, b, receiver, "fast")
        receiver.behaviour["slow"] = Behaviour(hang=True)
        await register(client, a, 8)
        await register(client, b, 8)
        await eventually(lambda: receiver.hanging == 1)
        await eventually(lambda: len(receiver.of("fast")) == 1)
        assert receiver.hanging == 1  # the slow one is still held
        assert receiver.of("slow") == []
        receiver.release.set()

    async def test_an_unreadable_secret_disables_its_endpoint_only(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller], receiver: Receiver
    ) -> None:
        a, b = callers[0], callers[1]
        broken = await add_endpoint(client, a, receiver, "broken")
        await add_endpoint(client, b, receiver, "fine")
        async with ctx.database.transaction() as session:
            row = await session.get(WebhookEndpoint, broken["id"])
            assert row is not None
            row.secret_sealed = "k1.AAAA"  # sealed under a key this process does not hold
        await register(client, a, 21)
        await register(client, b, 21)
        await eventually(lambda: len(receiver.of("fine")) == 1)

        async def disabled() -> bool:
            r = await client.get(f"/v1/webhook-endpoints/{broken['id']}", headers=a.admin_headers)
            return r.json()["disabled_reason"] == "secret-unreadable"

        await eventually_async(disabled)
        assert receiver.of("broken") == []

        # Recovery: a new secret (no overlap possible) and enable again.
        rotated = await client.post(
            f"/v1/webhook-endpoints/{broken['id']}/rotate-secret",
            json={"overlap_seconds": 3600},
            headers=a.admin_headers,
        )
        assert rotated.status_code == 200
        assert rotated.json()["previous_secret_expires_at"] is None
        receiver.expect("broken", rotated.json()["secret"])
        await client.patch(
            f"/v1/webhook-endpoints/{broken['id']}", json={"enabled": True}, headers=a.admin_headers
        )
        await eventually(lambda: len(receiver.of("broken")) == 1)

    async def test_events_of_one_match_arrive_in_order(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller], receiver: Receiver
    ) -> None:
        a, b, c = callers
        await add_endpoint(client, b, receiver, "b")
        receiver.behaviour["b"] = Behaviour(statuses=[500, 500])  # the first event fails twice
        first = await register(client, a, 9)
        await register(client, b, 9)
        await register(client, c, 9)
        withdrawn = await client.post(
            f"/v1/registrations/{first['id']}/withdraw",
            json={"reason": "risk_resolved"},
            headers=a.headers,
        )
        assert withdrawn.status_code == 200
        await eventually(lambda: len(receiver.of("b")) == 3)
        assert [d.payload["type"] for d in receiver.of("b")] == [
            "match.created",
            "match.participant_joined",
            "match.participant_left",
        ]


async def _all_delivered(ctx: AppContext, endpoint_id: str) -> bool:
    messages = await messages_of(ctx, endpoint_id)
    return bool(messages) and all(m.status == "delivered" for m in messages)


async def _all_dead(ctx: AppContext, endpoint_id: str) -> bool:
    messages = await messages_of(ctx, endpoint_id)
    return bool(messages) and all(m.status == "dead" for m in messages)


class TestEndpointApi:
    async def test_only_org_admins_and_only_their_own(
        self, client: httpx.AsyncClient, callers: list[Caller], receiver: Receiver
    ) -> None:
        a, b = callers[0], callers[1]
        for headers in (a.headers, a.auditor_headers):
            r = await client.post(
                "/v1/webhook-endpoints", json={"url": receiver.url("x")}, headers=headers
            )
            assert r.status_code == 403
            assert r.headers["content-type"] == "application/problem+json"
        endpoint = await add_endpoint(client, a, receiver, "a", description="case system")
        for method, path in (
            ("GET", f"/v1/webhook-endpoints/{endpoint['id']}"),
            ("PATCH", f"/v1/webhook-endpoints/{endpoint['id']}"),
            ("DELETE", f"/v1/webhook-endpoints/{endpoint['id']}"),
            ("GET", f"/v1/webhook-endpoints/{endpoint['id']}/deliveries"),
        ):
            r = await client.request(
                method, path, headers=b.admin_headers, json={} if method == "PATCH" else None
            )
            assert r.status_code == 404, (method, path)
            assert r.json()["type"].endswith("/webhook-endpoint-not-found")

        listed = await client.get("/v1/webhook-endpoints", headers=a.admin_headers)
        assert [e["id"] for e in listed.json()["items"]] == [endpoint["id"]]
        assert (await client.get("/v1/webhook-endpoints", headers=b.admin_headers)).json()[
            "items"
        ] == []
        one = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=a.admin_headers)
        assert one.json()["description"] == "case system"
        assert "secret" not in one.json()
        assert endpoint["secret"] not in one.text and endpoint["secret"] not in listed.text

        patched = await client.patch(
            f"/v1/webhook-endpoints/{endpoint['id']}",
            json={"url": receiver.url("moved"), "enabled": False},
            headers=a.admin_headers,
        )
        assert patched.json()["url"] == receiver.url("moved")
        assert patched.json()["enabled"] is False
        deleted = await client.delete(
            f"/v1/webhook-endpoints/{endpoint['id']}", headers=a.admin_headers
        )
        assert deleted.status_code == 204
        gone = await client.get(f"/v1/webhook-endpoints/{endpoint['id']}", headers=a.admin_headers)
        assert gone.status_code == 404

    async def test_secrets_are_sealed_at_rest(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller], receiver: Receiver
    ) -> None:
        endpoint = await add_endpoint(client, callers[0], receiver, "a", ed25519=True)
        async with ctx.database.transaction() as session:
            row = await session.get(WebhookEndpoint, endpoint["id"])
            assert row is not None
            stored = " ".join(
                str(v) for v in (row.secret_sealed, row.signing_key_sealed, row.public_key)
            )
        secret_b64 = endpoint["secret"].removeprefix("whsec_")
        assert secret_b64 not in stored and "whsec_" not in stored and "whsk_" not in stored
        assert row.secret_sealed.startswith("k1.")


class TestDevelopmentDefaults:
    """Issue 14, finding 13: development posted webhooks to private networks by default.
    Development's default settings (this module's fixture) reach loopback only."""

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://10.1.2.3/vi", "private-address"),
            ("http://192.168.1.10:8080/vi", "private-address"),
            ("http://172.16.0.5/vi", "private-address"),
            ("http://100.64.0.1/vi", "cgnat"),
            ("http://[fd00::1]/vi", "private-address"),
            ("http://167772161/vi", "private-address"),  # 10.0.0.1 as one number
        ],
    )
    async def test_private_address_is_refused_and_nothing_stored_or_sent(
        self,
        client: httpx.AsyncClient,
        ctx: AppContext,
        callers: list[Caller],
        url: str,
        reason: str,
    ) -> None:
        assert not ctx.settings.is_production
        r = await client.post(
            "/v1/webhook-endpoints", json={"url": url}, headers=callers[0].admin_headers
        )
        assert r.status_code == 422
        assert r.json()["reason"] == reason
        listed = await client.get("/v1/webhook-endpoints", headers=callers[0].admin_headers)
        assert listed.json()["items"] == []
        # A match for the organisation: with no endpoint stored, no message is made to send.
        await register(client, callers[0], 31)
        await register(client, callers[1], 31)
        async with ctx.database.read() as session:
            assert list((await session.execute(select(WebhookEndpoint))).scalars()) == []
            assert list((await session.execute(select(WebhookMessage))).scalars()) == []


class TestSsrfAtRegistration:
    @pytest.fixture
    def settings(self, database_url: str, tmp_path: Path) -> Settings:
        return Settings(
            data_dir=tmp_path,
            database_url=database_url,
            run_sweeper=False,
            auto_migrate=False,
            run_webhook_worker=True,
            webhook_poll_interval_seconds=0.05,
            webhook_retry_schedule=[0.0, 0.2],
            allow_http_webhooks=False,
            allow_loopback_webhook_addresses=False,
            allow_private_webhook_addresses=False,
        )

    @pytest.mark.parametrize(
        ("url", "reason"),
        [
            ("http://hooks.example.org/vi", "scheme"),
            ("ftp://hooks.example.org/vi", "scheme"),
            ("https://127.0.0.1/vi", "loopback"),
            ("https://[::1]/vi", "loopback"),
            ("https://2130706433/vi", "loopback"),
            ("https://0x7f.1/vi", "loopback"),
            ("https://[::ffff:127.0.0.1]/vi", "loopback"),
            ("https://10.1.2.3/vi", "private-address"),
            ("https://192.168.1.10/vi", "private-address"),
            ("https://172.16.0.5/vi", "private-address"),
            ("https://[fd00::1]/vi", "private-address"),
            ("https://100.64.0.1/vi", "cgnat"),
            ("https://169.254.169.254/latest/meta-data", "link-local"),
            ("https://[fe80::1]/vi", "link-local"),
            ("https://224.0.0.1/vi", "multicast"),
            ("https://0.0.0.0/vi", "unspecified"),
            ("https://user:pw@hooks.example.org/vi", "userinfo"),
            ("https://hooks.example.org/vi#frag", "fragment"),
            ("https://hooks.example.org:0/vi", "port"),
        ],
    )
    async def test_unsafe_url_is_refused_with_its_reason(
        self, client: httpx.AsyncClient, callers: list[Caller], url: str, reason: str
    ) -> None:
        r = await client.post(
            "/v1/webhook-endpoints", json={"url": url}, headers=callers[0].admin_headers
        )
        assert r.status_code == 422
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["type"] == "https://verwijsindex.nl/problems/unsafe-webhook-url"
        assert body["reason"] == reason
        assert url not in r.text

    async def test_name_resolving_to_loopback_is_refused_at_delivery(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller]
    ) -> None:
        a, b = callers[0], callers[1]
        r = await client.post(
            "/v1/webhook-endpoints",
            json={"url": "https://localhost/vi"},
            headers=a.admin_headers,
        )
        assert r.status_code == 201  # names are resolved at delivery time
        await register(client, a, 20)
        await register(client, b, 20)

        async def refused() -> bool:
            attempts = await attempts_of(ctx, r.json()["id"])
            return len(attempts) >= 1

        await eventually_async(refused)
        attempts = await attempts_of(ctx, r.json()["id"])
        assert attempts[0].error == "unsafe-address"
        assert attempts[0].status_code is None

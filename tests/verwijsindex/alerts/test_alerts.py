"""Personal e-mail alerts, end to end: registrations through the API make matches, the
in-process alert worker sends through a real SMTP relay on loopback (aiosmtpd, STARTTLS with a
certificate made by the test, AUTH), and the test reads what arrived.

Runs on SQLite and PostgreSQL with a shortened retry schedule; waits are bounded polls.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from notifier import AlertMessage
from tests.conftest import Caller, make_bsn, make_caller
from tests.notifier.receiver import eventually, eventually_async
from tests.notifier.smtp_server import PASSWORD, USER, Received, SmtpRelay, make_certificates
from tests.notifier.test_delivery import register
from verwijsindex.context import AppContext
from verwijsindex.logging import configure_logging
from verwijsindex.settings import Settings

PORTAL = "https://verwijsindex.gemeente.test/portal/"
SCHEDULE = [0.0] + [0.2] * 11


@pytest.fixture(autouse=True)
def _info_logging(capsys: pytest.CaptureFixture[str]) -> None:
    """Logging as the service configures it, before the app and its alert worker are built:
    the worker binds its logger when it is made, so a level another test left behind would
    otherwise hold for it (the log checks below would then see no ``alert_attempt``)."""
    configure_logging(level="info", json=True)


@pytest.fixture
def relay_dir(tmp_path: Path) -> Path:
    path = tmp_path / "relay"
    path.mkdir()
    return path


@pytest.fixture
def relay(relay_dir: Path) -> Iterator[SmtpRelay]:
    r = SmtpRelay(relay_dir)
    try:
        yield r
    finally:
        r.stop()


@pytest.fixture
def settings(
    database_url: str, tmp_path: Path, relay: SmtpRelay, request: pytest.FixtureRequest
) -> Settings:
    marker = request.node.get_closest_marker("schedule")
    ca_marker = request.node.get_closest_marker("other_ca")
    ca_file = relay.ca_file
    if ca_marker is not None:  # a CA that did not sign the relay's certificate
        other = tmp_path / "other-ca"
        other.mkdir()
        ca_file, _, _ = make_certificates(other)
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        run_sweeper=False,
        auto_migrate=False,
        run_webhook_worker=False,
        webhook_poll_interval_seconds=0.05,
        webhook_retry_schedule=marker.args[0] if marker else SCHEDULE,
        webhook_retry_jitter=0.0,
        smtp_host="127.0.0.1",
        smtp_port=relay.port,
        smtp_username=USER,
        smtp_password=PASSWORD,
        smtp_from="verwijsindex@gemeente.test",
        smtp_ca_file=ca_file,
        smtp_timeout_seconds=5.0,
        portal_url=PORTAL,
    )


def email_of(n: int) -> str:
    return f"pro{n}@org.example"  # what make_caller gives professional n


NEW_MATCH = "Verwijsindex: er is een nieuwe match"
JOINED = "Verwijsindex: een nieuwe deelnemer in een match"
COORDINATION = "Verwijsindex: de afstemming vraagt uw aandacht"


def match_mails(relay: SmtpRelay, n: int) -> list[Received]:
    """What professional n received about matches (a new match also starts its coordination,
    whose proposal mails the proposed organisation's professional: counted apart)."""
    return [r for r in relay.to(email_of(n)) if r.message["Subject"] in (NEW_MATCH, JOINED)]


def all_match_mails(relay: SmtpRelay) -> list[Received]:
    return [r for r in relay.messages() if r.message["Subject"] in (NEW_MATCH, JOINED)]


async def alerts_of(
    client: httpx.AsyncClient, caller: Caller, query: str = "", *, every: bool = False
) -> list[Any]:
    """The organisation's alerts about matches (``every``: of every event type)."""
    r = await client.get(f"/v1/alert-messages{query}", headers=caller.admin_headers)
    assert r.status_code == 200, r.text
    items: list[Any] = r.json()["items"]
    return [i for i in items if every or i["event_type"].startswith("match.")]


class TestDelivery:
    async def test_a_new_match_mails_both_professionals_and_says_nothing_about_the_youth(
        self,
        client: httpx.AsyncClient,
        ctx: AppContext,
        callers: list[Caller],
        relay: SmtpRelay,
        capsys: pytest.CaptureFixture[str],
    ) -> None:
        configure_logging(level="info", json=True)
        relay.start()
        a, b = callers[0], callers[1]
        first = await register(client, a, 1)
        second = await register(client, b, 1)
        match_id = second["match_id"]
        assert match_id is not None

        await eventually(
            lambda: len(match_mails(relay, 0)) == 1 and len(match_mails(relay, 1)) == 1
        )
        bsn = make_bsn(1)
        forbidden = [
            bsn,
            str(ctx.keys.pseudonymise(bsn)),
            "2012-05-01",
            "2012",
            match_id,
            first["id"],
            second["id"],
            "Professional",
            "Organisation",
            a.professional_id,
            b.professional_id,
        ]
        for n, caller in ((0, a), (1, b)):
            (received,) = match_mails(relay, n)
            assert received.tls and received.authenticated
            assert received.rcpt_tos == [email_of(n)]
            assert received.mail_from == "verwijsindex@gemeente.test"
            message = received.message
            assert message["Subject"] == "Verwijsindex: er is een nieuwe match"
            text = received.text
            assert "Er is een nieuwe match in de verwijsindex. Log in om te zien:" in text
            assert "There is a new match in the referral index." in text
            assert text.index("Er is een nieuwe match") < text.index("There is a new match")
            assert PORTAL in text
            assert message["Auto-Submitted"] == "auto-generated"
            raw = received.raw.decode()
            for value in forbidden:
                assert value not in raw, value
            # The organisation's admin sees the alert as delivered, with its Message-ID.
            (alert,) = await alerts_of(client, caller)
            assert alert["status"] == "delivered"
            assert alert["topic"] == "new-match"
            assert alert["event_type"] == "match.created"
            assert alert["professional_id"] == caller.professional_id
            assert message["Message-ID"] == f"<{alert['id']}@gemeente.test>"
            log = await client.get(
                f"/v1/alert-messages/{alert['id']}/deliveries", headers=caller.admin_headers
            )
            assert log.status_code == 200
            (attempt,) = log.json()["items"]
            assert attempt["outcome"] == "delivered" and attempt["reply_code"] == 250
            listed = json.dumps(alert) + log.text
            assert "@" not in listed  # no address in the delivery log
        # Neither address appears in the server's log.
        logged = capsys.readouterr()
        assert "alert_attempt" in logged.out + logged.err
        for n in (0, 1):
            assert email_of(n) not in logged.out + logged.err

    async def test_a_professional_joining_a_match_is_news_to_everyone_in_it(
        self, client: httpx.AsyncClient, callers: list[Caller], relay: SmtpRelay
    ) -> None:
        relay.start()
        a, b, c = callers
        await register(client, a, 2)
        await register(client, b, 2)
        await eventually(lambda: len(all_match_mails(relay)) == 2)
        await register(client, c, 2)
        await eventually(lambda: len(all_match_mails(relay)) == 5)
        subjects = {n: [r.message["Subject"] for r in match_mails(relay, n)] for n in range(3)}
        assert subjects == {0: [NEW_MATCH, JOINED], 1: [NEW_MATCH, JOINED], 2: [NEW_MATCH]}

    async def test_no_alert_for_a_registration_without_a_match_nor_for_a_withdrawal(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller], relay: SmtpRelay
    ) -> None:
        relay.start()
        a, b = callers[0], callers[1]
        await register(client, a, 3)
        second = await register(client, b, 3)
        await eventually(lambda: len(all_match_mails(relay)) == 2)
        r = await client.post(
            f"/v1/registrations/{second['id']}/withdraw",
            json={"reason": "risk_resolved"},
            headers=b.headers,
        )
        assert r.status_code == 200, r.text
        await register(client, a, 4)  # alone: no match
        async with ctx.database.transaction() as session:
            types = list((await session.scalars(select(AlertMessage.event_type))).all())
        # match.closed, participant_left, registration.ended, coordination.closed are quiet;
        # the match's coordination proposal mailed the proposed professional alone.
        assert sorted(types) == ["coordination.proposed", "match.created", "match.created"]
        assert len(all_match_mails(relay)) == 2

    async def test_a_coordination_proposal_mails_only_the_proposed_professional(
        self, client: httpx.AsyncClient, callers: list[Caller], relay: SmtpRelay
    ) -> None:
        relay.start()
        pair = callers[0], callers[1]
        await register(client, pair[0], 6)
        second = await register(client, pair[1], 6)
        r = await client.get(
            f"/v1/matches/{second['match_id']}/coordination", headers=pair[1].headers
        )
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "proposed"
        proposed = r.json()["coordinator"]["organisation_id"]
        n = next(i for i, c in enumerate(pair) if c.organisation_id == proposed)
        other = 1 - n

        def coordination_mails(k: int) -> list[Received]:
            return [r for r in relay.to(email_of(k)) if r.message["Subject"] == COORDINATION]

        await eventually(lambda: len(coordination_mails(n)) == 1)
        await eventually(lambda: len(match_mails(relay, 0)) + len(match_mails(relay, 1)) == 2)
        (mail,) = coordination_mails(n)
        assert "De afstemming bij een van uw matches vraagt uw aandacht." in mail.text
        assert "The coordination of one of your matches needs your attention." in mail.text
        assert second["match_id"] not in mail.raw.decode()
        assert coordination_mails(other) == []
        (alert,) = [
            a for a in await alerts_of(client, pair[n], every=True) if a["topic"] == "coordination"
        ]
        assert alert["event_type"] == "coordination.proposed"
        assert [
            a for a in await alerts_of(client, pair[other], every=True) if a["topic"] != "new-match"
        ] == []


class TestOptOut:
    async def test_a_professional_switches_alerts_off_and_gets_none(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller], relay: SmtpRelay
    ) -> None:
        relay.start()
        a, b = callers[0], callers[1]
        colleague = await make_caller(ctx, 7, organisation_id=b.organisation_id)
        path = f"/v1/professionals/{b.professional_id}/alerts"

        # Another professional of the same organisation may not; another organisation: 404.
        r = await client.put(path, json={"enabled": False}, headers=colleague.headers)
        assert r.status_code == 403
        r = await client.put(path, json={"enabled": False}, headers=a.headers)
        assert r.status_code == 404
        r = await client.get(path, headers=a.admin_headers)
        assert r.status_code == 404

        r = await client.put(path, json={"enabled": False}, headers=b.headers)
        assert r.status_code == 200, r.text
        assert r.json() == {
            "professional_id": b.professional_id,
            "enabled": False,
            "has_address": True,
        }
        r = await client.get(path, headers=b.admin_headers)
        assert r.json()["enabled"] is False

        await register(client, a, 5)
        await register(client, b, 5)
        await eventually(lambda: len(match_mails(relay, 0)) == 1)

        async def suppressed() -> bool:
            items = await alerts_of(client, b)
            return len(items) == 1 and items[0]["status"] == "suppressed"

        await eventually_async(suppressed)
        (alert,) = await alerts_of(client, b, "?status=suppressed")
        assert alert["last_error"] == "opted-out" and alert["attempts"] == 0
        assert match_mails(relay, 1) == []

        # Switched on again by the organisation's admin, the alert is sent when redelivered.
        r = await client.put(path, json={"enabled": True}, headers=b.admin_headers)
        assert r.status_code == 200 and r.json()["enabled"] is True
        r = await client.post(
            f"/v1/alert-messages/{alert['id']}/redeliver", headers=b.admin_headers
        )
        assert r.status_code == 202
        await eventually(lambda: len(match_mails(relay, 1)) == 1)
        assert match_mails(relay, 1)[0].message["Message-ID"] == f"<{alert['id']}@gemeente.test>"

    async def test_other_roles_may_not_switch(
        self, client: httpx.AsyncClient, callers: list[Caller]
    ) -> None:
        a = callers[0]
        path = f"/v1/professionals/{a.professional_id}/alerts"
        r = await client.put(path, json={"enabled": False}, headers=a.auditor_headers)
        assert r.status_code == 403
        r = await client.put(
            path, json={"enabled": False}, headers={"Authorization": f"Bearer {a.key}"}
        )
        assert r.status_code == 403  # a professional key names the professional
        r = await client.put(path, json={"enabled": "no"}, headers=a.headers)
        assert r.status_code == 422
        r = await client.get("/v1/alert-messages", headers=a.headers)
        assert r.status_code == 403


async def _attempts_of(client: httpx.AsyncClient, caller: Caller) -> list[Any]:
    items = await alerts_of(client, caller)
    if not items:
        return []
    r = await client.get(
        f"/v1/alert-messages/{items[0]['id']}/deliveries", headers=caller.admin_headers
    )
    result: list[Any] = r.json()["items"]
    return result


class TestRetries:
    async def test_relay_down_for_a_while_then_up_delivers_each_once(
        self, client: httpx.AsyncClient, callers: list[Caller], relay: SmtpRelay
    ) -> None:
        a, b = callers[0], callers[1]
        for youth in range(10, 13):
            await register(client, a, youth)
            await register(client, b, youth)

        async def all_failed_twice() -> bool:
            items = await alerts_of(client, a)
            return len(items) == 3 and all(i["attempts"] >= 2 for i in items)

        await eventually_async(all_failed_twice)
        items = await alerts_of(client, a)
        assert {i["status"] for i in items} == {"pending"}
        assert {i["last_error"] for i in items} == {"connection"}
        relay.start()
        await eventually(
            lambda: len(match_mails(relay, 0)) == 3 and len(match_mails(relay, 1)) == 3
        )

        async def all_delivered() -> bool:
            return all(i["status"] == "delivered" for i in await alerts_of(client, a))

        await eventually_async(all_delivered)
        ids = {r.message["Message-ID"] for r in match_mails(relay, 0)}
        assert len(ids) == 3  # once each
        attempts = await _attempts_of(client, a)
        assert attempts[0]["outcome"] == "delivered"
        assert {x["outcome"] for x in attempts[1:]} == {"retry"}
        assert {x["error"] for x in attempts[1:]} == {"connection"}

    @pytest.mark.schedule([0.0, 0.1, 0.1])
    async def test_dead_letter_after_the_schedule(
        self, client: httpx.AsyncClient, callers: list[Caller], relay: SmtpRelay
    ) -> None:
        a, b = callers[0], callers[1]
        await register(client, a, 20)
        await register(client, b, 20)

        async def dead() -> bool:
            return len(await alerts_of(client, a, "?status=dead")) == 1

        await eventually_async(dead)
        attempts = await _attempts_of(client, a)
        assert [x["outcome"] for x in attempts] == ["dead", "retry", "retry"]
        assert [x["attempt"] for x in attempts] == [3, 2, 1]
        # A dead letter goes out when redelivered after the relay is back.
        relay.start()
        (alert,) = await alerts_of(client, a, "?status=dead")
        r = await client.post(
            f"/v1/alert-messages/{alert['id']}/redeliver", headers=a.admin_headers
        )
        assert r.status_code == 202 and r.json()["status"] == "pending"
        await eventually(lambda: len(match_mails(relay, 0)) == 1)
        r = await client.post(
            f"/v1/alert-messages/{alert['id']}/redeliver", headers=b.admin_headers
        )
        assert r.status_code == 404  # another organisation's alert

    async def test_a_refused_recipient_is_dead_at_once(
        self, client: httpx.AsyncClient, callers: list[Caller], relay: SmtpRelay
    ) -> None:
        relay.refuse.add(email_of(0))
        relay.start()
        a, b = callers[0], callers[1]
        await register(client, a, 21)
        await register(client, b, 21)
        await eventually(lambda: len(match_mails(relay, 1)) == 1)

        async def dead() -> bool:
            return len(await alerts_of(client, a, "?status=dead")) == 1

        await eventually_async(dead)
        (attempt,) = await _attempts_of(client, a)
        assert attempt["reply_code"] == 550 and attempt["error"] == "rejected"

    @pytest.mark.other_ca
    async def test_a_relay_certificate_not_signed_by_the_configured_ca_is_refused(
        self, client: httpx.AsyncClient, callers: list[Caller], relay: SmtpRelay
    ) -> None:
        relay.start()
        a, b = callers[0], callers[1]
        await register(client, a, 22)
        await register(client, b, 22)

        async def failed() -> bool:
            attempts = await _attempts_of(client, a)
            return len(attempts) >= 2

        await eventually_async(failed)
        attempts = await _attempts_of(client, a)
        assert {x["error"] for x in attempts} == {"tls"}
        assert relay.messages() == []


class TestWithoutRelay:
    @pytest.fixture
    def settings(self, database_url: str, tmp_path: Path) -> Settings:
        return Settings(
            data_dir=tmp_path, database_url=database_url, run_sweeper=False, auto_migrate=False
        )

    async def test_no_relay_configured_writes_no_alerts(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller]
    ) -> None:
        a, b = callers[0], callers[1]
        await register(client, a, 30)
        await register(client, b, 30)
        async with ctx.database.transaction() as session:
            count = await session.scalar(select(func.count()).select_from(AlertMessage))
        assert count == 0
        assert await alerts_of(client, a) == []

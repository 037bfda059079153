"""No BSN or birth date at rest, in logs or in e-mail alerts: register many known youths (with
their parents' BSNs, so that family matches form) through a real server, then scan the raw
database (SQLite file and WAL, or a PostgreSQL dump), the server's log and every alert the mail
relay received for every youth's and parent's BSN."""

from __future__ import annotations

import asyncio
import json
from datetime import date, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from notifier import AlertMessage, AlertStatus
from tests.at_rest import database_at_rest, needles
from tests.conftest import make_bsn
from tests.e2e.conftest import Server, start_server
from tests.e2e.test_webhooks_e2e import wait_until
from tests.notifier.smtp_server import PASSWORD, USER, SmtpRelay
from verwijsindex.clock import SystemClock
from verwijsindex.context import build_context
from verwijsindex.settings import Settings

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _setup(server: Server, n: int) -> dict[str, str]:
    org = json.loads(
        server.cli(
            "admin",
            "create-organisation",
            "--name",
            f"Org {n}",
            "--sector",
            "youth-care",
            "--municipality",
            "0363",
        ).stdout
    )
    pro = json.loads(
        server.cli(
            "admin",
            "create-professional",
            "--organisation",
            org["id"],
            "--name",
            f"Pro {n}",
            "--email",
            f"p{n}@x.example",
            "--phone",
            "+31 6 1234 5678",
        ).stdout
    )
    key = json.loads(
        server.cli(
            "admin", "create-api-key", "--organisation", org["id"], "--role", "professional"
        ).stdout
    )
    return {"Authorization": f"Bearer {key['key']}", "X-Professional-Id": pro["id"]}


def _privacy_officer(server: Server) -> dict[str, str]:
    org = json.loads(
        server.cli(
            "admin", "create-organisation", "--name", "Gemeente", "--sector", "municipality",
            "--municipality", "0363",
        ).stdout
    )  # fmt: skip
    key = json.loads(
        server.cli(
            "admin", "create-api-key", "--organisation", org["id"], "--role", "privacy-officer"
        ).stdout
    )
    return {"Authorization": f"Bearer {key['key']}"}


async def _alert_counts(database_url: str, tmp_path: Path) -> dict[str, int]:
    """The alert outbox's messages by status."""
    ctx = build_context(Settings(database_url=database_url, data_dir=tmp_path), clock=SystemClock())
    try:
        async with ctx.database.transaction() as s:
            rows = await s.execute(
                select(AlertMessage.status, func.count()).group_by(AlertMessage.status)
            )
            return {str(status): int(n) for status, n in rows.all()}
    finally:
        await ctx.database.dispose()


def _alerts_sent(relay: SmtpRelay, database_url: str, tmp_path: Path) -> bool:
    """Every alert the server wrote has left its outbox, each to the relay once."""
    counts = asyncio.run(_alert_counts(database_url, tmp_path))
    delivered = counts.get(AlertStatus.DELIVERED, 0)
    return counts.get(AlertStatus.PENDING, 0) == 0 and len(relay.messages()) == delivered


def _coordinate(
    http: httpx.Client,
    match_id: str,
    a: dict[str, str],
    b: dict[str, str],
    bsn: str,
    birth: date,
    i: int,
) -> None:
    """Coordinate the match, with attempts to put the youth's BSN, birth date and a name into
    the reasons (refused: codes only) before the real codes."""
    path = f"/v1/matches/{match_id}/coordination/"
    for reason in (bsn, birth.isoformat(), f"Jan Jansen {birth.strftime('%d-%m-%Y')}"):
        r = http.post(
            path + ("decline" if i % 2 else "escalate"), json={"reason": reason}, headers=a
        )
        assert r.status_code == 422
        assert bsn not in r.text and birth.isoformat() not in r.text
    r = http.post(path + "handover", json={"organisation_id": bsn}, headers=a)
    assert r.status_code in (409, 422) and bsn not in r.text
    if i % 2:
        assert http.post(path + "decline", json={"reason": "no-capacity"}, headers=a).is_success
        assert http.post(path + "accept", headers=b).is_success
        checks = ["risks-covered", "aftercare-arranged", "registering-professionals-told"]
        assert http.post(path + "close", json={"reason": checks}, headers=b).is_success
    else:
        assert http.post(path + "escalate", json={"reason": "no-progress"}, headers=a).is_success


class TestNoPersonalDataAtRest:
    def test_known_bsns_and_birth_dates_appear_nowhere(
        self, database_url: str, tmp_path: Path
    ) -> None:
        # E-mail alerts go to a real relay on loopback; their text is scanned too.
        relay_dir = tmp_path / "relay"
        relay_dir.mkdir()
        relay = SmtpRelay(relay_dir).start()
        # A bulk load: the per-professional rate limit (60/min) is not what this test is about.
        server = start_server(
            database_url,
            tmp_path,
            VERWIJSINDEX_RATE_LIMIT_PROFESSIONAL_PER_MINUTE="0",
            VERWIJSINDEX_METRICS_TOKEN="metrics-token-0123456789abcdef",
            VERWIJSINDEX_SMTP_HOST="127.0.0.1",
            VERWIJSINDEX_SMTP_PORT=str(relay.port),
            VERWIJSINDEX_SMTP_USERNAME=USER,
            VERWIJSINDEX_SMTP_PASSWORD=PASSWORD,
            VERWIJSINDEX_SMTP_CA_FILE=str(relay.ca_file),
        )
        scraped = b""
        youths = [(make_bsn(i), date(2005, 1, 1) + timedelta(days=37 * i)) for i in range(120)]
        # Two consecutive youths are siblings: they share a parent; each has a second one.
        parents = [(make_bsn(5000 + i // 2), make_bsn(6000 + i)) for i in range(120)]
        families: set[str] = set()
        try:
            a, b = _setup(server, 1), _setup(server, 2)
            with httpx.Client(base_url=server.base_url, timeout=10) as http:
                for i, (bsn, birth) in enumerate(youths):
                    body = {
                        "bsn": bsn,
                        "birth_date": birth.isoformat(),
                        "parents": [{"bsn": p} for p in parents[i]],
                    }
                    r = http.post("/v1/registrations", json=body, headers=a)
                    assert r.status_code == 201
                    families.add(r.json()["family_match_id"])
                    if i % 3 == 0:  # a third of them match
                        r = http.post("/v1/registrations", json=body, headers=b)
                        assert r.json()["match_id"]
                        families.add(r.json()["family_match_id"])
                        _coordinate(http, r.json()["match_id"], a, b, bsn, birth, i)
                    if i % 10 == 5:  # a parent failing the 11-test is refused, not echoed
                        valid = parents[i][1]
                        wrong = valid[:8] + str((int(valid[8]) + 1) % 10)  # one check digit
                        bad = {**body, "parents": [{"bsn": parents[i][0]}, {"bsn": wrong}]}
                        r = http.post("/v1/registrations", json=bad, headers=b)
                        assert r.status_code == 422
                        assert wrong not in r.text and parents[i][0] not in r.text
                    if i % 10 == 0:  # some bad input carrying personal data too
                        bad = {"bsn": bsn[:8], "birth_date": birth.isoformat(), "name": "X"}
                        assert (
                            http.post("/v1/registrations", json=bad, headers=a).status_code == 422
                        )
                        bad = {"bsn": bsn, "birth_date": birth.strftime("%d-%m-%Y")}
                        assert (
                            http.post("/v1/registrations", json=bad, headers=a).status_code == 422
                        )
                # subject access and erasure carry the BSN too; neither may leave it anywhere
                officer = _privacy_officer(server)
                for bsn, birth in youths[:6]:
                    body = {"bsn": bsn, "birth_date": birth.isoformat()}
                    r = http.post("/v1/subject-access", json=body, headers=officer)
                    assert r.status_code == 200 and r.json()["registrations"]
                for bsn, _ in youths[:3]:
                    body = {"bsn": bsn, "reason": "other", "request_reference": "REQ-1"}
                    r = http.post("/v1/subject-erasure", json=body, headers=officer)
                    assert r.status_code == 200 and r.json()["erased_registrations"] >= 1
                # and a parent's: access to what names them, erasure of their links
                for shared, _ in parents[10:16:2]:
                    r = http.post(
                        "/v1/subject-access/parent", json={"bsn": shared}, headers=officer
                    )
                    assert r.status_code == 200 and len(r.json()["links"]) >= 2
                for _, own in parents[20:23]:
                    body = {"bsn": own, "reason": "unlawful-processing", "request_reference": "R-2"}
                    r = http.post("/v1/subject-erasure/parent", json=body, headers=officer)
                    assert r.status_code == 200 and r.json()["unlinked_registrations"] >= 1
                # the operators' metrics and the statistics (their rollup runs in the sweep)
                server.cli("sweep")
                scraped += server.cli(
                    "statistics", "--municipality", "0363", "--from", "2020-01", "--to", "2029-12"
                ).stdout.encode()
                metrics = http.get(
                    "/metrics",
                    headers={"Authorization": "Bearer metrics-token-0123456789abcdef"},
                )
                assert metrics.status_code == 200
                scraped += metrics.content
            # New matches, family matches and the coordinations' steps all alert: wait until
            # the alert outbox is drained rather than for a count of any one kind.
            wait_until(lambda: _alerts_sent(relay, database_url, tmp_path), within=120)
            assert len(relay.messages()) >= 2 * 40  # at least both sides of 40 matches
        finally:
            server.stop()
            relay.stop()
        mails = b"".join(r.raw for r in relay.messages())
        logs = server.logs().encode()
        assert b'"event": "request"' in logs  # the log was captured
        assert b"/coordination/" in logs  # coordination requests are in it too
        assert len(families - {None}) >= 10  # family matches formed
        at_rest = database_at_rest(database_url)
        if "postgresql" in database_url:
            assert b"COPY public.coordination_events" in at_rest.raw
        for bsn, birth in youths:
            for needle in needles(bsn, birth):
                assert not at_rest.holds(needle), "personal data found in the database"
                assert needle not in logs, "personal data found in the log"
                assert needle not in scraped, "personal data found in metrics or statistics"
        for pair in parents:
            for parent in pair:
                for needle in (parent.encode(), parent.encode("utf-16-le")):
                    assert not at_rest.holds(needle), "a parent's BSN found in the database"
                    assert needle not in logs, "a parent's BSN found in the log"
                assert needle not in mails, "personal data found in an e-mail alert"
        for address in (b"p1@x.example", b"p2@x.example"):
            assert address not in logs, "a professional's address found in the log"

"""E-mail alerts by real processes: a server killed with SIGKILL while the relay holds the reply
to a message it has kept, then restarted, sends every alert (the held one again, with the same
Message-ID: at least once), and the organisations' alert logs show them delivered; a standalone
``verwijsindex notifier run`` sends alerts too."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.e2e.conftest import start_server
from tests.e2e.test_webhooks_e2e import FAST_RETRIES, make_matches, organisation, wait_until
from tests.notifier.smtp_server import PASSWORD, USER, SmtpRelay

pytestmark = [pytest.mark.e2e, pytest.mark.slow]


def _relay_and_settings(tmp_path: Path) -> tuple[SmtpRelay, dict[str, str]]:
    relay_dir = tmp_path / "relay"
    relay_dir.mkdir()
    relay = SmtpRelay(relay_dir).start()
    mail = {
        "VERWIJSINDEX_SMTP_HOST": "127.0.0.1",
        "VERWIJSINDEX_SMTP_PORT": str(relay.port),
        "VERWIJSINDEX_SMTP_USERNAME": USER,
        "VERWIJSINDEX_SMTP_PASSWORD": PASSWORD,
        "VERWIJSINDEX_SMTP_CA_FILE": str(relay.ca_file),
        "VERWIJSINDEX_SMTP_FROM": "verwijsindex@gemeente.test",
        "VERWIJSINDEX_SMTP_TIMEOUT_SECONDS": "2",  # the lease: four times that
        "VERWIJSINDEX_PORTAL_URL": "https://verwijsindex.gemeente.test/portal/",
        "VERWIJSINDEX_RUN_WEBHOOK_WORKER": "false",
    }
    return relay, mail


def test_sigkill_while_sending_then_restart_sends_every_alert(
    database_url: str, tmp_path: Path
) -> None:
    relay, mail = _relay_and_settings(tmp_path)
    server = start_server(database_url, tmp_path, **FAST_RETRIES, **mail)
    try:
        a, a_admin = organisation(server, 1)
        b, b_admin = organisation(server, 2)
        relay.hang = True
        make_matches(server, a, b, range(1, 2))
        wait_until(lambda: relay.hanging == 1)

        server.process.send_signal(signal.SIGKILL)  # mid-send, no clean-up
        server.process.wait(timeout=10)
        relay.hang = False
        relay.release.set()  # the held reply goes to a dead connection

        server = start_server(database_url, tmp_path, **FAST_RETRIES, **mail)
        addresses = ("p1@example.org", "p2@example.org")
        # The match alerts each professional twice, of the new match and of the proposed
        # coordination (coordination.proposed names each registration too); the held
        # message is sent again.
        wait_until(
            lambda: all(relay.to(address) for address in addresses) and len(relay.messages()) == 5
        )
        for address in addresses:
            assert len({r.message["Message-ID"] for r in relay.to(address)}) == 2
        sent = [r.message["Message-ID"] for r in relay.messages()]
        assert len(set(sent)) == 4  # the repeat carries the same Message-ID
        for admin in (a_admin, b_admin):

            def delivered(headers: dict[str, str] = admin) -> bool:
                items = httpx.get(
                    server.base_url + "/v1/alert-messages", headers=headers, timeout=10
                ).json()["items"]
                return len(items) == 2 and all(i["status"] == "delivered" for i in items)

            wait_until(delivered)
        assert "p1@example.org" not in server.logs() and "p2@example.org" not in server.logs()
    finally:
        server.stop()
        relay.stop()


def test_notifier_run_sends_alerts_when_serve_does_not(database_url: str, tmp_path: Path) -> None:
    relay, mail = _relay_and_settings(tmp_path)
    server = start_server(
        database_url, tmp_path, **FAST_RETRIES, **mail, VERWIJSINDEX_RUN_ALERT_WORKER="false"
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        a, _ = organisation(server, 1)
        b, _ = organisation(server, 2)
        make_matches(server, a, b, range(1, 3))
        time.sleep(0.5)
        assert relay.messages() == []  # serve sends none here
        log = (tmp_path / "notifier.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "verwijsindex.cli", "notifier", "run"],
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # Two matches: both professionals alerted of each match and of its proposed
        # coordination.
        wait_until(lambda: len(relay.messages()) == 8)
        time.sleep(0.3)
        assert len(relay.messages()) == 8  # once each
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        server.stop()
        relay.stop()

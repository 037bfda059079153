"""Webhook delivery by real processes: a server killed with SIGKILL mid-delivery and
restarted loses nothing; standalone ``verwijsindex notifier run`` workers deliver too."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_bsn, registration_body
from tests.e2e.conftest import Server, start_server
from tests.notifier.receiver import Behaviour, Receiver

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

FAST_RETRIES = {
    "VERWIJSINDEX_WEBHOOK_RETRY_SCHEDULE": json.dumps([0] + [0.3] * 20),
    "VERWIJSINDEX_WEBHOOK_RETRY_JITTER": "0",
    "VERWIJSINDEX_WEBHOOK_TIMEOUT_SECONDS": "2",
    "VERWIJSINDEX_WEBHOOK_LEASE_SECONDS": "3",
    "VERWIJSINDEX_WEBHOOK_POLL_INTERVAL_SECONDS": "0.1",
}


def wait_until(check: Callable[[], bool], within: float = 30.0) -> None:
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


def organisation(server: Server, n: int) -> tuple[dict[str, str], dict[str, str]]:
    """Create an organisation; return (professional headers, org-admin headers)."""
    org = json.loads(
        server.cli(
            "admin",
            "create-organisation",
            "--name",
            f"Org {n}",
            "--sector",
            "education",
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
            f"P {n}",
            "--email",
            f"p{n}@example.org",
            "--phone",
            "+31 20 555 0000",
        ).stdout
    )
    key = json.loads(
        server.cli(
            "admin", "create-api-key", "--organisation", org["id"], "--role", "professional"
        ).stdout
    )["key"]
    admin = json.loads(
        server.cli(
            "admin", "create-api-key", "--organisation", org["id"], "--role", "org-admin"
        ).stdout
    )["key"]
    return (
        {"Authorization": f"Bearer {key}", "X-Professional-Id": pro["id"]},
        {"Authorization": f"Bearer {admin}"},
    )


def add_endpoint(server: Server, admin: dict[str, str], receiver: Receiver, name: str) -> str:
    r = httpx.post(
        server.base_url + "/v1/webhook-endpoints",
        json={"url": receiver.url(name)},
        headers=admin,
        timeout=10,
    )
    assert r.status_code == 201, r.text
    receiver.expect(name, r.json()["secret"])
    return str(r.json()["id"])


def make_matches(server: Server, a: dict[str, str], b: dict[str, str], youths: range) -> None:
    for youth in youths:
        for headers in (a, b):
            r = httpx.post(
                server.base_url + "/v1/registrations",
                json=registration_body(make_bsn(youth)),
                headers=headers,
                timeout=10,
            )
            assert r.status_code == 201, r.text


def test_sigkill_during_delivery_then_restart_delivers_everything(
    database_url: str, tmp_path: Path
) -> None:
    receiver = Receiver().start()
    server = start_server(database_url, tmp_path, **FAST_RETRIES)
    try:
        a, a_admin = organisation(server, 1)
        b, b_admin = organisation(server, 2)
        add_endpoint(server, a_admin, receiver, "a")
        add_endpoint(server, b_admin, receiver, "b")
        receiver.behaviour["a"] = Behaviour(hang=True)  # a's receiver holds the request
        make_matches(server, a, b, range(1, 6))
        wait_until(lambda: receiver.hanging == 1)

        server.process.send_signal(signal.SIGKILL)  # mid-delivery, no clean-up
        server.process.wait(timeout=10)
        receiver.release.set()  # the held request completes into a dead socket

        server = start_server(database_url, tmp_path, **FAST_RETRIES)
        # Each match: match.created and coordination.proposed to both organisations.
        wait_until(lambda: len(receiver.unique("a")) == 10 and len(receiver.unique("b")) == 10)

        for admin in (a_admin, b_admin):
            pending = httpx.get(
                server.base_url + "/v1/webhook-messages?status=pending", headers=admin, timeout=10
            ).json()["items"]
            assert pending == []
            dead = httpx.get(
                server.base_url + "/v1/webhook-messages?status=dead", headers=admin, timeout=10
            ).json()["items"]
            assert dead == []
        assert receiver.rejected == 0
        types = {d.payload["type"] for d in receiver.unique().values()}
        assert types == {"match.created", "coordination.proposed"}
    finally:
        server.stop()
        receiver.stop()


def test_standalone_workers_deliver_each_message_once(database_url: str, tmp_path: Path) -> None:
    receiver = Receiver().start()
    server = start_server(
        database_url, tmp_path, VERWIJSINDEX_RUN_WEBHOOK_WORKER="false", **FAST_RETRIES
    )
    worker: subprocess.Popen[bytes] | None = None
    try:
        a, a_admin = organisation(server, 1)
        b, b_admin = organisation(server, 2)
        add_endpoint(server, a_admin, receiver, "a")
        add_endpoint(server, b_admin, receiver, "b")
        make_matches(server, a, b, range(1, 6))
        time.sleep(0.3)
        assert receiver.requests == 0  # serve runs no worker here

        log = (tmp_path / "notifier.log").open("wb")
        worker = subprocess.Popen(
            [sys.executable, "-m", "verwijsindex.cli", "notifier", "run", "--workers", "2"],
            env=server.env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        # 5 matches x 2 organisations x (match.created, coordination.proposed)
        wait_until(lambda: len(receiver.unique()) == 20)
        time.sleep(0.3)
        assert receiver.requests == 20  # exactly once each when nothing fails
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(timeout=15) == 0
    finally:
        if worker is not None and worker.poll() is None:
            worker.kill()
        server.stop()
        receiver.stop()

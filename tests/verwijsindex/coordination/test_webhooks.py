"""Coordination's webhooks reach a real loopback receiver, signed (verified there with the
independent ``standardwebhooks`` package), thin, in the order of the changes of the match."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.notifier.receiver import Receiver, eventually
from tests.verwijsindex.coordination.helpers import CLOSE, make_world
from verwijsindex.context import AppContext
from verwijsindex.settings import Settings


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        run_sweeper=False,
        auto_migrate=False,
        run_webhook_worker=True,
        webhook_poll_interval_seconds=0.05,
        webhook_retry_jitter=0.0,
        webhook_timeout_seconds=2.0,
    )


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver().start()
    try:
        yield r
    finally:
        r.stop()


async def test_every_change_reaches_every_participant(
    ctx: AppContext, client: httpx.AsyncClient, receiver: Receiver
) -> None:
    world = await make_world(ctx, client, {"care": "youth-care", "protect": "youth-protection"})
    for name, org in world.orgs.items():
        r = await client.post(
            "/v1/webhook-endpoints",
            json={"url": receiver.url(name)},
            headers=org.caller.admin_headers,
        )
        assert r.status_code == 201
        receiver.expect(name, r.json()["secret"])
    bsn = world.bsn()
    match_id, regs = await world.register(bsn, "care", "protect")
    assert match_id is not None
    assert (await world.act("protect", match_id, "decline", {"reason": "no-capacity"})).is_success
    assert (await world.act("care", match_id, "accept")).is_success
    assert (await world.act("care", match_id, "confirm")).is_success
    assert (await world.act("care", match_id, "close", CLOSE)).is_success
    expected = [
        "match.created",
        "coordination.proposed",
        "coordination.declined",
        "coordination.proposed",
        "coordination.accepted",
        "coordination.confirmed",
        "coordination.closed",
    ]
    await eventually(lambda: all(len(receiver.of(n)) == len(expected) for n in world.orgs))
    assert receiver.rejected == 0
    for name in world.orgs:
        deliveries = receiver.of(name)
        assert [d.payload["type"] for d in deliveries] == expected
        for d in deliveries:
            assert d.payload["data"] == {"match_id": match_id, "registration_id": regs[name]}
            text = d.body.decode()
            assert bsn not in text and "no-capacity" not in text and "Professional" not in text

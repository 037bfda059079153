"""The unit of work's after-commit hooks: what a transaction put in the outbox wakes the
delivery workers once it has committed, whichever route, service or job wrote it."""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from notifier import DELIVERABLE, mark_deliverable
from tests.conftest import Caller, registration_body
from tests.notifier.receiver import Receiver, eventually
from tests.verwijsindex.helpers import privacy_officer_headers
from verwijsindex.context import AppContext
from verwijsindex.settings import Settings

# Far longer than any wait below: a delivery seen within the wait was woken, not polled.
POLL_SECONDS = 120.0
WITHIN_SECONDS = 10.0
X = "111222333"


class TestAfterCommitHooks:
    async def test_a_noted_transaction_calls_the_hooks_after_commit(self, ctx: AppContext) -> None:
        seen: list[dict[str, Any]] = []
        ctx.database.on_commit(lambda info: seen.append(dict(info)))
        async with ctx.database.transaction() as session:
            mark_deliverable(session)
            await session.execute(text("SELECT 1"))
            assert seen == []  # not before the commit
        assert seen == [{DELIVERABLE: True}]

    async def test_a_rolled_back_transaction_calls_none(self, ctx: AppContext) -> None:
        seen: list[Mapping[str, Any]] = []
        ctx.database.on_commit(seen.append)
        with pytest.raises(RuntimeError):
            async with ctx.database.transaction() as session:
                mark_deliverable(session)
                raise RuntimeError("abort")
        assert seen == []

    async def test_a_transaction_that_noted_nothing_calls_none(self, ctx: AppContext) -> None:
        seen: list[Mapping[str, Any]] = []
        ctx.database.on_commit(seen.append)
        async with ctx.database.transaction() as session:
            await session.execute(text("SELECT 1"))
        assert seen == []


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        data_dir=tmp_path,
        database_url=database_url,
        run_sweeper=False,
        auto_migrate=False,
        run_webhook_worker=True,
        webhook_poll_interval_seconds=POLL_SECONDS,
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


class TestWakeAfterCommit:
    async def test_erasure_events_are_delivered_without_waiting_for_a_poll(
        self, client: httpx.AsyncClient, ctx: AppContext, callers: list[Caller], receiver: Receiver
    ) -> None:
        a, b = callers[0], callers[1]
        for name, caller in (("a", a), ("b", b)):
            r = await client.post(
                "/v1/webhook-endpoints",
                json={"url": receiver.url(name)},
                headers=caller.admin_headers,
            )
            assert r.status_code == 201, r.text
            receiver.expect(name, r.json()["secret"])
        for caller in (a, b):
            r = await client.post(
                "/v1/registrations", json=registration_body(X), headers=caller.headers
            )
            assert r.status_code == 201, r.text
        # The registration's commit woke the worker (its poll is two minutes away).
        await eventually(lambda: len(receiver.of("a")) == 1, within=WITHIN_SECONDS)

        started = time.monotonic()
        r = await client.post(
            "/v1/subject-erasure",
            json={"bsn": X, "reason": "data-subject-request", "request_reference": "AVG-2026/18"},
            headers=await privacy_officer_headers(ctx),
        )
        assert r.status_code == 200, r.text
        await eventually(lambda: len(receiver.of("a")) >= 2, within=WITHIN_SECONDS)
        assert time.monotonic() - started < POLL_SECONDS
        types = [d.payload["type"] for d in receiver.of("a")[1:]]
        assert types and "match.created" not in types, types  # what the erasure enqueued

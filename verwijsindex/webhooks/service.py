"""The index's wiring of :mod:`notifier`: sealing key, endpoint service, delivery workers.

Webhook secrets are sealed under ``keys.subkey("webhook-secrets")`` (one key per master-key
version), which lives outside the database. ``serve`` runs one worker in-process; the API and
the unit of work wakes it after a commit that made messages due (:meth:`Webhooks.after_commit`),
so the worker claims new messages at once instead of at its next poll. The management methods
(endpoints, messages, deliveries) are each a unit of work of their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from notifier import (
    DELIVERABLE,
    STANDARD_WEBHOOKS_SCHEDULE,
    DeliveryWorker,
    EndpointService,
    RetryPolicy,
    SecretBox,
    WorkerConfig,
)
from verwijsindex.keys import KeyRing
from verwijsindex.settings import Settings
from verwijsindex.storage import Database

WEBHOOK_SECRETS_PURPOSE = "webhook-secrets"


class OutboxWorker(Protocol):
    def wake(self) -> None: ...

    async def run(self) -> None: ...


W = TypeVar("W", bound=OutboxWorker)
_P = ParamSpec("_P")
_R = TypeVar("_R")


def retry_policy(settings: Settings) -> RetryPolicy:
    """The retry schedule of webhooks and e-mail alerts alike."""
    schedule = (
        tuple(settings.webhook_retry_schedule)
        if settings.webhook_retry_schedule is not None
        else STANDARD_WEBHOOKS_SCHEDULE
    )
    return RetryPolicy(schedule=schedule, jitter=settings.webhook_retry_jitter)


def each_call_in(
    unit: Callable[[], AbstractAsyncContextManager[AsyncSession]],
    call: Callable[Concatenate[AsyncSession, _P], Awaitable[_R]],
) -> Callable[_P, Awaitable[_R]]:
    """``call`` without its session argument: each call opens a unit of work of its own
    (``unit``: the database's ``read`` or ``transaction``) and runs in its session."""

    async def in_unit(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        async with unit() as session:
            return await call(session, *args, **kwargs)

    return in_unit


class OutboxWorkers(Generic[W]):
    """This process's workers of one kind (webhook deliveries, e-mail alerts) on a database."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._workers: list[W] = []

    def add(self, worker: W) -> W:
        self._workers.append(worker)
        return worker

    def wake(self, info: Mapping[str, Any]) -> None:
        """After a transaction that made work due (:data:`notifier.DELIVERABLE`) has
        committed, the workers look now instead of at their next poll. Nothing else wakes
        them."""
        if info.get(DELIVERABLE):
            for worker in self._workers:
                worker.wake()

    async def run(self, new: Callable[[], W], count: int) -> None:
        """Run ``count`` new workers until cancelled (one on SQLite: a single writer anyway)."""
        if self._database.dialect == "sqlite":
            count = 1
        workers = [new() for _ in range(count)]
        async with asyncio.TaskGroup() as group:
            for worker in workers:
                group.create_task(worker.run())


class Webhooks:
    """Everything the index needs to manage endpoints and deliver messages."""

    def __init__(
        self,
        *,
        settings: Settings,
        database: Database,
        keys: KeyRing,
        on_attempt: Callable[[str, float], None] | None = None,
    ) -> None:
        self._settings = settings
        self._database = database
        self._on_attempt = on_attempt
        self.box = SecretBox(
            keys={v: keys.subkey(WEBHOOK_SECRETS_PURPOSE, version=v) for v in keys.versions},
            current_version=keys.current_version,
        )
        self.endpoints = EndpointService(
            box=self.box,
            allow_http=bool(settings.allow_http_webhooks),
            allow_private=bool(settings.allow_private_webhook_addresses),
            allow_loopback=bool(settings.allow_loopback_webhook_addresses),
        )
        self._workers: OutboxWorkers[DeliveryWorker] = OutboxWorkers(database)
        # The endpoints and messages of one organisation, each call one unit of work.
        read, write = database.read, database.transaction
        self.create_endpoint = each_call_in(write, self.endpoints.create)
        self.list_endpoints = each_call_in(read, self.endpoints.list_endpoints)
        self.endpoint = each_call_in(read, self.endpoints.get)
        self.update_endpoint = each_call_in(write, self.endpoints.update)
        self.delete_endpoint = each_call_in(write, self.endpoints.delete)
        self.rotate_secret = each_call_in(write, self.endpoints.rotate_secret)
        self.deliveries = each_call_in(read, self.endpoints.attempts)
        self.messages = each_call_in(read, self.endpoints.messages)
        self.redeliver = each_call_in(write, self.endpoints.redeliver)

    def worker_config(self) -> WorkerConfig:
        s = self._settings
        assert s.webhook_lease_seconds is not None
        return WorkerConfig(
            allow_http=bool(s.allow_http_webhooks),
            allow_private=bool(s.allow_private_webhook_addresses),
            allow_loopback=bool(s.allow_loopback_webhook_addresses),
            timeout_seconds=s.webhook_timeout_seconds,
            poll_interval_seconds=s.webhook_poll_interval_seconds,
            lease_seconds=s.webhook_lease_seconds,
            max_concurrency=s.webhook_max_concurrency,
            policy=retry_policy(s),
        )

    def new_worker(self, *, name: str | None = None) -> DeliveryWorker:
        """A worker on this database; :meth:`after_commit` wakes it."""
        return self._workers.add(
            DeliveryWorker(
                transaction=self._database.transaction,
                box=self.box,
                config=self.worker_config(),
                name=name,
                on_attempt=self._on_attempt,
            )
        )

    def after_commit(self, info: Mapping[str, Any]) -> None:
        """The unit of work's hook (``Database.on_commit``), see :meth:`OutboxWorkers.wake`."""
        self._workers.wake(info)

    async def run_workers(self, count: int = 1) -> None:
        await self._workers.run(self.new_worker, count)

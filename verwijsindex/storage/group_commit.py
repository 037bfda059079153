"""Group commit: concurrent units of work share one transaction and one fsync.

On SQLite every write transaction holds the single writer lock and ends with an fsync
(``synchronous=FULL``), so one transaction per request caps throughput at the disk's fsync
rate. :class:`GroupCommitter` runs each submitted unit of work inside a SAVEPOINT of a shared
transaction and resolves every caller only after that transaction has committed:

- nothing is acknowledged before it is durable;
- a unit of work that fails rolls back to its savepoint and fails alone;
- units run one after another, so the per-youth serialisation of the match rules holds
  exactly as with one transaction per request;
- a group first runs without savepoints (each costs two statements and SQLAlchemy's nested
  transaction bookkeeping); only if something in it raises is it rolled back and run again
  with a savepoint around each handler call and unit, so that the failure stays alone;
- if the commit itself fails, every unit of that group fails and nothing was acknowledged;
- all payloads of one batch handler in a group go to one call, so the handler takes its locks
  once, in its own sorted order, and two groups (in two processes on PostgreSQL) always lock
  in the same global order; should PostgreSQL still report a deadlock or a serialisation
  failure, the whole group runs again (up to three times) before anyone is answered.

A group is whatever arrived while the previous group was committing (up to ``max_batch``), so
a lone request waits for nobody.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from typing import Any, TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from verwijsindex.logging import get_logger
from verwijsindex.storage.engine import Database

T = TypeVar("T")
P = TypeVar("P")
Work = Callable[[AsyncSession], Awaitable[Any]]
BatchHandler = Callable[[AsyncSession, list[Any]], Awaitable[list[Any]]]
"""Handles many payloads at once; returns one result per payload, an Exception instance
for a payload that failed on its own."""


@dataclass(frozen=True)
class GroupedWrite:
    """A kind of write that a group runs once for all its payloads (set-based), and where it
    runs among the others: the writes of one group run in ascending ``lock_order``, so that
    groups of different processes take their locks in the same order (no deadlock)."""

    handler: BatchHandler
    lock_order: int = 0


log = get_logger(__name__)


@dataclass
class _Item:
    future: asyncio.Future[Any] = field(repr=False)
    work: Work | None = None
    write: GroupedWrite | None = None
    payload: Any = None


_ATTEMPTS = 3
_TRANSIENT_SQLSTATES = frozenset({"40P01", "40001"})  # deadlock detected, serialization failure


def is_transient(exc: BaseException) -> bool:
    """A PostgreSQL error after which the same transaction may simply be run again."""
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code in _TRANSIENT_SQLSTATES


class _Retry(Exception):
    """Aborts a group's transaction so that it is run again."""


class _Isolate(Exception):
    """Aborts a group run without savepoints: something in it failed, so it runs again with
    each handler call and unit in a savepoint of its own."""


def _savepoint(session: AsyncSession, isolated: bool) -> AbstractAsyncContextManager[Any]:
    """A savepoint around one handler call or unit in an isolated try; nothing otherwise."""
    return session.begin_nested() if isolated else contextlib.nullcontext()


def _failed(exc: Exception, isolated: bool) -> Exception:
    """What a failed handler call or unit means for its try: a deadlock or serialisation
    failure re-runs the group (:class:`_Retry`); any other failure re-runs a try without
    savepoints isolated (:class:`_Isolate`), and in an isolated try it is the unit's own
    outcome (returned)."""
    if is_transient(exc):
        raise _Retry from exc
    if not isolated:
        raise _Isolate from exc
    return exc


class GroupCommitter:
    """Runs units of work in shared transactions. Start with :meth:`start`, stop with
    :meth:`stop`; :meth:`run` is what callers use."""

    def __init__(
        self,
        *,
        database: Database,
        max_batch: int = 256,
        on_group: Callable[[int], None] | None = None,
    ) -> None:
        self._database = database
        self._max_batch = max_batch
        self._on_group = on_group
        """Told each committed group's size (the operators' metrics)."""
        self._queue: asyncio.Queue[_Item] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self.groups = 0
        self.retries = 0
        self.isolations = 0
        """Groups run again with savepoints because something in them raised."""
        self.units = 0

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._loop(), name="group-commit")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if not item.future.done():
                item.future.set_exception(RuntimeError("the service is shutting down"))

    async def run(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work`` in a shared transaction; return its result once committed."""
        if self._task is None:
            async with self._database.transaction() as session:
                return await work(session)
        future: asyncio.Future[T] = asyncio.get_running_loop().create_future()
        await self._queue.put(_Item(future, work=work))
        return await future

    async def run_batched(self, write: GroupedWrite, payload: Any) -> Any:
        """Hand ``payload`` to ``write``'s handler together with the other payloads of the
        same write in this group (one call, set-based); return its result once committed."""
        if self._task is None:
            async with self._database.transaction() as session:
                (result,) = await write.handler(session, [payload])
        else:
            future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            await self._queue.put(_Item(future, write=write, payload=payload))
            result = await future
        if isinstance(result, Exception):
            raise result
        return result

    async def _loop(self) -> None:
        while True:
            first = await self._queue.get()
            group = [first]
            while len(group) < self._max_batch and not self._queue.empty():
                group.append(self._queue.get_nowait())
            await self._run_group(group)

    @staticmethod
    async def _run_one(session: AsyncSession, item: _Item, isolated: bool) -> tuple[bool, Any]:
        if item.future.cancelled() or item.work is None:
            return False, None
        try:
            async with _savepoint(session, isolated):
                return True, await item.work(session)
        except Exception as exc:  # the unit fails alone
            return False, _failed(exc, isolated)

    @staticmethod
    async def _run_batch(
        session: AsyncSession, handler: BatchHandler, items: list[_Item], isolated: bool
    ) -> list[tuple[bool, Any]]:
        try:
            async with _savepoint(session, isolated):
                results = await handler(session, [it.payload for it in items])
            return [(True, r) for r in results]
        except Exception as exc:
            _failed(exc, isolated)
            # Something failed for the batch as a whole: isolate it, one payload at a time.
            singles: list[tuple[bool, Any]] = []
            for it in items:
                try:
                    async with session.begin_nested():
                        (result,) = await handler(session, [it.payload])
                    singles.append((True, result))
                except Exception as exc:
                    singles.append((False, _failed(exc, isolated=True)))
            return singles

    async def _attempt(self, group: list[_Item], *, isolated: bool) -> list[tuple[bool, Any]]:
        """One transaction for the whole group. Every payload of a handler goes to one call,
        whatever its place in the group, so the handler takes its locks once, in its own
        (sorted) order; then the single units run in arrival order. ``isolated``: each call
        and unit in a savepoint, so that one that fails is undone alone; otherwise anything
        that raises aborts the attempt (:class:`_Isolate`)."""
        outcomes: dict[int, tuple[bool, Any]] = {}
        batches: dict[GroupedWrite, list[int]] = {}
        singles: list[int] = []
        for index, item in enumerate(group):
            if item.write is None:
                singles.append(index)
            else:
                batches.setdefault(item.write, []).append(index)
        # Writes run in a fixed order (``lock_order``; ties in arrival order), so that groups
        # of different processes take their locks in the same order.
        ordered = sorted(batches.items(), key=lambda kv: kv[0].lock_order)
        async with self._database.transaction(grouped=True) as session:
            for write, indices in ordered:
                items = [group[i] for i in indices]
                results = await self._run_batch(session, write.handler, items, isolated)
                outcomes.update(zip(indices, results, strict=True))
            for index in singles:
                outcomes[index] = await self._run_one(session, group[index], isolated)
        return [outcomes[i] for i in range(len(group))]

    async def _run_group(self, group: list[_Item]) -> None:
        attempt = 1
        isolated = False
        while True:
            try:
                outcomes = await self._attempt(group, isolated=isolated)
                break
            except _Isolate:
                # Rolled back whole; nothing was acknowledged. Not counted as a retry.
                isolated = True
                self.isolations += 1
                continue
            except _Retry as retry:
                # A deadlock or serialisation failure rolled the whole group back; nothing was
                # acknowledged, so it runs again from the start (PostgreSQL's advice for both).
                cause = retry.__cause__ or retry
                if attempt < _ATTEMPTS:
                    log.warning(
                        "group_commit_retry", size=len(group), attempt=attempt,
                        error_type=type(cause).__name__,
                    )  # fmt: skip
                    attempt += 1
                    self.retries += 1
                    continue
                self._fail(group, cause)
                return
            except BaseException as exc:
                self._fail(group, exc)
                if not isinstance(exc, Exception):
                    raise
                return
        self.groups += 1
        self.units += len(group)
        if self._on_group is not None:
            self._on_group(len(group))
        self._settle(group, outcomes)

    @staticmethod
    def _settle(group: list[_Item], outcomes: list[tuple[bool, Any]]) -> None:
        for item, (ok, value) in zip(group, outcomes, strict=True):
            if item.future.done():
                continue
            if ok:
                item.future.set_result(value)
            elif value is not None:
                item.future.set_exception(value)
            else:
                item.future.cancel()

    @staticmethod
    def _fail(group: list[_Item], exc: BaseException) -> None:
        log.error("group_commit_failed", size=len(group), error_type=type(exc).__name__)
        failure = exc if isinstance(exc, Exception) else RuntimeError("the write was aborted")
        for item in group:
            if not item.future.done():
                item.future.set_exception(failure)

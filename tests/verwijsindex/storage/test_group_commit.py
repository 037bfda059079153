"""Group commit keeps every guarantee of one transaction per request."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import pytest
from sqlalchemy import event, func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import Caller, make_bsn
from verwijsindex.context import AppContext
from verwijsindex.errors import InvalidBSN
from verwijsindex.organisations.models import Organisation
from verwijsindex.storage.group_commit import GroupCommitter, GroupedWrite, Work


async def _orgs(ctx: AppContext) -> int:
    async with ctx.database.read() as s:
        return int((await s.execute(select(func.count()).select_from(Organisation))).scalar_one())


def _good_and_bad_units(ctx: AppContext) -> tuple[Work, Work]:
    """A unit that creates an organisation, and one that creates one and then fails (after a
    write: whatever undoes the failure must undo that write too)."""

    async def good(session: AsyncSession) -> str:
        org = await ctx.admin.create_organisation(
            session, name="ok", sector="other", municipality="0363"
        )
        return org.id

    async def bad(session: AsyncSession) -> str:
        await ctx.admin.create_organisation(
            session, name="half", sector="other", municipality="0363"
        )
        raise InvalidBSN("nope")

    return good, bad


class TestGroupCommitter:
    async def test_concurrent_units_share_groups_and_all_commit(self, ctx: AppContext) -> None:
        committer = GroupCommitter(database=ctx.database, max_batch=64)
        committer.start()
        try:

            async def unit(n: int) -> str:
                async def work(session: AsyncSession) -> str:
                    org = await ctx.admin.create_organisation(
                        session, name=f"O{n}", sector="other", municipality="0363"
                    )
                    return org.id

                return await committer.run(work)

            before = await _orgs(ctx)
            ids = await asyncio.gather(*(unit(n) for n in range(100)))
            assert len(set(ids)) == 100
            assert await _orgs(ctx) == before + 100
            assert committer.units == 100
            assert committer.groups < 100  # some requests really shared a transaction
        finally:
            await committer.stop()

    async def test_a_failing_unit_fails_alone(self, ctx: AppContext) -> None:
        committer = GroupCommitter(database=ctx.database)
        committer.start()
        try:
            good, bad = _good_and_bad_units(ctx)

            before = await _orgs(ctx)
            results = await asyncio.gather(
                committer.run(good),
                committer.run(bad),
                committer.run(good),
                return_exceptions=True,
            )
            assert isinstance(results[1], InvalidBSN)
            assert all(isinstance(r, str) for r in (results[0], results[2]))
            assert await _orgs(ctx) == before + 2
        finally:
            await committer.stop()

    async def test_groups_run_without_savepoints_until_something_fails(
        self, ctx: AppContext
    ) -> None:
        """A group runs first without savepoints; when a unit raises, the whole try is rolled
        back and the group runs again with a savepoint per unit: the good units commit once
        (nothing of the first try is kept), the failing one fails alone."""
        committer = GroupCommitter(database=ctx.database)
        statements: list[str] = []
        engine = (ctx.database.group_engine or ctx.database.engine).sync_engine

        def seen(_c: object, _cur: object, statement: str, *_args: object) -> None:
            statements.append(statement.split()[0].upper())

        event.listen(engine, "before_cursor_execute", seen)
        committer.start()
        try:
            good, bad = _good_and_bad_units(ctx)

            before = await _orgs(ctx)
            gate = asyncio.Event()

            async def hold(session: AsyncSession) -> None:
                await gate.wait()  # the next three queue up behind this group: one group

            holding = asyncio.create_task(committer.run(hold))
            await asyncio.sleep(0.05)
            queued = [
                asyncio.create_task(committer.run(w)) for w in (good, good)
            ]  # fmt: skip
            await asyncio.sleep(0.05)
            gate.set()
            await holding
            assert all(isinstance(r, str) for r in await asyncio.gather(*queued))
            assert "SAVEPOINT" not in statements  # the normal case takes no savepoints
            assert committer.isolations == 0

            gate.clear()
            holding = asyncio.create_task(committer.run(hold))
            await asyncio.sleep(0.05)
            queued = [asyncio.create_task(committer.run(w)) for w in (good, bad, good)]
            await asyncio.sleep(0.05)
            gate.set()
            await holding
            results = await asyncio.gather(*queued, return_exceptions=True)
            assert isinstance(results[1], InvalidBSN)
            assert all(isinstance(r, str) for r in (results[0], results[2]))
            assert committer.isolations == 1
            assert "SAVEPOINT" in statements
            assert await _orgs(ctx) == before + 4  # two per round, none from a failed try
        finally:
            event.remove(engine, "before_cursor_execute", seen)
            await committer.stop()

    async def test_a_failed_commit_acknowledges_nothing(
        self, ctx: AppContext, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        class CommitFailed(Exception):
            pass

        real = ctx.database.transaction

        @contextlib.asynccontextmanager
        async def failing(*, grouped: bool = False) -> AsyncIterator[AsyncSession]:
            async with ctx.database.sessions() as session:
                await session.begin()
                yield session
                await session.rollback()
                raise CommitFailed

        committer = GroupCommitter(database=ctx.database)
        monkeypatch.setattr(ctx.database, "transaction", failing)
        committer.start()
        try:

            async def work(session: AsyncSession) -> str:
                org = await ctx.admin.create_organisation(
                    session, name="x", sector="other", municipality="0363"
                )
                return org.id

            before = await _orgs(ctx)
            results = await asyncio.gather(
                committer.run(work), committer.run(work), return_exceptions=True
            )
            assert all(isinstance(r, CommitFailed) for r in results)
            # The loop survives a failed group and serves the next one.
            monkeypatch.setattr(ctx.database, "transaction", real)
            assert isinstance(await committer.run(work), str)
        finally:
            await committer.stop()
        assert await _orgs(ctx) == before + 1

    async def test_result_is_durable_when_returned(
        self, ctx: AppContext, callers: list[Caller]
    ) -> None:
        # Seen by a fresh connection the moment the caller gets its answer.
        committer = GroupCommitter(database=ctx.database)
        committer.start()
        try:
            from verwijsindex.registrations.index import Actor

            actor = Actor(callers[0].organisation_id, callers[0].professional_id)

            async def work(session: AsyncSession) -> str:
                res = await ctx.index.register(
                    session,
                    actor=actor,
                    bsn=make_bsn(1),
                    birth_date="2012-01-01",
                    municipality=None,
                )
                return res.registration.id

            rid = await committer.run(work)
            async with ctx.database.read() as s:
                found = await s.execute(
                    text("SELECT id FROM registrations WHERE id = :i"), {"i": rid}
                )
                assert found.scalar_one() == rid
        finally:
            await committer.stop()


class _Deadlock(Exception):
    """Shaped like SQLAlchemy's error for PostgreSQL's ``deadlock detected``."""

    class orig:  # the attribute SQLAlchemy's DBAPIError carries
        sqlstate = "40P01"


class TestGroupsOfBatches:
    async def test_all_payloads_of_a_handler_in_a_group_go_to_one_call(
        self, ctx: AppContext
    ) -> None:
        committer = GroupCommitter(database=ctx.database)
        committer.start()
        calls: list[list[int]] = []

        async def handler(session: AsyncSession, payloads: list[int]) -> list[int]:
            calls.append(list(payloads))
            return [p * 10 for p in payloads]

        release = asyncio.Event()

        async def blocker(session: AsyncSession) -> None:
            await release.wait()

        async def single(session: AsyncSession) -> str:
            return "single"

        try:
            busy = asyncio.create_task(committer.run(blocker))
            await asyncio.sleep(0)  # the blocker's group is running; the rest queue behind it
            queued = [
                asyncio.create_task(committer.run_batched(GroupedWrite(handler), 1)),
                asyncio.create_task(committer.run(single)),
                asyncio.create_task(committer.run_batched(GroupedWrite(handler), 2)),
            ]
            await asyncio.sleep(0)
            release.set()
            await busy
            assert await asyncio.gather(*queued) == [10, "single", 20]
        finally:
            await committer.stop()
        assert calls == [[1, 2]]

    async def test_handlers_of_a_group_run_in_lock_order_not_arrival_order(
        self, ctx: AppContext
    ) -> None:
        committer = GroupCommitter(database=ctx.database)
        committer.start()
        ran: list[str] = []

        async def last(session: AsyncSession, payloads: list[int]) -> list[int]:
            ran.append("last")
            return payloads

        async def first(session: AsyncSession, payloads: list[int]) -> list[int]:
            ran.append("first")
            return payloads

        release = asyncio.Event()

        async def blocker(session: AsyncSession) -> None:
            await release.wait()

        try:
            busy = asyncio.create_task(committer.run(blocker))
            await asyncio.sleep(0)
            queued = [
                asyncio.create_task(committer.run_batched(GroupedWrite(last, lock_order=100), 1)),
                asyncio.create_task(committer.run_batched(GroupedWrite(first), 2)),
            ]
            await asyncio.sleep(0)
            release.set()
            await busy
            assert await asyncio.gather(*queued) == [1, 2]
        finally:
            await committer.stop()
        assert ran == ["first", "last"]

    async def test_a_group_hit_by_a_deadlock_runs_again_and_keeps_nothing_of_the_try(
        self, ctx: AppContext
    ) -> None:
        committer = GroupCommitter(database=ctx.database)
        committer.start()
        tries = 0

        async def handler(session: AsyncSession, payloads: list[str]) -> list[str]:
            nonlocal tries
            tries += 1
            ids = []
            for name in payloads:
                org = await ctx.admin.create_organisation(
                    session, name=name, sector="other", municipality="0363"
                )
                ids.append(org.id)
            if tries == 1:
                raise _Deadlock  # after writing: the retry must start from a clean transaction
            return ids

        try:
            before = await _orgs(ctx)
            ids = await asyncio.gather(
                committer.run_batched(GroupedWrite(handler), "a"),
                committer.run_batched(GroupedWrite(handler), "b"),
            )
        finally:
            await committer.stop()
        assert len(set(ids)) == 2
        assert committer.retries >= 1
        assert await _orgs(ctx) == before + 2

    async def test_a_group_that_keeps_deadlocking_fails_and_commits_nothing(
        self, ctx: AppContext
    ) -> None:
        committer = GroupCommitter(database=ctx.database)
        committer.start()

        async def work(session: AsyncSession) -> None:
            await ctx.admin.create_organisation(
                session, name="x", sector="other", municipality="0363"
            )
            raise _Deadlock

        try:
            before = await _orgs(ctx)
            with pytest.raises(_Deadlock):
                await committer.run(work)
            assert committer.retries == 2  # three tries in all
            assert await _orgs(ctx) == before
        finally:
            await committer.stop()

"""Group commit across processes on PostgreSQL: two groups that lock the same rows in opposite
orders do not fail their callers, and recording a key's last use never waits for a lock."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from tests.conftest import BACKENDS, Caller
from verwijsindex.context import AppContext
from verwijsindex.organisations import repository as org_repo
from verwijsindex.organisations.service import Principal
from verwijsindex.settings import Settings
from verwijsindex.storage.engine import create_database
from verwijsindex.storage.group_commit import GroupCommitter

pytestmark = pytest.mark.parametrize(
    "backend", [b for b in ("postgresql",) if b in BACKENDS], indirect=True
)

# Generous guard against a hang, not a timing assertion.
_HANG = 60


class TestAcrossProcesses:
    async def test_a_deadlock_between_two_groups_is_run_again(
        self, ctx: AppContext, settings: Settings, callers: list[Caller]
    ) -> None:
        # A second Database stands for a second process: its own pool and committer.
        other = create_database(settings)
        first = GroupCommitter(database=ctx.database)
        second = GroupCommitter(database=other)
        first.start()
        second.start()
        a, b = callers[0].organisation_id, callers[1].organisation_id
        holds: dict[str, asyncio.Event] = {a: asyncio.Event(), b: asyncio.Event()}

        def crosswise(mine: str, theirs: str) -> object:
            async def work(session: AsyncSession) -> str:
                update = text("UPDATE organisations SET name = name || '.' WHERE id = :i")
                await session.execute(update, {"i": mine})
                holds[mine].set()
                await holds[theirs].wait()  # both hold one row, each now wants the other's
                await session.execute(update, {"i": theirs})
                return mine

            return work

        try:
            results = await asyncio.wait_for(
                asyncio.gather(
                    first.run(crosswise(a, b)),  # type: ignore[arg-type]
                    second.run(crosswise(b, a)),  # type: ignore[arg-type]
                ),
                _HANG,
            )
        finally:
            await first.stop()
            await second.stop()
            await other.dispose()
        assert sorted(results) == sorted([a, b])
        assert first.retries + second.retries == 1  # PostgreSQL aborted exactly one of them
        async with ctx.database.read() as s:
            names = await s.execute(
                text("SELECT name FROM organisations WHERE id IN (:a, :b)"), {"a": a, "b": b}
            )
            # Each row got both updates exactly once: the aborted try left nothing behind.
            assert all(n.endswith("..") and not n.endswith("...") for (n,) in names)

    async def test_recording_last_use_never_waits_for_a_locked_key(
        self, ctx: AppContext, callers: list[Caller]
    ) -> None:
        principal = await _principal(ctx, callers[0].key)
        async with ctx.database.transaction() as holder:
            await holder.execute(
                text("SELECT id FROM api_keys WHERE id = :i FOR UPDATE"),
                {"i": principal.api_key_id},
            )

            async def touch() -> None:
                async with ctx.database.transaction() as session:
                    await ctx.admin.touch(session, principal)

            # While the row is locked the touch skips it instead of waiting.
            await asyncio.wait_for(touch(), _HANG)
        async with ctx.database.read() as s:
            key = await org_repo.get_api_key(s, principal.api_key_id)
            assert key is not None and key.last_used_at is None  # skipped, not waited for

        # Unlocked, it records the use.
        async with ctx.database.transaction() as session:
            await ctx.admin.touch(session, principal)
        async with ctx.database.read() as s:
            key = await org_repo.get_api_key(s, principal.api_key_id)
            assert key is not None and key.last_used_at is not None


async def _principal(ctx: AppContext, presented: str) -> Principal:
    async with ctx.database.read() as session:
        found = await ctx.admin.authenticate(session, presented)
    assert found is not None
    return found

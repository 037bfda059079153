"""SQLite: the service copies the write-ahead log into the database file in the background."""

from __future__ import annotations

import asyncio
import shutil
import sqlite3
from pathlib import Path

import httpx
import pytest

from tests.conftest import make_bsn, make_caller, registration_body
from verwijsindex.http.app import create_app
from verwijsindex.settings import Settings

pytestmark = pytest.mark.parametrize("backend", ["sqlite"], indirect=True)

_GUARD = 200  # ticks of 0.05 s: a bound against a hang, not a timing assertion


async def _registrations_in_main_file(database: str, tmp_path: Path) -> int:
    # A copy of the database file alone, without its -wal: only checkpointed pages are in it.
    copy = tmp_path / "main-file-only.db"
    shutil.copyfile(database, copy)
    with sqlite3.connect(copy) as conn:
        return int(conn.execute("SELECT count(*) FROM registrations").fetchone()[0])


@pytest.mark.parametrize("interval", [0.05, 0.0])
async def test_committed_registrations_reach_the_database_file(
    settings: Settings, tmp_path: Path, interval: float
) -> None:
    settings = settings.model_copy(
        update={"sqlite_checkpoint_interval_s": interval, "group_commit": True}
    )
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        ctx = app.state.ctx
        database = ctx.database.path
        assert database is not None
        caller = await make_caller(ctx, 1)
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
            for i in range(5):
                r = await client.post(
                    "/v1/registrations", json=registration_body(make_bsn(i)), headers=caller.headers
                )
                assert r.status_code == 201
        stats = app.state.checkpoints
        before = stats.runs
        # Two more runs: one may have begun before the last commit (a run counts when it
        # ends), the second began after it.
        for _ in range(_GUARD):
            if interval == 0 or stats.runs >= before + 2:
                break
            await asyncio.sleep(0.05)
        found = await _registrations_in_main_file(database, tmp_path)
    if interval:
        assert stats.runs >= before + 2 and found == 5
    else:
        # Off: a handful of commits stay in the log (SQLite checkpoints at 1,000 pages).
        assert stats.runs == 0 and found == 0


def _wal_frames(path: str) -> int:
    """Frames in the log now (a PASSIVE checkpoint reports them; it copies nothing new here
    that the next assertion depends on)."""
    with sqlite3.connect(path) as conn:
        return int(conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()[1])


async def test_a_run_closes_the_log_while_writes_go_on(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Writes between (and during) the passive passes: the run still copies the whole log,
    holding this process's writers for the FULL step only, and the next commit restarts it."""
    from verwijsindex.storage import checkpoint

    # Nothing else of the service writes or checkpoints meanwhile.
    quiet = {"sqlite_checkpoint_interval_s": 0.0, "run_webhook_worker": False}
    app = create_app(settings.model_copy(update=quiet))
    async with app.router.lifespan_context(app):
        database = app.state.ctx.database
        path = database.path
        writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        writer.execute("CREATE TABLE scratch (x BLOB)")

        def commit_some(rows: int) -> None:
            writer.execute("BEGIN IMMEDIATE")
            writer.executemany("INSERT INTO scratch VALUES (?)", [(b"x" * 3000,)] * rows)
            writer.execute("COMMIT")

        modes: list[tuple[str, bool]] = []
        real = checkpoint._checkpoint

        def checkpoint_while_writing(
            connection: sqlite3.Connection, mode: str
        ) -> tuple[int, int, int]:
            modes.append((mode, database.writers.locked()))
            result = real(connection, mode)
            if mode == "PASSIVE":
                commit_some(400)  # ~300 pages: another pass, and still frames left after it
            return result

        monkeypatch.setattr(checkpoint, "_checkpoint", checkpoint_while_writing)
        commit_some(2000)
        connection = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            frames, closed = await checkpoint.checkpoint_once(database, connection, close_at=0)
        finally:
            connection.close()
        monkeypatch.setattr(checkpoint, "_checkpoint", real)
        assert closed and frames > 2000
        # Passes while writes go on, then FULL with the writers held.
        assert modes[-1] == ("FULL", True)
        assert len(modes) >= 3 and all(m == ("PASSIVE", False) for m in modes[:-1])
        # Everything copied: the next commit starts the log over instead of appending.
        commit_some(1)
        assert _wal_frames(path) < 10
        writer.close()


def _record_modes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The modes of the checkpoints run from now on, in order."""
    from verwijsindex.storage import checkpoint

    modes: list[str] = []
    real = checkpoint._checkpoint

    def record(connection: sqlite3.Connection, mode: str) -> tuple[int, int, int]:
        modes.append(mode)
        return real(connection, mode)

    monkeypatch.setattr(checkpoint, "_checkpoint", record)
    return modes


async def test_a_short_log_is_not_closed(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Below ``close_at`` frames a run only makes passive passes: the writers are never held."""
    from verwijsindex.storage import checkpoint

    quiet = {"sqlite_checkpoint_interval_s": 0.0, "run_webhook_worker": False}
    app = create_app(settings.model_copy(update=quiet))
    async with app.router.lifespan_context(app):
        database = app.state.ctx.database
        with sqlite3.connect(database.path, isolation_level=None) as writer:
            writer.execute("CREATE TABLE scratch (x BLOB)")
            writer.executemany("INSERT INTO scratch VALUES (?)", [(b"x" * 3000,)] * 500)
        modes = _record_modes(monkeypatch)
        connection = sqlite3.connect(database.path, check_same_thread=False, isolation_level=None)
        try:
            frames, closed = await checkpoint.checkpoint_once(database, connection, close_at=5000)
        finally:
            connection.close()
        assert frames > 400 and not closed
        assert modes and set(modes) == {"PASSIVE"}


async def test_a_run_counts_only_what_it_copied(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Runs remember where the log was left: a run after one that copied everything, with no
    commits between, copies nothing and makes one pass; after the log starts over the frames
    are counted from its beginning again."""
    from verwijsindex.storage import checkpoint

    quiet = {"sqlite_checkpoint_interval_s": 0.0, "run_webhook_worker": False}
    app = create_app(settings.model_copy(update=quiet))
    async with app.router.lifespan_context(app):
        database = app.state.ctx.database
        writer = sqlite3.connect(database.path, isolation_level=None, check_same_thread=False)
        writer.execute("CREATE TABLE scratch (x BLOB)")
        writer.executemany("INSERT INTO scratch VALUES (?)", [(b"x" * 3000,)] * 500)
        modes = _record_modes(monkeypatch)
        connection = sqlite3.connect(database.path, check_same_thread=False, isolation_level=None)
        position = checkpoint.LogPosition()
        try:
            first, _ = await checkpoint.checkpoint_once(database, connection, position=position)
            modes.clear()
            again, _ = await checkpoint.checkpoint_once(database, connection, position=position)
            assert (again, modes) == (0, ["PASSIVE"])
            # The log was copied whole: the next commit starts it over, with fewer frames.
            writer.executemany("INSERT INTO scratch VALUES (?)", [(b"x" * 3000,)] * 50)
            after, _ = await checkpoint.checkpoint_once(database, connection, position=position)
        finally:
            connection.close()
            writer.close()
        assert first > 400
        assert 0 < after < first and after == position.copied


def _size(path: str) -> int:
    return Path(path).stat().st_size


class TestTruncateLog:
    """After an erasure the write-ahead log is copied back and truncated to zero bytes; a
    reader still using the log makes it wait and retry, never fail the erasure."""

    async def test_truncates_the_log_and_waits_for_a_reader(
        self, settings: Settings, tmp_path: Path
    ) -> None:
        from verwijsindex.storage.checkpoint import truncate_log

        app = create_app(settings.model_copy(update={"sqlite_checkpoint_interval_s": 0.05}))
        async with app.router.lifespan_context(app):
            ctx = app.state.ctx
            database = ctx.database.path
            assert database is not None
            caller = await make_caller(ctx, 1)
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://t") as client:
                for i in range(3):
                    r = await client.post(
                        "/v1/registrations",
                        json=registration_body(make_bsn(i)),
                        headers=caller.headers,
                    )
                    assert r.status_code == 201
            wal = database + "-wal"
            assert _size(wal) > 0
            reader = sqlite3.connect(database, isolation_level=None)
            try:
                reader.execute("BEGIN")
                reader.execute("SELECT count(*) FROM registrations").fetchone()
                # The reader holds its snapshot of the log: TRUNCATE cannot finish.
                assert await truncate_log(ctx.database, attempts=2) is False
                reader.execute("COMMIT")
                # Reader gone, the background checkpointer still running: it completes.
                assert await truncate_log(ctx.database) is True
            finally:
                reader.close()
            assert _size(wal) == 0
            assert await _registrations_in_main_file(database, tmp_path) == 3

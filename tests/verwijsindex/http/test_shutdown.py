"""The app's shutdown waits a bounded time for its cancelled background workers: one stuck in
a peer's I/O (an SMTP relay or webhook receiver that stops answering mid-handshake) is logged
and left, one that failed is logged, and the database is closed either way."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from verwijsindex.http import app as app_module
from verwijsindex.http.app import create_app
from verwijsindex.logging import configure_logging
from verwijsindex.settings import Settings


class _StuckWorker:
    """Ignores the first cancellation (as an await that swallows it would), then stops."""

    def __init__(self) -> None:
        self.released = asyncio.Event()

    async def run(self) -> None:
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            await self.released.wait()


class _FailedWorker:
    async def run(self) -> None:
        raise RuntimeError("boom")


def _events(err: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in err.splitlines() if line.startswith("{")]


async def test_a_stuck_worker_does_not_hold_the_shutdown(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(app_module, "_STOP_SECONDS", 0.3)
    configure_logging(level="info", json=True)
    app = create_app(settings.model_copy(update={"run_webhook_worker": True}))
    stuck = _StuckWorker()
    monkeypatch.setattr(app.state.ctx.webhooks, "new_worker", lambda **_: stuck)
    capsys.readouterr()
    async with asyncio.timeout(5):  # an unbounded wait would hang here: fail instead
        async with app.router.lifespan_context(app):
            await asyncio.sleep(0.05)  # the worker is running
            started = time.monotonic()
    took = time.monotonic() - started
    assert 0.3 <= took < 3, f"the shutdown took {took:.2f} s"
    stopped = [e for e in _events(capsys.readouterr().err) if e["event"] == "worker_did_not_stop"]
    assert [e["worker"] for e in stopped] == ["webhook-worker"]
    stuck.released.set()
    await asyncio.sleep(0)  # let the worker end


async def test_a_failed_worker_is_logged(
    settings: Settings, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    configure_logging(level="info", json=True)
    app = create_app(settings.model_copy(update={"run_webhook_worker": True}))
    monkeypatch.setattr(app.state.ctx.webhooks, "new_worker", lambda **_: _FailedWorker())
    capsys.readouterr()
    async with app.router.lifespan_context(app):
        await asyncio.sleep(0.05)  # the worker has failed by now
    failed = [e for e in _events(capsys.readouterr().err) if e["event"] == "worker_failed"]
    assert failed and failed[0]["worker"] == "webhook-worker"
    assert failed[0]["error_type"] == "RuntimeError" and "boom" not in json.dumps(failed[0])

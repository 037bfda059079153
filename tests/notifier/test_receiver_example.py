"""The copyable receiver in scripts/webhook_receiver.py: verifies, rejects stale, de-duplicates."""

from __future__ import annotations

import importlib.util
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import httpx
import pytest

from crypto import generate_webhook_secret, parse_webhook_secret, signature_header

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "webhook_receiver.py"


def _load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("webhook_receiver", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class TestReceiverExample:
    @pytest.fixture
    def running(self, tmp_path: Path) -> Iterator[tuple[str, str, str, list[dict[str, Any]]]]:
        module = _load()
        old, new = generate_webhook_secret(), generate_webhook_secret()
        handled: list[dict[str, Any]] = []
        module.handle_event = handled.append
        handler = module.make_handler(
            [module.parse_secret(old), module.parse_secret(new)],
            module.SeenIds(tmp_path / "seen.json"),
        )
        server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}/", old, new, handled
        finally:
            server.shutdown()
            server.server_close()

    @staticmethod
    def _post(url: str, secret: str, msg_id: str, timestamp: int) -> int:
        body = b'{"data":{"match_id":"m1","registration_id":"r1"},"type":"match.created"}'
        headers = {
            "webhook-id": msg_id,
            "webhook-timestamp": str(timestamp),
            "webhook-signature": signature_header(
                msg_id=msg_id,
                timestamp=timestamp,
                body=body,
                secrets=[parse_webhook_secret(secret)],
            ),
        }
        return httpx.post(url, content=body, headers=headers).status_code

    def test_verifies_dedups_and_rejects(
        self, running: tuple[str, str, str, list[dict[str, Any]]]
    ) -> None:
        url, old, new, handled = running
        now = int(time.time())
        assert self._post(url, old, "msg_1", now) == 204
        assert self._post(url, new, "msg_2", now) == 204  # either secret during a rotation
        assert self._post(url, old, "msg_1", now) == 204  # a repeat is acknowledged...
        assert [e["type"] for e in handled] == ["match.created", "match.created"]  # ...once
        assert self._post(url, old, "msg_3", now - 600) == 401  # stale
        assert self._post(url, generate_webhook_secret(), "msg_4", now) == 401  # wrong secret
        assert len(handled) == 2

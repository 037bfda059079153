"""A real HTTP receiver on 127.0.0.1 that verifies every delivery with ``standardwebhooks``.

Runs in a thread (the code under test runs in the test's event loop or another process). Each
path is one endpoint: ``/<name>``. A ``behaviour`` per path decides the answer: a list of
statuses consumed in order (then 200), ``"hang"`` (hold the request until released), and
``retry_after`` headers. Only verified requests count as deliveries; ``unique`` is the
receiver's de-duplicated view on ``webhook-id``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


@dataclass
class Delivery:
    path: str
    webhook_id: str
    headers: dict[str, str]
    body: bytes
    payload: dict[str, Any]


@dataclass
class Behaviour:
    statuses: list[int] = field(default_factory=list)
    headers: dict[str, str] = field(default_factory=dict)
    hang: bool = False


class Receiver:
    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.secrets: dict[str, list[str]] = {}
        self.behaviour: dict[str, Behaviour] = {}
        self.deliveries: list[Delivery] = []
        self.requests = 0
        self.rejected = 0
        self.hanging = 0
        self.release = threading.Event()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def url(self, name: str) -> str:
        return f"{self.base_url}/{name}"

    def expect(self, name: str, *secrets: str) -> None:
        """Accept deliveries on ``/<name>`` signed with any of ``secrets``."""
        self.secrets[name] = list(secrets)

    def of(self, name: str) -> list[Delivery]:
        with self._lock:
            return [d for d in self.deliveries if d.path == name]

    def unique(self, name: str | None = None) -> dict[str, Delivery]:
        with self._lock:
            seen: dict[str, Delivery] = {}
            for d in self.deliveries:
                if name is None or d.path == name:
                    seen.setdefault(d.webhook_id, d)
            return seen

    def _handle(self, handler: BaseHTTPRequestHandler) -> tuple[int, dict[str, str]]:
        name = handler.path.lstrip("/")
        length = int(handler.headers.get("content-length", "0"))
        body = handler.rfile.read(length)
        headers = {k.lower(): v for k, v in handler.headers.items()}
        with self._lock:
            self.requests += 1
            behaviour = self.behaviour.get(name, Behaviour())
            status = behaviour.statuses.pop(0) if behaviour.statuses else 200
        if behaviour.hang and not self.release.is_set():
            with self._lock:
                self.hanging += 1
            self.release.wait(timeout=30)
            with self._lock:
                self.hanging -= 1
        verified = False
        for secret in self.secrets.get(name, []):
            try:
                Webhook(secret).verify(body, headers)
            except WebhookVerificationError:
                continue
            verified = True
        if not verified:
            with self._lock:
                self.rejected += 1
            return 401, {}
        if 200 <= status < 300:
            with self._lock:
                self.deliveries.append(
                    Delivery(name, headers["webhook-id"], headers, body, json.loads(body))
                )
        return status, dict(behaviour.headers)

    def start(self) -> Receiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                status, extra = receiver._handle(self)
                self.send_response(status)
                for key, value in extra.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                pass

        ThreadingHTTPServer.allow_reuse_address = True
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self.release.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def eventually(check: Callable[[], bool], *, within: float = 20.0) -> None:
    """Wait (bounded) until ``check()`` holds; fail the test if it never does."""
    deadline = time.monotonic() + within
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.02)


async def eventually_async(check: Callable[[], Any], *, within: float = 20.0) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.05)

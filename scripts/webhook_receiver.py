#!/usr/bin/env python3
"""A webhook receiver for verwijsindex notifications: copy it and adapt ``handle_event``.

Standard library only (Python 3.11+). It

* verifies the ``webhook-signature`` (``v1``, HMAC-SHA256 of ``"{id}.{timestamp}.{body}"``)
  against one or more secrets -- give the old and the new secret while a rotation overlaps;
* rejects timestamps more than five minutes from its own clock (replay protection);
* de-duplicates on ``webhook-id``: delivery is *at least once*, so the same message can
  arrive again after a timeout or a restart of the sender; it is acknowledged, not handled
  twice. (This example keeps the seen ids in a JSON file; use your database in production.)
* answers 2xx quickly and does the real work afterwards: the sender waits at most 15 s.

Run::

    WEBHOOK_SECRETS="whsec_..." python scripts/webhook_receiver.py --port 9000

and register ``https://<your host>/webhooks/verwijsindex`` (behind your TLS proxy) with
``POST /v1/webhook-endpoints``. Payloads are thin -- ids only; fetch details with your API key,
e.g. ``GET /v1/matches/{match_id}``.

Answer codes the sender understands: 2xx delivered; 410 stop sending to this endpoint
(it is disabled); anything else is retried on the schedule in docs/webhooks.md.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import hmac
import json
import os
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

TOLERANCE_SECONDS = 5 * 60
MAX_BODY_BYTES = 64 * 1024


class VerificationError(Exception):
    pass


def parse_secret(secret: str) -> bytes:
    if not secret.startswith("whsec_"):
        raise ValueError("a webhook secret starts with whsec_")
    return base64.b64decode(secret.removeprefix("whsec_"))


def verify(
    secrets: list[bytes], headers: dict[str, str], body: bytes, now: float | None = None
) -> None:
    """Raise VerificationError unless the message is fresh and signed with one of secrets."""
    msg_id = headers.get("webhook-id", "")
    timestamp = headers.get("webhook-timestamp", "")
    signatures = headers.get("webhook-signature", "")
    if not (msg_id and timestamp and signatures):
        raise VerificationError("missing webhook headers")
    if not timestamp.isdigit():
        raise VerificationError("malformed timestamp")
    now = time.time() if now is None else now
    if abs(now - int(timestamp)) > TOLERANCE_SECONDS:
        raise VerificationError("timestamp outside the tolerance")
    signed = f"{msg_id}.{timestamp}.".encode() + body
    for secret in secrets:
        expected = hmac.new(secret, signed, hashlib.sha256).digest()
        for entry in signatures.split():
            version, _, value = entry.partition(",")
            if version != "v1":
                continue  # v1a (Ed25519) needs the public key; not checked here
            try:
                candidate = base64.b64decode(value, validate=True)
            except ValueError:
                continue
            if hmac.compare_digest(expected, candidate):
                return
    raise VerificationError("no matching signature")


class SeenIds:
    """``webhook-id`` values already handled, kept in a JSON file (last 10,000)."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._ids: list[str] = json.loads(path.read_text()) if path.exists() else []
        self._set = set(self._ids)

    def add(self, msg_id: str) -> bool:
        """Record ``msg_id``; False when it was seen before."""
        with self._lock:
            if msg_id in self._set:
                return False
            self._ids.append(msg_id)
            self._set.add(msg_id)
            self._ids = self._ids[-10_000:]
            self._set = set(self._ids)
            self._path.write_text(json.dumps(self._ids))
            return True


def handle_event(event: dict[str, Any]) -> None:
    """Your code: e.g. put the event on a queue and fetch the match through the API."""
    print(f"{event['type']}: {json.dumps(event['data'], sort_keys=True)}", flush=True)


def make_handler(secrets: list[bytes], seen: SeenIds) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > MAX_BODY_BYTES:
                self._answer(413)
                return
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            try:
                verify(secrets, headers, body)
            except VerificationError:
                self._answer(401)
                return
            if seen.add(headers["webhook-id"]):
                handle_event(json.loads(body))
            self._answer(204)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def main() -> None:
    parser = argparse.ArgumentParser(description="verwijsindex webhook receiver example")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=9000)
    parser.add_argument("--seen-file", type=Path, default=Path("seen-webhook-ids.json"))
    args = parser.parse_args()
    raw = os.environ.get("WEBHOOK_SECRETS", "")
    secrets = [parse_secret(s) for s in raw.split() if s]
    if not secrets:
        raise SystemExit("set WEBHOOK_SECRETS to one or more whsec_ secrets (space-separated)")
    server = ThreadingHTTPServer(
        (args.host, args.port), make_handler(secrets, SeenIds(args.seen_file))
    )
    print(f"listening on http://{args.host}:{args.port}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()

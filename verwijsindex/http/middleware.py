"""Pure ASGI middleware: request id and access log line, body size and media type limits,
security headers. One JSON log line per request, without personal data."""

from __future__ import annotations

import json
import math
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from verwijsindex.accesslog import start_span
from verwijsindex.http.docs_page import DOCS_CSP, DOCS_PATH
from verwijsindex.http.input_checks import control_character_in_json, control_character_in_request
from verwijsindex.http.problems import problem_body
from verwijsindex.logging import get_logger
from verwijsindex.metrics import Metrics

log = get_logger("verwijsindex.access")

SECURITY_HEADERS: list[tuple[bytes, bytes]] = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
    (b"content-security-policy", b"default-src 'none'; frame-ancestors 'none'"),
    (b"cross-origin-resource-policy", b"same-origin"),
]
_PORTAL_CSP = (
    b"default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
    b"form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
_PORTAL = "/portal/"
_FORM = b"application/x-www-form-urlencoded"
_BODY_METHODS = {"POST", "PUT", "PATCH"}


def _problem(status: int, code: str, detail: str, *, instance: str | None = None) -> bytes:
    return json.dumps(problem_body(status, code, detail, instance=instance)).encode()


class StrictJSONError(ValueError):
    pass


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    seen: dict[str, Any] = {}
    for key, value in pairs:
        if key in seen:
            raise StrictJSONError("a JSON object has a duplicate key")
        seen[key] = value
    return seen


def _no_constant(_name: str) -> Any:
    raise StrictJSONError("NaN and Infinity are not JSON numbers")


def _finite_float(text: str) -> float:
    value = float(text)
    if math.isinf(value):
        raise StrictJSONError("a JSON number is out of range")
    return value


class ControlCharacterError(StrictJSONError):
    pass


def parse_strict_json(body: bytes) -> Any:
    """``body`` parsed, if it is strict JSON (RFC 8259 in UTF-8, with unique keys, finite
    numbers and no control characters in strings); otherwise :class:`StrictJSONError`, whose
    message names the rule, never the offending value."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise StrictJSONError("the request body is not UTF-8") from None
    try:
        document = json.loads(
            text,
            object_pairs_hook=_no_duplicates,
            parse_constant=_no_constant,
            parse_float=_finite_float,
        )
    except StrictJSONError:
        raise
    except (ValueError, RecursionError):
        raise StrictJSONError("the request body is not valid JSON") from None
    if control_character_in_json(body, document):
        raise ControlCharacterError("the request's body contains a control character")
    return document


DirectRoute = Callable[[Scope, Any, Receive, Send], Awaitable[bool]]
"""Answers a request whose strict JSON body has been parsed, below the application's
routing, or returns False, having done nothing, to leave it to the application."""


class RequestContextMiddleware:
    def __init__(
        self,
        app: ASGIApp,
        *,
        max_body_bytes: int,
        max_batch_body_bytes: int,
        direct_routes: Mapping[tuple[str, str], DirectRoute] | None = None,
        metrics: Metrics | None = None,
    ) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body_bytes = max_body_bytes
        self.max_batch_body_bytes = max_batch_body_bytes
        self.direct_routes = dict(direct_routes or {})

    def _limit(self, scope: Scope) -> int:
        path: str = scope.get("path", "")
        if path.endswith(":batch") or path.startswith("/federation/"):
            return self.max_batch_body_bytes
        return self.max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = uuid.uuid4().hex
        started = time.perf_counter()
        incoming = None
        for name, value in scope.get("headers", []):
            if name.lower() == b"traceparent":
                incoming = value.decode("latin-1")
                break
        trace = start_span(incoming)
        status_holder: dict[str, Any] = {"status": 500, "started": False}
        path: str = scope.get("path", "")
        structlog.contextvars.bind_contextvars(request_id=request_id, trace_id=trace.trace_id)
        state = scope.setdefault("state", {})
        state["request_id"] = request_id
        state["trace"] = trace
        docs = path == DOCS_PATH
        portal = path.startswith(_PORTAL)

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                status_holder["started"] = True
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                headers.append((b"traceparent", trace.traceparent.encode()))
                for name, value in SECURITY_HEADERS:
                    if name == b"content-security-policy":
                        if docs:
                            value = DOCS_CSP
                        elif portal:
                            value = _PORTAL_CSP
                    elif portal and name == b"referrer-policy":
                        # With no-referrer a browser sends "Origin: null" on a form's POST;
                        # the portal checks that its forms come from its own origin. No
                        # portal URL holds personal data, and none leaves for another site.
                        value = b"same-origin"
                    headers.append((name, value))
                message = {**message, "headers": headers}
            await send(message)

        direct: DirectRoute | None = None
        answered_by: str | None = None
        parsed: Any = None
        try:
            where = control_character_in_request(scope)
            if where is not None:
                detail = f"the request's {where} contains a control character"
                await self._send_problem(
                    send_wrapper, 400, _problem(400, "control-character", detail)
                )
                return
            rejection = self._check_body_headers(scope, form=portal)
            if rejection is not None:
                status, problem = rejection
                await self._send_problem(send_wrapper, status, problem)
                return
            if scope.get("method") in _BODY_METHODS:
                body: bytes | None = await self._read_body(receive, self._limit(scope))
                if body is None:
                    await self._send_problem(
                        send_wrapper,
                        413,
                        _problem(413, "body-too-large", "the request body is too large"),
                    )
                    return
                if body and not portal:
                    try:
                        parsed = parse_strict_json(body)
                    except StrictJSONError as exc:
                        code = (
                            "control-character"
                            if isinstance(exc, ControlCharacterError)
                            else "malformed-json"
                        )
                        await self._send_problem(send_wrapper, 400, _problem(400, code, str(exc)))
                        return
                    if not scope.get("root_path"):
                        direct = self.direct_routes.get((scope["method"], path))
                receive = _replay(body, receive)
            try:
                if direct is not None and await direct(scope, parsed, receive, send_wrapper):
                    answered_by = path  # a direct route stands for the route of its path
                else:
                    await self.app(scope, receive, send_wrapper)
            except Exception as exc:
                # Answered here rather than by Starlette's outermost error middleware so the
                # 500 carries the security headers too. Never the exception's text or trace.
                if status_holder["started"]:
                    raise
                log.error("unhandled_error", error_type=type(exc).__name__, exc_info=exc)
                await self._send_problem(
                    send_wrapper,
                    500,
                    _problem(500, "internal-error", "an unexpected error occurred", instance=path),
                )
        finally:
            # the route's template (or the direct route's path, a template without
            # parameters), never the raw path: the path holds ids
            route = getattr(scope.get("route"), "path", None) or answered_by or "unmatched"
            seconds = time.perf_counter() - started
            if self.metrics is not None:
                self.metrics.observe_request(
                    route, scope.get("method", ""), status_holder["status"], seconds
                )
            log.info(
                "request",
                method=scope.get("method"),
                route=route,
                status=status_holder["status"],
                duration_ms=round(seconds * 1000, 2),
                organisation_id=state.get("organisation_id"),
            )
            structlog.contextvars.unbind_contextvars("request_id", "trace_id")

    def _check_body_headers(self, scope: Scope, *, form: bool = False) -> tuple[int, bytes] | None:
        """A refusal of the request's body headers, or None. ``form``: the portal's pages,
        whose bodies are HTML forms (``application/x-www-form-urlencoded``), not JSON."""
        if scope.get("method") not in _BODY_METHODS:
            return None
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        length = headers.get(b"content-length")
        if length is not None:
            try:
                n = int(length)
            except ValueError:
                return 400, _problem(400, "bad-request", "invalid Content-Length")
            if n > self._limit(scope):
                return 413, _problem(413, "body-too-large", "the request body is too large")
            if n == 0:
                return None
        if length is None and b"transfer-encoding" not in headers:
            return None
        content_type = headers.get(b"content-type", b"")
        if form and content_type.split(b";")[0].strip().lower() == _FORM:
            return None
        if not _is_json_media_type(content_type):
            return 415, _problem(
                415,
                "unsupported-media-type",
                "request bodies must be application/json (charset utf-8, if one is named)",
            )
        return None

    async def _read_body(self, receive: Receive, limit: int) -> bytes | None:
        """The whole body, or None as soon as it exceeds the limit."""
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > limit:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    @staticmethod
    async def _send_problem(send: Send, status: int, body: bytes) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/problem+json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})


def _is_json_media_type(content_type: bytes) -> bool:
    """Whether a Content-Type is ``application/json``, with no parameter but an optional
    ``charset=utf-8`` (RFC 8259 defines no charset; UTF-8 is the only encoding accepted).
    Structured-syntax types such as ``application/evil+json`` are not JSON requests."""
    media_type, *parameters = content_type.split(b";")
    if media_type.strip().lower() != b"application/json":
        return False
    for parameter in parameters:
        if not parameter.strip():
            continue
        name, _, value = parameter.partition(b"=")
        if name.strip().lower() != b"charset" or value.strip().strip(b'"').lower() != b"utf-8":
            return False
    return True


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def wrapped() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return wrapped

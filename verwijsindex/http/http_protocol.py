"""The HTTP/1.1 protocol of ``verwijsindex serve``: uvicorn's httptools protocol with bounds on
the request head.

llhttp (under httptools) sets no limit on the request line or the header fields, and
httptools keeps a header's value in memory until the value is complete: one request with a
header of hundreds of megabytes held that much memory and stalled the process. This protocol
answers before the application sees the request:

- 414 (URI Too Long) when the request target exceeds ``max_request_target_bytes``;
- 431 (Request Header Fields Too Large) when one header field (name and value) exceeds
  ``max_header_line_bytes``, all of them together exceed ``max_header_bytes``, or there are
  more than ``max_header_count``.

The answer is ``application/problem+json`` with ``Connection: close``, and the connection is
closed. A head that is still incomplete is counted as it arrives, so memory stays bounded by
the limit and one read (at most 256 KiB) even when the oversized field never ends.

Usage (what ``verwijsindex serve`` does)::

    uvicorn.run(app, http=protocol_factory(HeadLimits.of(settings)), ...)
"""

from __future__ import annotations

import asyncio
import functools
import json
from dataclasses import dataclass
from typing import Any

from uvicorn.config import Config
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from verwijsindex.http.middleware import SECURITY_HEADERS
from verwijsindex.settings import Settings

__all__ = ["HeadLimits", "LimitedHttpToolsProtocol", "protocol_factory"]

_PROBLEM_BASE = "https://verwijsindex.nl/problems/"
# Per header field: the bytes of the field as sent ("name: value\r\n"), beyond name and value.
_FIELD_OVERHEAD = 4


@dataclass(frozen=True, kw_only=True)
class HeadLimits:
    """Bounds on a request's head (request target and header fields), in bytes and fields."""

    max_request_target_bytes: int = 8 * 1024
    max_header_line_bytes: int = 8 * 1024
    max_header_bytes: int = 32 * 1024
    max_header_count: int = 100

    @classmethod
    def of(cls, settings: Settings) -> HeadLimits:
        return cls(
            max_request_target_bytes=settings.max_request_target_bytes,
            max_header_line_bytes=settings.max_header_line_bytes,
            max_header_bytes=settings.max_header_bytes,
            max_header_count=settings.max_header_count,
        )

    @property
    def max_head_bytes(self) -> int:
        """What a whole head may take: the request line (method, target, version) and the
        header fields, with their line ends."""
        return self.max_request_target_bytes + 64 + self.max_header_bytes + 2


class _HeadTooLarge(Exception):
    """Raised in a parser callback to stop parsing; the protocol answers ``status``."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


def _answer(status: int, detail: str) -> bytes:
    code = "uri-too-long" if status == 414 else "header-fields-too-large"
    title = "URI Too Long" if status == 414 else "Request Header Fields Too Large"
    body = json.dumps(
        {"type": _PROBLEM_BASE + code, "title": title, "status": status, "detail": detail}
    ).encode()
    head = [STATUS_LINE[status]]
    headers = [
        (b"content-type", b"application/problem+json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *SECURITY_HEADERS,
    ]
    for name, value in headers:
        head.append(name + b": " + value + b"\r\n")
    head.append(b"\r\n")
    return b"".join(head) + body


class LimitedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, refusing a request head beyond :class:`HeadLimits`."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
        *,
        limits: HeadLimits,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        self.limits = limits
        self._refusal: _HeadTooLarge | None = None
        self._in_head = False
        self._head_seen = 0  # bytes of an incomplete head received in later reads
        self._completed_here = False  # a message ended in the read being parsed
        self._header_bytes = 0
        self._header_count = 0

    # The reads: an incomplete head is counted as it arrives.

    def data_received(self, data: bytes) -> None:
        if self._refusal is not None or self.transport.is_closing():
            return
        self._completed_here = False
        continuing = self._in_head
        super().data_received(data)  # a callback's refusal comes back as send_400_response
        if self._refusal is not None or not self._in_head:
            return
        # The head is still incomplete. A read in which an earlier message ended
        # (pipelining) holds bytes of that message too, so it is not counted; every other
        # read since the head began is.
        if continuing or not self._completed_here:
            self._head_seen += len(data)
        if self._head_seen > self.limits.max_head_bytes:
            self._refuse(_HeadTooLarge(431, "the request's header fields are too large"))

    def send_400_response(self, msg: str) -> None:
        if self._refusal is not None:
            self._send_refusal(self._refusal)
            return
        super().send_400_response(msg)

    # The parser's callbacks: exact counts of what has been parsed.

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_seen = 0
        self._header_bytes = 0
        self._header_count = 0

    def on_url(self, url: bytes) -> None:
        super().on_url(url)
        if len(self.url) > self.limits.max_request_target_bytes:
            self._stop(_HeadTooLarge(414, "the request target is too long"))

    def on_header(self, name: bytes, value: bytes) -> None:
        size = len(name) + len(value) + _FIELD_OVERHEAD
        self._header_count += 1
        self._header_bytes += size
        limits = self.limits
        if size > limits.max_header_line_bytes:
            self._stop(_HeadTooLarge(431, "a header field is too large"))
        if self._header_count > limits.max_header_count:
            self._stop(_HeadTooLarge(431, "the request has too many header fields"))
        if self._header_bytes > limits.max_header_bytes:
            self._stop(_HeadTooLarge(431, "the request's header fields are too large"))
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        self._completed_here = True
        super().on_message_complete()

    # Refusing.

    def _stop(self, refusal: _HeadTooLarge) -> None:
        """Refuse from inside a parser callback: the exception ends the parse, and uvicorn's
        handler of a parser error calls :meth:`send_400_response`, which answers this."""
        self._refusal = refusal
        raise refusal

    def _refuse(self, refusal: _HeadTooLarge) -> None:
        self._refusal = refusal
        self._send_refusal(refusal)

    def _send_refusal(self, refusal: _HeadTooLarge) -> None:
        self.logger.warning("Request head refused: %s (%s).", refusal.detail, refusal.status)
        self.transport.write(_answer(refusal.status, refusal.detail))
        self.transport.close()


def protocol_factory(limits: HeadLimits) -> Any:
    """What to give uvicorn as its ``http`` protocol: a picklable callable (``serve
    --workers N`` hands its configuration to spawned processes) that uvicorn calls as it
    would call a protocol class."""
    return functools.partial(LimitedHttpToolsProtocol, limits=limits)

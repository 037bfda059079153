"""W3C Trace Context (``traceparent``): parse an incoming header, start a new span.

``traceparent: 00-<32 hex trace id>-<16 hex parent span id>-<2 hex flags>``. An absent or
malformed header starts a new trace; a valid one is continued with a fresh span id, and the
response carries the ``traceparent`` of the span that handled the request.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})$")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16


@dataclass(frozen=True, kw_only=True)
class TraceContext:
    trace_id: str
    span_id: str
    parent_span_id: str | None
    flags: str = "00"

    @property
    def traceparent(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"


def new_span_id() -> str:
    while True:
        span = secrets.token_hex(8)
        if span != _ZERO_SPAN:
            return span


def new_trace_id() -> str:
    while True:
        trace = secrets.token_hex(16)
        if trace != _ZERO_TRACE:
            return trace


def start_span(traceparent: str | None) -> TraceContext:
    """Continue the caller's trace (when the header is valid) with a new span."""
    if traceparent:
        m = _TRACEPARENT.match(traceparent.strip().lower())
        if m:
            version, trace_id, parent, flags = m.groups()
            if version != "ff" and trace_id != _ZERO_TRACE and parent != _ZERO_SPAN:
                return TraceContext(
                    trace_id=trace_id, span_id=new_span_id(), parent_span_id=parent, flags=flags
                )
    return TraceContext(trace_id=new_trace_id(), span_id=new_span_id(), parent_span_id=None)

"""structlog JSON logging, configured once, with a redaction processor.

Whatever a caller passes, the processor masks anything that looks like a BSN (a run of nine
digits), a date, an e-mail address or a phone number, in every string value and key, at any
depth. It runs last before rendering, so it also covers the standard library's records
(uvicorn, SQLAlchemy) that are routed through structlog.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any

import structlog

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"[\w.+\-]+@[\w\-]+(?:\.[\w\-]+)+"), "[email]"),
    (re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}"), "[date]"),
    (re.compile(r"\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4}"), "[date]"),
    (re.compile(r"(?:\+|00)\d[\d \-()]{7,}\d"), "[phone]"),
    (re.compile(r"(?<![\w-])0\d{1,3}[ \-]?\d{6,8}(?![\w-])"), "[phone]"),
    (re.compile(r"(?<!\d)\d{8,}(?!\d)"), "[number]"),
)

_SAFE_KEYS = frozenset({"timestamp", "duration_ms", "status", "level", "event"})


def redact_text(text: str) -> str:
    """Mask BSN-, date-, e-mail- and phone-like substrings."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _redact_value(value: Any) -> Any:
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, bool) or value is None or isinstance(value, float):
        return value
    if isinstance(value, int):
        return value if abs(value) < 10**7 else "[number]"
    if isinstance(value, Mapping):
        return {redact_text(str(k)): _redact_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_redact_value(v) for v in value]
    return redact_text(repr(value))


def redact_processor(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: redact every key and value except the timestamp."""
    out: dict[str, Any] = {}
    for key, value in event_dict.items():
        if key == "timestamp":
            out[key] = value
        else:
            out[redact_text(str(key))] = _redact_value(value)
    return out


def add_process_id(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """structlog processor: the process id as ``pid`` (which worker process logged)."""
    event_dict.setdefault("pid", os.getpid())
    return event_dict


def configure_logging(*, level: str = "info", json: bool = True, process_id: bool = False) -> None:
    """Configure structlog and route the standard library's logging through it.

    ``process_id`` adds the process id to every line, for ``serve --workers N`` where several
    processes write to one stream. Call this in every process (a worker process too)."""
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
    ]
    if process_id:
        shared.append(add_process_id)
    renderer: Any = (
        structlog.processors.JSONRenderer() if json else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            *shared,
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            redact_processor,
            renderer,
        ],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    access = logging.getLogger("uvicorn.access")
    access.handlers[:] = []
    access.propagate = False
    access.disabled = True
    logging.getLogger("sqlalchemy.engine").setLevel(logging.WARNING)


def get_logger(name: str | None = None) -> Any:
    return structlog.stdlib.get_logger(name)

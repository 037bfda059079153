"""The one place where errors become RFC 9457 ``application/problem+json`` responses.

Every problem has a stable ``type`` URI under :data:`PROBLEM_BASE` and a ``detail`` that never
echoes the request's values (no BSN, birth date or contact detail).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, cast

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.applications import Starlette
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from consent import (
    ConsentError,
    ConsentLedgerMismatch,
    ConsentRequired,
    ExchangeNotFound,
    ExchangeUnavailable,
    InvalidBirthDate,
    InvalidConsent,
    InvalidEncryptionKey,
    LedgerInconsistent,
    LedgerRangeError,
    RecipientKeyMissing,
    StaleConsentReference,
)
from notifier import (
    AlertNotFound,
    EndpointNotFound,
    MessageNotFound,
    NotifierError,
    UnsafeWebhookURL,
)
from verwijsindex.abuse import RateLimited
from verwijsindex.accesslog import Status, Subject
from verwijsindex.errors import (
    Conflict,
    Forbidden,
    InvalidInput,
    NotFound,
    ServiceUnavailable,
    Unauthenticated,
    VerwijsindexError,
)
from verwijsindex.http.access import access_context
from verwijsindex.logging import get_logger

PROBLEM_BASE = "https://verwijsindex.nl/problems/"
PROBLEM_MEDIA_TYPE = "application/problem+json"

_TITLES = {
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    410: "Gone",
    413: "Content Too Large",
    415: "Unsupported Media Type",
    422: "Unprocessable Content",
    429: "Too Many Requests",
    500: "Internal Server Error",
    503: "Service Unavailable",
}

log = get_logger(__name__)


class ApiProblem(Exception):
    """An error raised by the API layer itself (authentication, authorisation, media type)."""

    def __init__(
        self,
        status: int,
        code: str,
        detail: str,
        *,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(detail)
        self.status = status
        self.code = code
        self.detail = detail
        self.headers = headers or {}
        self.extra = extra or {}


def problem_body(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The RFC 9457 members of a problem: the one builder (responses here, and the
    middleware's answers before routing)."""
    body: dict[str, Any] = {
        "type": PROBLEM_BASE + code,
        "title": _TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
    }
    if instance:
        body["instance"] = instance
    if extra:
        body.update(extra)
    return body


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
    body = problem_body(status, code, detail, instance=instance, extra=extra)
    return JSONResponse(body, status_code=status, media_type=PROBLEM_MEDIA_TYPE, headers=headers)


_DENIED = frozenset({401, 403, 404, 429})


async def record_refusal(request: Request, status: int) -> None:
    """Record a refused or failed request on an audited route in the access log, in its own
    transaction (the operation's transaction has been rolled back)."""
    operation = getattr(request.state, "access_operation", None)
    if operation is None:
        return
    subject: Subject | None = getattr(request.state, "access_subject", None)
    ctx = request.app.state.ctx
    outcome = Status.DENIED if status in _DENIED else Status.FAILURE

    async def write(subject: Subject | None) -> None:
        async with ctx.database.transaction() as session:
            await ctx.access_log.record(
                session,
                access_context(request),
                operation=operation,
                status=outcome,
                subject=subject,
            )

    try:
        await write(subject)
        return
    except Exception as exc:
        if subject is None:
            log.error("access_log_write_failed", error_type=type(exc).__name__, status=status)
            return
        # The subject came from the request; whatever about it the database refused, the
        # record of the refusal is kept without it.
        log.warning("access_log_subject_dropped", error_type=type(exc).__name__, status=status)
    try:
        await write(None)
    except Exception as exc:
        log.error("access_log_write_failed", error_type=type(exc).__name__, status=status)


def _describe_validation(exc: RequestValidationError) -> tuple[int, str, str, list[dict[str, str]]]:
    """Summarise pydantic errors by location and kind only; never the offending input."""
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "malformed-json", "the request body is not valid JSON", []
    fields: list[dict[str, str]] = []
    for e in errors:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        kind = str(e.get("type", "invalid"))
        if kind == "extra_forbidden":
            message = "unknown field"
        elif kind == "missing":
            message = "field required"
        else:
            message = "invalid value"
        fields.append({"field": loc or "body", "problem": message})
    return 422, "validation-error", "the request does not match the schema", fields


@dataclass(frozen=True, slots=True)
class Problem:
    """What an expected error becomes: status, stable code, a detail that never echoes input,
    extra members and headers."""

    status: int
    code: str
    detail: str
    extra: dict[str, Any] | None = None
    headers: dict[str, str] | None = None


# The one table of expected errors → (status, code). The most specific class first; a code of
# None is the error's own ``code`` (domain errors carry theirs). Details: a domain or consent
# error's own message (written never to hold input); a notifier error's is fixed below
# (``_NOTIFIER_DETAILS``), so no URL or secret is echoed.
_TABLE: tuple[tuple[type[Exception], int, str | None], ...] = (
    (RateLimited, 429, None),
    (Unauthenticated, 401, None),
    (InvalidInput, 422, None),
    (Forbidden, 403, None),
    (NotFound, 404, None),
    (Conflict, 409, None),
    (ServiceUnavailable, 503, None),
    (VerwijsindexError, 400, None),
    (ConsentRequired, 403, "consent-required"),
    (InvalidBirthDate, 422, "invalid-birth-date"),
    (InvalidEncryptionKey, 422, "invalid-encryption-key"),
    (InvalidConsent, 422, "invalid-consent"),
    (LedgerRangeError, 422, "invalid-range"),
    (ExchangeNotFound, 404, "not-found"),
    (ExchangeUnavailable, 410, "exchange-unavailable"),
    (RecipientKeyMissing, 409, "recipient-key-missing"),
    (StaleConsentReference, 409, "consent-changed"),
    (LedgerInconsistent, 500, "ledger-inconsistent"),
    (ConsentLedgerMismatch, 409, "consent-ledger-mismatch"),
    (ConsentError, 400, "consent-error"),
    (UnsafeWebhookURL, 422, "unsafe-webhook-url"),
    (EndpointNotFound, 404, "webhook-endpoint-not-found"),
    (MessageNotFound, 404, "webhook-message-not-found"),
    (AlertNotFound, 404, "alert-not-found"),
    (NotifierError, 500, "webhook-error"),
)
_NOTIFIER_DETAILS: dict[type[Exception], str] = {
    EndpointNotFound: "webhook endpoint not found",
    MessageNotFound: "webhook message not found",
    AlertNotFound: "alert not found",
    NotifierError: "the webhook operation failed",
}
EXPECTED = (VerwijsindexError, ConsentError, NotifierError)
"""The error classes :func:`problem_of` maps: what the service raises on purpose."""


def problem_of(exc: Exception) -> Problem:
    """The problem an expected error (:data:`EXPECTED`) is answered with."""
    found = next((row for row in _TABLE if isinstance(exc, row[0])), None)
    if found is None:  # pragma: no cover - only EXPECTED errors are handed here
        return Problem(500, "internal-error", "an unexpected error occurred")
    kind, status, code = found
    extra: dict[str, Any] | None = None
    headers: dict[str, str] | None = None
    if isinstance(exc, VerwijsindexError):
        detail = exc.detail
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
    elif isinstance(exc, NotifierError):
        detail = str(exc) if isinstance(exc, UnsafeWebhookURL) else _NOTIFIER_DETAILS[kind]
        if isinstance(exc, UnsafeWebhookURL):
            extra = {"reason": exc.reason}
    else:
        detail = str(exc)
        if isinstance(exc, ConsentRequired):
            extra = {"missing": list(exc.missing), "refused_by": list(exc.refused_by)}
        elif isinstance(exc, ConsentLedgerMismatch):
            extra = {"ledger_index": exc.ledger_index, "fields": list(exc.fields)}
    if code is None:
        code = str(getattr(exc, "code", "error"))
    return Problem(status, code, detail, extra, headers)


def status_for(exc: VerwijsindexError) -> int:
    """The HTTP status of a domain error (for per-item results of a batch)."""
    return problem_of(exc).status


Handler = Callable[[Request, Exception], Awaitable[Response]]


def exception_handler(app: Starlette, exc: Exception) -> Handler | None:
    """The handler the application's exception middleware would answer ``exc`` with: the
    nearest registered for a class of ``exc``, except the catch-all for ``Exception``, which
    answers only at the outermost layer (for a request answered below the routing, such as
    :func:`~verwijsindex.registrations.routes.create_registration_direct`)."""
    handlers = app.exception_handlers
    for kind in type(exc).__mro__:
        if kind is Exception:
            return None
        handler = handlers.get(kind)
        if handler is not None:
            return cast(Handler, handler)
    return None


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """Every method the schema documents for ``path``: a 405's ``Allow`` (Starlette's names
    only the methods of the first route whose path matched, one of several)."""
    templates: list[tuple[re.Pattern[str], list[str]]] | None = getattr(
        app.state, "path_methods", None
    )
    if templates is None:
        templates = []
        for template, operations in app.openapi().get("paths", {}).items():
            parts = re.split(r"\{[^}/]+\}", template)
            pattern = re.compile("[^/]+".join(re.escape(part) for part in parts))
            templates.append((pattern, sorted(method.upper() for method in operations)))
        app.state.path_methods = templates
    methods: set[str] = set()
    for pattern, documented in templates:
        if pattern.fullmatch(path):
            methods.update(documented)
    return sorted(methods)


def install_error_handlers(app: FastAPI) -> None:
    async def _expected(request: Request, exc: Exception) -> JSONResponse:
        problem = problem_of(exc)
        if problem.status >= 500:
            log.error("expected_error", error_type=type(exc).__name__, path=request.url.path)
        if isinstance(exc, VerwijsindexError | ConsentError):
            await record_refusal(request, problem.status)
        return problem_response(
            problem.status,
            problem.code,
            problem.detail,
            instance=request.url.path,
            headers=problem.headers,
            extra=problem.extra,
        )

    for kind in EXPECTED:
        app.add_exception_handler(kind, _expected)

    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> JSONResponse:
        await record_refusal(request, exc.status)
        return problem_response(
            exc.status,
            exc.code,
            exc.detail,
            instance=request.url.path,
            headers=exc.headers,
            extra=exc.extra,
        )

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, code, detail, fields = _describe_validation(exc)
        await record_refusal(request, status)
        extra = {"errors": fields} if fields else None
        return problem_response(status, code, detail, instance=request.url.path, extra=extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        detail = "no such resource" if exc.status_code == 404 else "request not allowed"
        headers = dict(exc.headers) if exc.headers else None
        if exc.status_code == 405:
            allowed = allowed_methods(app, request.url.path)
            if allowed:
                headers = {**(headers or {}), "Allow": ", ".join(allowed)}
        return problem_response(
            exc.status_code, code, detail, instance=request.url.path, headers=headers
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "unhandled_error", error_type=type(exc).__name__, path=request.url.path, exc_info=exc
        )
        await record_refusal(request, 500)
        return problem_response(
            500, "internal-error", "an unexpected error occurred", instance=request.url.path
        )

"""The one place where errors become RFC 9457 ``application/problem+json`` responses.

Every problem has a stable ``type`` URI under :data:`PROBLEM_BASE` and a ``detail`` that never
echoes the request's values (no BSN, birth date or contact detail).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
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


def problem_response(
    status: int,
    code: str,
    detail: str,
    *,
    instance: str | None = None,
    headers: dict[str, str] | None = None,
    extra: dict[str, Any] | None = None,
) -> JSONResponse:
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


def status_for(exc: VerwijsindexError) -> int:
    if isinstance(exc, RateLimited):
        return 429
    if isinstance(exc, InvalidInput):
        return 422
    if isinstance(exc, Forbidden):
        return 403
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    return 400


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


_CONSENT_PROBLEMS: tuple[tuple[type[ConsentError], int, str], ...] = (
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
)


def consent_problem(exc: ConsentError) -> tuple[int, str, dict[str, Any]]:
    """Status, problem code and extra members for an error of the consent package."""
    for kind, status, code in _CONSENT_PROBLEMS:
        if isinstance(exc, kind):
            extra: dict[str, Any] = {}
            if isinstance(exc, ConsentRequired):
                extra = {"missing": list(exc.missing), "refused_by": list(exc.refused_by)}
            elif isinstance(exc, ConsentLedgerMismatch):
                extra = {"ledger_index": exc.ledger_index, "fields": list(exc.fields)}
            return status, code, extra
    return 400, "consent-error", {}


def _notifier_problem(exc: NotifierError) -> tuple[int, str, str, dict[str, Any] | None]:
    """Map an error of :mod:`notifier`; the detail names a rule, never the URL or a secret."""
    if isinstance(exc, UnsafeWebhookURL):
        return 422, "unsafe-webhook-url", str(exc), {"reason": exc.reason}
    if isinstance(exc, EndpointNotFound):
        return 404, "webhook-endpoint-not-found", "webhook endpoint not found", None
    if isinstance(exc, MessageNotFound):
        return 404, "webhook-message-not-found", "webhook message not found", None
    log.error("notifier_error", error_type=type(exc).__name__)
    return 500, "webhook-error", "the webhook operation failed", None


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
    @app.exception_handler(ConsentError)
    async def _consent(request: Request, exc: ConsentError) -> JSONResponse:
        status, code, extra = consent_problem(exc)
        if status >= 500:
            log.error("consent_error", error_type=type(exc).__name__, path=request.url.path)
        await record_refusal(request, status)
        return problem_response(status, code, str(exc), instance=request.url.path, extra=extra)

    @app.exception_handler(NotifierError)
    async def _notifier(request: Request, exc: NotifierError) -> JSONResponse:
        status, code, detail, extra = _notifier_problem(exc)
        return problem_response(status, code, detail, instance=request.url.path, extra=extra)

    @app.exception_handler(VerwijsindexError)
    async def _domain(request: Request, exc: VerwijsindexError) -> JSONResponse:
        status = status_for(exc)
        await record_refusal(request, status)
        headers = None
        if isinstance(exc, RateLimited):
            headers = {"Retry-After": str(exc.retry_after)}
        return problem_response(
            status, exc.code, exc.detail, instance=request.url.path, headers=headers
        )

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

"""The one place where errors become RFC 9457 ``application/problem+json`` responses.

Every problem has a stable ``type`` URI under :data:`PROBLEM_BASE` and a ``detail`` that never
echoes the request's values (no BSN, birth date or contact detail).
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from notifier import (
    EndpointNotFound,
    MessageNotFound,
    NotifierError,
    UnsafeWebhookURL,
)
from verwijsindex.errors import (
    Conflict,
    InvalidInput,
    NotFound,
    VerwijsindexError,
)
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


def _status_for(exc: VerwijsindexError) -> int:
    if isinstance(exc, InvalidInput):
        return 422
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


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(NotifierError)
    async def _notifier(request: Request, exc: NotifierError) -> JSONResponse:
        status, code, detail, extra = _notifier_problem(exc)
        return problem_response(status, code, detail, instance=request.url.path, extra=extra)

    @app.exception_handler(VerwijsindexError)
    async def _domain(request: Request, exc: VerwijsindexError) -> JSONResponse:
        return problem_response(_status_for(exc), exc.code, exc.detail, instance=request.url.path)

    @app.exception_handler(ApiProblem)
    async def _api(request: Request, exc: ApiProblem) -> JSONResponse:
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
        extra = {"errors": fields} if fields else None
        return problem_response(status, code, detail, instance=request.url.path, extra=extra)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {404: "not-found", 405: "method-not-allowed"}.get(exc.status_code, "http-error")
        detail = "no such resource" if exc.status_code == 404 else "request not allowed"
        return problem_response(
            exc.status_code,
            code,
            detail,
            instance=request.url.path,
            headers=dict(exc.headers) if exc.headers else None,
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.error(
            "unhandled_error", error_type=type(exc).__name__, path=request.url.path, exc_info=exc
        )
        return problem_response(
            500, "internal-error", "an unexpected error occurred", instance=request.url.path
        )

"""The request's access-log context, and the route dependency that names its operation.

A route that touches data about a youth or a professional declares its operation::

    @router.get("/{registration_id}", dependencies=[audited(Operation.REGISTRATION_READ,
                ref_type="registration", ref_param="registration_id")])

and records success inside its transaction with ``access_context(request)``. Failures and
denials (401/403/404/429) of such routes are recorded by the error handlers
(``verwijsindex/http/problems.py``), with the path's reference as subject when there is one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from fastapi import Depends, Request

from verwijsindex.accesslog import (
    AccessContext,
    Operation,
    Subject,
    TraceContext,
    start_span,
)
from verwijsindex.accesslog import (
    record_read as log_read,
)
from verwijsindex.context import AppContext
from verwijsindex.organisations.service import Principal


def trace_of(request: Request) -> TraceContext:
    trace: TraceContext | None = getattr(request.state, "trace", None)
    if trace is None:
        trace = start_span(request.headers.get("traceparent"))
        request.state.trace = trace
    return trace


def access_context(request: Request) -> AccessContext:
    """Who is acting in this request, as far as it is known yet."""
    state = request.state
    principal: Principal | None = getattr(state, "principal", None)
    started = getattr(state, "access_started_at", None)
    if started is None:
        started = request.app.state.ctx.clock.now()
    return AccessContext(
        trace=trace_of(request),
        started_at=started,
        role=principal.role.value if principal else None,
        organisation_id=principal.organisation_id if principal else None,
        professional_id=getattr(state, "professional_id", None),
        on_behalf_of=principal.organisation_id if principal else None,
    )


def audited(
    operation: Operation, *, ref_type: str | None = None, ref_param: str | None = None
) -> Any:
    """Route dependency: this route is ``operation``; start its clock."""

    async def dependency(request: Request) -> None:
        begin_operation(request, operation, ref_type=ref_type, ref_param=ref_param)

    return Depends(dependency)


def begin_operation(
    request: Request,
    operation: Operation,
    *,
    ref_type: str | None = None,
    ref_param: str | None = None,
) -> None:
    """Name the request's operation and start its clock (what :func:`audited` does, for a
    request answered below the routing too)."""
    state = request.state
    state.access_operation = operation
    state.access_started_at = request.app.state.ctx.clock.now()
    if ref_type and ref_param:
        value = request.path_params.get(ref_param)
        if isinstance(value, str) and value:
            value = printable(value)
            if len(value) <= 64:
                state.access_subject = Subject.reference(ref_type, value)


def printable(value: str) -> str:
    """``value``, or its escaped form (``\\x00``, ``\\ud800``) when it holds a character that
    is not printable: an odd value in a record must not make the record fail to write (a NUL
    cannot be stored in PostgreSQL text) nor forge a line where the record is shown."""
    if value.isprintable():
        return value
    return value.encode("unicode_escape", errors="backslashreplace").decode("ascii")


async def record_read(
    ctx: AppContext,
    access: AccessContext,
    operation: Operation,
    subjects: Sequence[Subject],
    *,
    reference: str | None = None,
) -> None:
    """Record a successful read and return once it is durable
    (:func:`verwijsindex.accesslog.record_read`). ``reference`` names what was read when the
    subject does not (e.g. a consent event)."""
    await log_read(ctx.writes, ctx.access_log, access, operation, subjects, reference=reference)

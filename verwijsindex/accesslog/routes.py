"""``/v1/audit/access-log`` and ``/v1/audit/anomalies``: for auditors and the privacy officer.

An ``auditor`` key (appointed for one organisation) and a ``reviewer`` key see that
organisation's records; the municipality's ``privacy-officer`` sees all. Subject pseudonyms
are per organisation; the shared ones of records written before that are shown only to the
privacy officer.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request
from fastapi.responses import StreamingResponse

from verwijsindex.accesslog import AccessLogRecord, Operation
from verwijsindex.accesslog.schemas import (
    AccessLogEntryOut,
    AccessLogPage,
    AnomalyOut,
    AnomalyPage,
)
from verwijsindex.accesslog.service import RecordFilter
from verwijsindex.errors import InvalidInput
from verwijsindex.http.access import access_context, audited
from verwijsindex.http.deps import Ctx, require_role
from verwijsindex.http.pagination import KeysetCursor, SeqCursor, decode_cursor, encode_cursor
from verwijsindex.http.problems import PROBLEM_BASE, ApiProblem
from verwijsindex.http.schemas import READ_PROBLEMS, problem_responses
from verwijsindex.http.timestamps import UtcDatetime
from verwijsindex.logging import get_logger
from verwijsindex.organisations.models import Role
from verwijsindex.organisations.service import Principal

router = APIRouter(prefix="/v1/audit", tags=["audit"])

_PROBLEMS = problem_responses(*READ_PROBLEMS)

log = get_logger(__name__)


class ExportAborted(Exception):
    """Ends an export whose stream failed after it began: the transfer is cut off without its
    last chunk, so an HTTP client reports the body as incomplete."""


def _export_failed_line() -> bytes:
    """The last line of an export that failed: a problem under ``error``, not a record."""
    problem = {
        "type": PROBLEM_BASE + "export-failed",
        "title": "Internal Server Error",
        "status": 500,
        "detail": "the export failed; the lines before this one are not all the records",
    }
    return (json.dumps({"error": problem}) + "\n").encode()


AuditorDep = Annotated[Principal, require_role(Role.AUDITOR, Role.REVIEWER, Role.PRIVACY_OFFICER)]
OrganisationFilter = Annotated[str | None, Query(max_length=64)]
ProfessionalFilter = Annotated[str | None, Query(max_length=64)]
OperationFilter = Annotated[str | None, Query(max_length=64)]
FromFilter = Annotated[
    UtcDatetime | None,
    Query(alias="from", description="Inclusive start (started_at), RFC 3339 with an offset"),
]
ToFilter = Annotated[
    UtcDatetime | None, Query(description="Exclusive end (started_at), RFC 3339 with an offset")
]


def _scope(principal: Principal, organisation_id: str | None) -> str | None:
    """The organisation filter this caller may use."""
    if principal.role is Role.PRIVACY_OFFICER:
        return organisation_id
    if organisation_id is not None and organisation_id != principal.organisation_id:
        raise ApiProblem(
            403, "forbidden-scope", "this key sees only its own organisation's records"
        )
    return principal.organisation_id


def entry_out(record: AccessLogRecord) -> AccessLogEntryOut:
    return AccessLogEntryOut.model_validate(record, from_attributes=True)


def scoped_entry_out(record: AccessLogRecord, principal: Principal) -> AccessLogEntryOut:
    """:func:`entry_out` for an organisation-scoped reader: a subject pseudonym that is not
    per organisation (``p<version>.…``, written before they were) is one value per youth
    across organisations, so it is left out."""
    entry = entry_out(record)
    pseudonym = entry.subject_pseudonym
    if principal.role is Role.PRIVACY_OFFICER or pseudonym is None or pseudonym[0] == "s":
        return entry
    return entry.model_copy(update={"subject_pseudonym": None})


def _seq_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit() or len(cursor) > 18:
        raise InvalidInput("cursor is not valid")
    return int(cursor)


@router.get(
    "/access-log",
    response_model=AccessLogPage,
    responses=_PROBLEMS,
    summary="Query the access log",
    dependencies=[audited(Operation.AUDIT_ACCESS_LOG_READ)],
)
async def read_access_log(
    ctx: Ctx,
    principal: AuditorDep,
    request: Request,
    organisation_id: OrganisationFilter = None,
    professional_id: ProfessionalFilter = None,
    operation: OperationFilter = None,
    from_: FromFilter = None,
    to: ToFilter = None,
    cursor: SeqCursor = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> AccessLogPage:
    """Records in chain order, filtered; ``next_cursor`` continues after the last one."""
    scope = _scope(principal, organisation_id)
    after = _seq_cursor(cursor)
    which = RecordFilter(scope, professional_id, operation, from_, to)
    rows = await ctx.access_log_audit.query(
        access_context(request), which, after_seq=after, limit=limit + 1
    )
    page = rows[:limit]
    next_cursor = str(page[-1].seq) if len(rows) > limit else None
    return AccessLogPage(
        items=[scoped_entry_out(r, principal) for r in page], next_cursor=next_cursor
    )


@router.get(
    "/access-log/export",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "JSON lines, one access-log entry per line, in chain order",
            "content": {"application/x-ndjson": {}},
        },
        **_PROBLEMS,
    },
    summary="Export the access log as JSON lines",
    dependencies=[audited(Operation.AUDIT_ACCESS_LOG_EXPORT)],
)
async def export_access_log(
    ctx: Ctx,
    principal: AuditorDep,
    request: Request,
    organisation_id: OrganisationFilter = None,
    professional_id: ProfessionalFilter = None,
    operation: OperationFilter = None,
    from_: FromFilter = None,
    to: ToFilter = None,
) -> StreamingResponse:
    """Streams every matching record (same filters as the query), read in batches."""
    scope = _scope(principal, organisation_id)
    await ctx.access_log_audit.begin_export(access_context(request))
    which = RecordFilter(scope, professional_id, operation, from_, to)

    async def records() -> AsyncIterator[bytes]:
        async for record in ctx.access_log_audit.export(which):
            yield (scoped_entry_out(record, principal).model_dump_json() + "\n").encode()

    async def lines() -> AsyncIterator[bytes]:
        # Once the 200 has been sent a failure can no longer be a problem response: the
        # stream says so in a last line, then ends without its final chunk.
        try:
            async for line in records():
                yield line
        except Exception as exc:
            log.error("access_log_export_failed", error_type=type(exc).__name__)
            yield _export_failed_line()
            raise ExportAborted("the access-log export failed mid-stream") from None

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get(
    "/anomalies",
    response_model=AnomalyPage,
    responses=_PROBLEMS,
    summary="Anomaly flags raised by the enumeration-defence rules",
    dependencies=[audited(Operation.AUDIT_ANOMALIES_READ)],
)
async def read_anomalies(
    ctx: Ctx,
    principal: AuditorDep,
    request: Request,
    organisation_id: OrganisationFilter = None,
    rule: Literal["registration-volume", "withdrawn-after-match"] | None = None,
    cursor: KeysetCursor = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> AnomalyPage:
    """Oldest first. Rules are described in docs/access-log.md."""
    scope = _scope(principal, organisation_id)
    after = decode_cursor(cursor)
    rows = await ctx.access_log_audit.anomalies(
        access_context(request), organisation_id=scope, rule=rule, after=after, limit=limit + 1
    )
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].raised_at, page[-1].id) if len(rows) > limit else None
    return AnomalyPage(
        items=[AnomalyOut.model_validate(f, from_attributes=True) for f in page],
        next_cursor=next_cursor,
    )

"""``/v1/audit/table-records``: the consent tables as the ledger records they stand for.

The exchange gate reads ``consent_events``; the ledger proves what was recorded. Auditors
compare the two with this endpoint (``verwijsindex audit verify``, ``scripts/verify_ledger.py``):
every ``consent_events`` and ``exchanges`` row, keyed by its ledger index and written in the
shape of the ledger's metadata record, so a row changed or inserted outside the service is
named by the entry it claims to be. It shows no more than ``/v1/audit/entries`` does.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from verwijsindex.http.deps import Ctx
from verwijsindex.http.schemas import READ_PROBLEMS, problem_responses
from verwijsindex.ledger.routes import AuditorDep, names_party, sees_every_entry

router = APIRouter(prefix="/v1/audit", tags=["audit"])

MAX_RECORDS = 1000
_MAX_INDEX = 2**62


class TableRecordOut(BaseModel):
    ledger_index: int = Field(description="The ledger entry the row claims to be")
    table: Literal["consent_events", "exchanges"]
    record: dict[str, Any] = Field(
        description="The row as a ledger metadata record (without `v` and `commitment`)"
    )


class TableRecordsOut(BaseModel):
    start: int
    next_start: int | None = Field(description="Ask from here for the next page; null at the end")
    tree_size: int = Field(description="The size of the stored ledger")
    records: list[TableRecordOut]


@router.get(
    "/table-records",
    response_model=TableRecordsOut,
    responses=problem_responses(*READ_PROBLEMS),
    summary="Consent-event and exchange rows by ledger index, to compare with the ledger",
)
async def table_records(
    ctx: Ctx,
    principal: AuditorDep,
    start: Annotated[int, Query(ge=0, le=_MAX_INDEX)] = 0,
    limit: Annotated[int, Query(ge=1, le=MAX_RECORDS)] = MAX_RECORDS,
) -> TableRecordsOut:
    """Rows whose ledger index is at least ``start``, ordered by it (at most ``limit``). A
    reviewer gets only the rows its organisation is a party to, as in ``/v1/audit/entries``."""
    size, rows = await ctx.ledger.table_records(start=start, limit=limit)
    every_entry = sees_every_entry(principal)
    return TableRecordsOut(
        start=start,
        next_start=rows[-1][0] + 1 if len(rows) == limit else None,
        tree_size=size,
        records=[
            TableRecordOut(
                ledger_index=index,
                table="consent_events" if record["type"] == "consent-event" else "exchanges",
                record=record,
            )
            for index, record in rows
            if every_entry or names_party(record, principal.organisation_id)
        ],
    )

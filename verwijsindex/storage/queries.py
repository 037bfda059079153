"""Query helpers shared by the repositories: statuses written into the SQL for partial indexes."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import (
    ColumnElement,
    String,
    and_,
    literal_column,
    or_,
)
from sqlalchemy.orm import InstrumentedAttribute


def status_is(
    column: ColumnElement[str] | InstrumentedAttribute[str],
    status: StrEnum,
    *,
    negate: bool = False,
) -> ColumnElement[bool]:
    """``column = 'status'`` (or ``<>``) with the status written into the SQL, not bound.

    The indexes by youth, expiry and purge date are partial on the status
    (``verwijsindex/registrations/models.py``); a planner can only use such an index when the query
    states the index's condition, and a bound parameter states it only for one execution
    (SQLite then prepares the statement again on every execution, PostgreSQL cannot use the
    index in a generic plan). Statuses are the models' own constants, never input.
    """
    constant = literal_column(f"'{status.value}'", String)
    return column != constant if negate else column == constant


def of_subject_any_status(
    subject: ColumnElement[bool],
    column: ColumnElement[str] | InstrumentedAttribute[str],
    status: StrEnum,
) -> ColumnElement[bool]:
    """``subject`` whatever the status, written as ``subject AND status = s OR subject AND
    status <> s``: rows of one status and the others are in different indexes by subject
    (partial on the status), and each branch names its index's condition (``status_is``)."""
    return or_(
        and_(subject, status_is(column, status)),
        and_(subject, status_is(column, status, negate=True)),
    )

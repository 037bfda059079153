"""Query helpers shared by the repositories: statuses written into the SQL for partial indexes,
and PostgreSQL lookups driven by a list of given values."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    bindparam,
    func,
    literal_column,
    or_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.selectable import LateralFromClause, TableValuedAlias


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


def given_values(name: str, column: ColumnElement[Any]) -> TableValuedAlias:
    """PostgreSQL: the list bound to ``name`` as a table (``unnest``) of one column,
    ``value``, of ``column``'s type, to drive :func:`probe` lookups from."""
    values = bindparam(name, type_=ARRAY(column.type))
    return func.unnest(values).table_valued("value").render_derived(name=f"given_{name}")


def probe(statement: Select[Any], name: str) -> LateralFromClause:
    """PostgreSQL: ``statement`` (a lookup by a column of :func:`given_values`) as a
    ``LATERAL`` subquery run once per given value, so that each value is an index probe.

    ``OFFSET 0`` keeps the planner from pulling the subquery up into a join, which it plans
    from the tables' statistics: on a young or fast-growing table (stale statistics, or a
    cost model that prices a few dozen index probes above one pass over a table of a few
    thousand rows) that join read the whole table for every write group, a cost that grows
    with the table. A probe per value costs the same at any size."""
    return statement.offset(literal_column("0")).lateral(name)

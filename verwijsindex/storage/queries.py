"""Query helpers shared by the repositories: statuses written into the SQL for partial indexes,
and a list of values bound as one parameter."""

from __future__ import annotations

from enum import StrEnum
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Select,
    String,
    and_,
    any_,
    bindparam,
    func,
    literal_column,
    or_,
)
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.selectable import LateralFromClause, TableValuedAlias
from sqlalchemy.sql.sqltypes import BOOLEANTYPE
from sqlalchemy.sql.visitors import InternalTraversal


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


class OneOf(ColumnElement[bool]):
    """``column`` is one of the values bound to ``name`` (a list): on PostgreSQL
    ``column = ANY(:name)`` with the list as one array parameter, elsewhere an expanding
    ``column IN (...)``. Use :func:`one_of`.

    An expanding ``IN`` is rendered again for every execution, one placeholder and cast per
    value, and each list length is a statement of its own to prepare and cache; on the write
    path (a group's youths and parents) that rendering was a measurable part of the service's
    CPU. The array form is one statement, prepared once, whatever the list's length."""

    inherit_cache = True
    type = BOOLEANTYPE
    _traverse_internals = [  # noqa: RUF012 (SQLAlchemy reads it as a class attribute)
        ("column", InternalTraversal.dp_clauseelement),
        ("name", InternalTraversal.dp_string),
    ]

    def __init__(self, column: ColumnElement[Any], name: str) -> None:
        self.column = column
        self.name = name

    def self_group(self, against: Any = None) -> ColumnElement[Any]:
        # Already a comparison, as ``IN`` and ``= ANY`` are: never ``(...) = 1`` in a WHERE.
        return self


def one_of(column: ColumnElement[Any] | InstrumentedAttribute[Any], name: str) -> OneOf:
    """``column`` is one of the list bound to ``name`` (:class:`OneOf`)."""
    return OneOf(column.expression if isinstance(column, InstrumentedAttribute) else column, name)


@compiles(OneOf)
def _one_of_in(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    return compiler.process(element.column.in_(bindparam(element.name, expanding=True)), **kw)


@compiles(OneOf, "postgresql")
def _one_of_any(element: OneOf, compiler: SQLCompiler, **kw: Any) -> str:
    values = bindparam(element.name, type_=ARRAY(element.column.type))
    return compiler.process(element.column == any_(values), **kw)


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

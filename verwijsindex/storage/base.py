"""Declarative base and column types shared by the index's tables."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from enum import StrEnum
from operator import attrgetter
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

from sqlalchemy import (
    Column,
    DateTime,
    Index,
    Insert,
    MetaData,
    String,
    Table,
    bindparam,
    func,
    insert,
    inspect,
    select,
    text,
)
from sqlalchemy import cast as sql_cast
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import NullType, TypeDecorator
from uuid_utils import reseed_rng, uuid7

if TYPE_CHECKING:
    from sqlalchemy.sql.type_api import _BindProcessorType

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """A timezone-aware UTC timestamp on every backend (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def bind_processor(self, dialect: Dialect) -> _BindProcessorType[datetime] | None:
        """The conversion of :meth:`process_bind_param` and the driver's type, remembered for
        the last values converted: the rows of a write group share a few timestamps (the
        group's time, the registrations' end dates), and on SQLite each conversion formats a
        string. Equal aware datetimes are the same instant and convert to the same value."""
        process = super().bind_processor(dialect)
        if process is None:
            return None
        remembered: dict[datetime, Any] = {}

        def convert(value: datetime | None) -> Any:
            if value is None:
                return None
            found = remembered.get(value, _UNKNOWN)
            if found is _UNKNOWN:
                found = process(value)
                if len(remembered) >= _REMEMBERED_VALUES:
                    remembered.clear()
                remembered[value] = found
            return found

        return convert

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


_UNKNOWN = object()
_REMEMBERED_VALUES = 1024


def new_id() -> str:
    """A new row id: a UUIDv7 (RFC 9562): 48 bits of the time in milliseconds, then 74 random
    bits. Ids made close together in time sort close together, so an index on them takes new
    ids at its end instead of at a random page (at millions of rows, a random page per id
    is a page read and a page written back per row). The time in an id is the time its row
    was made, which the row also holds (``created_at``, ``started_at``)."""
    return str(uuid7())


# uuid-utils draws its random bits from a generator in the process, seeded from the operating
# system; releases of it have let a forked child start from its parent's state (its issue 42),
# and repeat its parent's ids. A child reseeds here, whatever the installed release does.
os.register_at_fork(after_in_child=reseed_rng)


ID = String(36)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime()}


async def insert_objects(session: AsyncSession, objects: Sequence[Base]) -> None:
    """Insert new ORM objects of one class in one statement (:class:`ObjectInsert`).

    The objects stay transient (outside the session's identity map) and must carry every
    value, defaults included; what the caller reads from them afterwards is what was
    written. For hot write paths, where the ORM's per-object bookkeeping costs more than the
    insert itself."""
    if not objects:
        return
    model = type(objects[0])
    writer = _OBJECT_INSERTS.get(model)
    if writer is None:
        writer = _OBJECT_INSERTS[model] = ObjectInsert(model)
    await insert_rows(session, writer.staged(objects))


_OBJECT_INSERTS: dict[type[Base], ObjectInsert] = {}
"""One :class:`ObjectInsert` per class, built on first use."""


class RowInsert:
    """``INSERT INTO table (columns) VALUES (…)`` of many rows given as tuples in ``columns``
    order, as one driver ``executemany`` in the session's transaction.

    SQLAlchemy's ``executemany`` builds a parameter dict and applies the bind conversions
    for every row, which for a thousand narrow rows costs more than the insert itself. This
    compiles the statement once per dialect (with the dialect's placeholders and casts),
    applies the same conversions (each column type's bind processor) to the columns that
    have one, and hands the driver the rows: the driver receives what SQLAlchemy would
    have given it.

    On PostgreSQL the rows go as one array per column to a single
    ``INSERT … SELECT * FROM unnest($1::type[], …)``: one statement executed once, where a
    driver ``executemany`` binds and executes the statement once per row (each round of
    protocol messages costs the client and the server more than the row's insert)."""

    def __init__(self, table: Table, columns: Sequence[str]) -> None:
        self._table = table
        self._columns = list(columns)
        self._compiled: dict[tuple[str, str, str], tuple[str, list[tuple[int, Any]]]] = {}

    async def execute(self, session: AsyncSession, rows: Sequence[Sequence[Any]]) -> None:
        await insert_rows(session, (self, rows))

    def _arrays(self, dialect: Dialect, rows: Sequence[Sequence[Any]]) -> list[list[Any]]:
        """PostgreSQL: the rows as one converted list per column."""
        columns = [list(values) for values in zip(*rows, strict=True)]
        for position, convert in self._compile(dialect)[1]:
            columns[position] = [convert(value) for value in columns[position]]
        return columns

    async def _execute(self, connection: AsyncConnection, rows: Sequence[Sequence[Any]]) -> None:
        dialect = connection.dialect
        sql, conversions = self._compile(dialect)
        if dialect.name == "postgresql":
            await connection.exec_driver_sql(sql, tuple(self._arrays(dialect, rows)))
            return
        as_parameters = dialect.execute_sequence_format
        if conversions:
            parameters = []
            for row in rows:
                values = list(row)
                for position, convert in conversions:
                    values[position] = convert(values[position])
                parameters.append(as_parameters(values))
        else:
            parameters = [as_parameters(row) for row in rows]
        await connection.exec_driver_sql(sql, parameters)

    def _compile(self, dialect: Dialect) -> tuple[str, list[tuple[int, Any]]]:
        key = (dialect.name, dialect.driver, dialect.paramstyle)
        found = self._compiled.get(key)
        if found is None:
            conversions = []
            for position, name in enumerate(self._columns):
                column_type = self._table.c[name].type
                convert = column_type.dialect_impl(dialect).bind_processor(dialect)
                if convert is not None:
                    conversions.append((position, convert))
            found = self._compiled[key] = (self._sql(dialect, key), conversions)
        return found

    def _unnest(self, prefix: str = "column") -> Insert:
        """PostgreSQL's ``INSERT … SELECT * FROM unnest(…)``, its arrays bound as
        ``<prefix>_<n>`` in column order."""
        arrays = [
            sql_cast(bindparam(f"{prefix}_{n}"), ARRAY(_stored_type(self._table.c[name])))
            for n, name in enumerate(self._columns)
        ]
        rows = func.unnest(*arrays).table_valued(*self._columns).render_derived(name=prefix)
        return insert(self._table).from_select(self._columns, select(rows))

    def _sql(self, dialect: Dialect, key: tuple[str, str, str]) -> str:
        if dialect.name == "postgresql":
            return self._unnest("given").compile(dialect=dialect).string
        compiled = insert(self._table).compile(dialect=dialect, column_keys=self._columns)
        if not compiled.positional or compiled.positiontup != self._columns:
            raise NotImplementedError(f"RowInsert needs positional parameters ({key})")
        return compiled.string


Staged = list[tuple[RowInsert, Sequence[Sequence[Any]]]]
"""Rows staged for one :func:`insert_rows`, in the order they are to be written (a table's
rows before the rows of the tables that refer to it): a write group collects its new rows
here and writes them at its end, on PostgreSQL in one statement."""


class ObjectInsert:
    """New ORM objects of one class as rows of a :class:`RowInsert` over all of the class's
    columns (the objects must carry every value, defaults included, as for
    :func:`insert_objects`)."""

    def __init__(self, model: type[Base]) -> None:
        mapper = inspect(model)
        attributes = [(attr.key, attr.columns[0].key) for attr in mapper.column_attrs]
        self.insert = RowInsert(
            cast(Table, mapper.local_table), [column for _, column in attributes]
        )
        self._values = attrgetter(*(key for key, _ in attributes))

    def staged(self, objects: Sequence[Base]) -> tuple[RowInsert, list[tuple[Any, ...]]]:
        return self.insert, [self._values(obj) for obj in objects]


class DictInsert:
    """Rows given as mappings of every column of a table, as rows of a :class:`RowInsert`
    (a mapping without one of the columns is a ``KeyError``, not a silent NULL)."""

    def __init__(self, table: Table) -> None:
        self._columns = list(table.c.keys())
        self.insert = RowInsert(table, self._columns)

    def staged(self, rows: Sequence[Mapping[str, Any]]) -> tuple[RowInsert, list[tuple[Any, ...]]]:
        return self.insert, [tuple(row[column] for column in self._columns) for row in rows]


async def insert_rows(
    session: AsyncSession, *inserts: tuple[RowInsert, Sequence[Sequence[Any]]]
) -> None:
    """Each :class:`RowInsert`'s rows, in the given order (the rows of a table whose rows the
    later ones refer to first). On PostgreSQL all of them in one statement, each but the last
    in a data-modifying ``WITH`` (one round trip; the foreign keys are checked at the end of
    the statement, when every row is in); elsewhere one ``executemany`` each."""
    given = [(insert_, rows) for insert_, rows in inserts if rows]
    if not given:
        return
    connection = await session.connection()
    dialect = connection.dialect
    if dialect.name != "postgresql" or len(given) == 1:
        for insert_, rows in given:
            await insert_._execute(connection, rows)
        return
    sql = _combined_sql(dialect, tuple(insert_ for insert_, _ in given))
    arrays = [array for insert_, rows in given for array in insert_._arrays(dialect, rows)]
    await connection.exec_driver_sql(sql, tuple(arrays))


_COMBINED: dict[tuple[int, ...], str] = {}


def _combined_sql(dialect: Dialect, inserts: tuple[RowInsert, ...]) -> str:
    """The one statement of :func:`insert_rows` on PostgreSQL, built once per combination;
    its arrays are bound in the order of the inserts and, within one, of its columns."""
    key = tuple(id(insert_) for insert_ in inserts)
    found = _COMBINED.get(key)
    if found is None:
        *earlier, last = (insert_._unnest(f"given_{n}") for n, insert_ in enumerate(inserts))
        statement = last
        for n, part in enumerate(earlier):
            statement = statement.add_cte(part.cte(f"inserted_{n}"))
        compiled = statement.compile(dialect=dialect)
        expected = [
            f"given_{n}_{c}"
            for n, insert_ in enumerate(inserts)
            for c in range(len(insert_._columns))
        ]
        if list(compiled.positiontup or ()) != expected:
            raise NotImplementedError("insert_rows: unexpected parameter order")
        found = _COMBINED[key] = compiled.string
    return found


def _stored_type(column: Column[Any]) -> Any:
    """The column's type in the database: under a :class:`TypeDecorator`, its stored type;
    of a foreign key declared without a type, the referenced column's."""
    column_type = column.type
    if isinstance(column_type, NullType) and column.foreign_keys:
        column_type = next(iter(column.foreign_keys)).column.type
    return column_type.impl_instance if isinstance(column_type, TypeDecorator) else column_type


def partial_index(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index of the rows that satisfy ``where`` only, on both databases. Queries that should
    use it must state ``where`` with constants (``repository.status_is``)."""
    condition = text(where)
    return Index(name, *columns, unique=unique, sqlite_where=condition, postgresql_where=condition)


_E = TypeVar("_E", bound=StrEnum)


class StrEnumText(TypeDecorator[_E]):
    """A :class:`~enum.StrEnum` column stored as its value in a ``VARCHAR`` (no database enum
    type, so a new value needs no migration). Binding refuses a value that is not a member;
    reading gives the member, so code and types see the enum, never a bare string."""

    impl = String
    cache_ok = True

    def __init__(self, enum: type[_E], length: int) -> None:
        super().__init__(length)
        self._enum = enum

    def process_bind_param(self, value: _E | str | None, dialect: Dialect) -> str | None:
        return None if value is None else self._enum(value).value

    def process_result_value(self, value: str | None, dialect: Dialect) -> _E | None:
        return None if value is None else self._enum(value)

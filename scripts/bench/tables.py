"""The tables the benchmark writes straight into the database, bypassing the service.

Every row is given by column name and checked against the service's own table definition: a
column added to, removed from or reordered in a table makes the loader fail loudly instead of
writing values into the wrong columns. The rows come out as tuples in the table's column order,
ready for ``sqlite3`` ``executemany`` (:meth:`Columns.insert_sql`) or asyncpg's ``COPY``
(:attr:`Columns.names`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from operator import itemgetter
from typing import Any

from sqlalchemy import Table

from notifier import OutboxEvent
from verwijsindex.accesslog import AccessLogRecord
from verwijsindex.coordination.models import Coordination, CoordinationEvent
from verwijsindex.matches.models import Match, MatchParticipant
from verwijsindex.organisations.models import Organisation, Professional
from verwijsindex.registrations.models import Registration

Row = tuple[Any, ...]


class Columns:
    """One table's columns, in the table's order."""

    def __init__(self, table: Any) -> None:
        assert isinstance(table, Table)
        self.table: str = table.name
        self.names: tuple[str, ...] = tuple(table.columns.keys())
        assert len(self.names) > 1  # itemgetter of one name gives the value, not a tuple
        self._expected = frozenset(self.names)
        self._in_order = itemgetter(*self.names)

    def row(self, **values: Any) -> Row:
        """The row of ``values`` (one per column, by name) in the table's column order."""
        return self.of(values)

    def of(self, values: Mapping[str, Any]) -> Row:
        """:meth:`row` of a mapping (the loader's hot path: no copy of the mapping)."""
        try:
            row: Row = self._in_order(values)
        except KeyError:
            row = ()
        # Every column found and no more values than columns: exactly the table's columns.
        if len(row) != len(values):
            missing = sorted(self._expected - values.keys())
            unknown = sorted(values.keys() - self._expected)
            raise ValueError(f"{self.table}: missing columns {missing}, unknown {unknown}")
        return row

    def insert_sql(self) -> str:
        """``INSERT`` of one row with ``?`` placeholders (``sqlite3``), columns named."""
        marks = ", ".join("?" * len(self.names))
        return f"INSERT INTO {self.table} ({', '.join(self.names)}) VALUES ({marks})"


ORGANISATIONS = Columns(Organisation.__table__)
PROFESSIONALS = Columns(Professional.__table__)
REGISTRATIONS = Columns(Registration.__table__)
MATCHES = Columns(Match.__table__)
MATCH_PARTICIPANTS = Columns(MatchParticipant.__table__)
COORDINATIONS = Columns(Coordination.__table__)
COORDINATION_EVENTS = Columns(CoordinationEvent.__table__)
OUTBOX_EVENTS = Columns(OutboxEvent.__table__)
ACCESS_LOG = Columns(AccessLogRecord.__table__)


def sqlite_ts(value: datetime | None) -> str | None:
    """What SQLAlchemy's SQLite ``DateTime`` stores (``UTCDateTime`` binds naive UTC)."""
    return None if value is None else value.replace(tzinfo=None).isoformat(" ")


def sqlite_rows(rows: list[Row]) -> list[Row]:
    """``rows`` with their timestamps as SQLite stores them."""
    return [tuple(sqlite_ts(v) if isinstance(v, datetime) else v for v in r) for r in rows]

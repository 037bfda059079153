"""The privacy scans' own rule: a BSN or birth date at rest is a finding unless it lies by
chance inside a run of hex digits."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from tests.at_rest import AtRest, database_at_rest

BSN = b"123456782"
COMPACT = b"20131201"


def test_a_value_on_its_own_is_found() -> None:
    assert AtRest(b"\x00\x01" + BSN + b"\x00").holds(BSN)
    assert AtRest(BSN).holds(BSN)  # at the very start and end
    assert AtRest(b"'" + COMPACT + b"'").holds(COMPACT)
    assert AtRest(b"text 2013-12-01 more").holds(b"2013-12-01")


def test_a_value_with_a_hex_digit_on_both_sides_is_chance() -> None:
    assert not AtRest(b"a3" + COMPACT + b"f0").holds(COMPACT)
    assert not AtRest(b"\t" + b"9" + BSN + b"0\t").holds(BSN)


def test_a_value_at_the_edge_of_a_run_is_found_where_values_are_delimited() -> None:
    # A dump delimits its values: a hex digit on one side only is the value beside its run.
    assert AtRest(b"\tab" + BSN + b"\t").holds(BSN)
    assert AtRest(b"\t" + COMPACT + b"cafe\t").holds(COMPACT)


def test_sqlite_records_are_decided_by_the_logical_dump(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite"
    connection = sqlite3.connect(path)
    # A timestamp's microseconds (201312) and an id starting with 01: SQLite writes the two
    # columns with nothing between them, so the file shows ".20131201a2…".
    connection.execute("CREATE TABLE t (at TEXT, id TEXT, other TEXT)")
    filler = "x" * 20_000
    connection.execute(
        "INSERT INTO t VALUES ('2026-12-07 00:13:28.201312', '01a24dd8-defe', ?)", (filler,)
    )
    connection.commit()
    connection.close()
    at_rest = database_at_rest(f"sqlite+aiosqlite:///{path}")
    assert b".20131201a24dd8" in at_rest.raw
    assert not at_rest.holds(COMPACT)  # chance: two values side by side

    connection = sqlite3.connect(path)
    connection.execute("INSERT INTO t VALUES ('x', ?, '')", ("20131201ab",))  # the value itself
    connection.commit()
    connection.close()
    assert database_at_rest(f"sqlite+aiosqlite:///{path}").holds(COMPACT)

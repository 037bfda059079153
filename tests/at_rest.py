"""What a database holds at rest, for the privacy scans: every byte of the SQLite files (free
pages and the WAL included, so that an erased value lingering there is found) or a PostgreSQL
dump, and whether a youth's or parent's BSN or birth date is among them.

A needle of digits only (a BSN, a compact birth date) can turn up by chance inside the
database's runs of hex digits (pseudonyms, hashes, ids, timestamps): eight given digits turn up
once in 16^8 positions, and a database holds megabytes of hex. Where the needle has a hex digit
on both sides it lies inside such a run and is chance. SQLite's records have no delimiters, so
a run can also go on into the next column (a timestamp's microseconds followed by an id that
starts with digits). There, an occurrence with a hex digit on one side is decided by SQLite's
logical dump, where every value is quoted on its own (so a value left in a free page beside a
run of hex escapes the scan; on its own there, it is still found). Anything else found is a
finding.
"""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy.engine import make_url

_HEX = frozenset(b"0123456789abcdefABCDEF")


def needles(bsn: str, birth: date) -> list[bytes]:
    """A youth's BSN and birth date as they could be written: as text, in the Dutch and
    compact date forms, and in UTF-16."""
    iso = birth.isoformat()
    return [
        bsn.encode(),
        iso.encode(),
        birth.strftime("%d-%m-%Y").encode(),
        birth.strftime("%Y%m%d").encode(),
        bsn.encode("utf-16-le"),
        iso.encode("utf-16-le"),
    ]


@dataclass(frozen=True)
class AtRest:
    """The bytes a database holds: ``raw`` is every byte of the files or the dump; ``values``
    is SQLite's logical dump (every value quoted), or ``None`` where ``raw`` is delimited."""

    raw: bytes
    values: bytes | None = None

    def holds(self, needle: bytes) -> bool:
        """Whether ``needle`` is in the database other than by chance inside a run of hex."""
        if not needle.isdigit():
            return needle in self.raw
        sides = set(_hex_sides(needle, self.raw))
        if 0 in sides:
            return True
        if 1 not in sides:
            return False
        return self.values is None or any(s < 2 for s in _hex_sides(needle, self.values))


def _hex_sides(needle: bytes, data: bytes) -> list[int]:
    """For each occurrence of ``needle`` in ``data``: on how many of its sides a hex digit is."""
    found, start = [], data.find(needle)
    while start != -1:
        end = start + len(needle)
        left = start > 0 and data[start - 1] in _HEX
        right = end < len(data) and data[end] in _HEX
        found.append(int(left) + int(right))
        start = data.find(needle, start + 1)
    return found


def database_at_rest(database_url: str) -> AtRest:
    """The database's bytes at rest; the server writing to it must have stopped."""
    url = make_url(database_url)
    if url.get_backend_name() == "sqlite":
        assert url.database is not None
        raw = b""
        for suffix in ("", "-wal", "-shm", "-journal"):
            p = Path(url.database + suffix)
            if p.exists():
                raw += p.read_bytes()
        assert len(raw) > 10_000
        connection = sqlite3.connect(f"file:{url.database}?mode=ro", uri=True)
        try:
            values = "\n".join(connection.iterdump()).encode()
        finally:
            connection.close()
        return AtRest(raw, values)
    pg_dump = shutil.which("pg_dump")
    assert pg_dump, "pg_dump is needed to scan the PostgreSQL database"
    out = subprocess.run(
        [
            pg_dump,
            "--data-only",
            "-h",
            url.host or "127.0.0.1",
            "-p",
            str(url.port or 5432),
            "-U",
            url.username or "postgres",
            url.database or "",
        ],
        capture_output=True,
        check=True,
        timeout=120,
    ).stdout
    assert b"COPY public.registrations" in out
    return AtRest(out)

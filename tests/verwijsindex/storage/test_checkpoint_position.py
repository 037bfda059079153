"""Where the SQLite checkpointer left the write-ahead log, from one run to the next."""

from __future__ import annotations

from verwijsindex.storage.checkpoint import LogPosition


def test_log_position_counts_from_where_the_log_was_left() -> None:
    position = LogPosition()
    assert position.advance(1000, 600) == (1000, 600)
    assert position.advance(1300, 1250) == (700, 650)  # 300 new frames, 700 to copy
    assert position.advance(1300, 1300) == (50, 50)
    assert position.advance(200, 200) == (200, 200)  # started over
    assert position.advance(200, 200) == (0, 0)

"""UTCDateTime: aware UTC timestamps on every backend; its bind conversion remembers values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect

from verwijsindex.clock import AMSTERDAM
from verwijsindex.storage import base
from verwijsindex.storage.base import UTCDateTime

DIALECTS = [sqlite.dialect(), postgresql.asyncpg.dialect()]  # type: ignore[attr-defined]


def _converters(dialect: Dialect) -> tuple[Any, Any]:
    """A fresh remembering conversion and the plain one it stands for."""
    column_type = UTCDateTime()
    remembering = column_type.bind_processor(dialect)
    plain = super(UTCDateTime, column_type).bind_processor(dialect)  # TypeDecorator's
    assert remembering is not None and plain is not None
    return remembering, plain


_INSTANTS = st.lists(
    st.one_of(
        st.none(),
        st.datetimes(
            min_value=datetime(1900, 1, 2),
            max_value=datetime(2200, 1, 1),
            timezones=st.sampled_from([UTC, AMSTERDAM]),
        ),
    ),
    max_size=40,
)


class TestBindConversion:
    @pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
    @settings(max_examples=100, deadline=None)
    @given(values=_INSTANTS)
    def test_remembered_conversions_equal_the_plain_ones(
        self, dialect: Dialect, values: list[datetime | None]
    ) -> None:
        remembering, plain = _converters(dialect)
        # Twice: the second pass answers from what the first remembered.
        assert [remembering(v) for v in values + values] == [plain(v) for v in values + values]

    @pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
    def test_the_same_instant_in_another_zone_converts_alike(self, dialect: Dialect) -> None:
        remembering, plain = _converters(dialect)
        at = datetime(2026, 3, 29, 0, 30, tzinfo=UTC)  # the night the clocks go forward
        assert remembering(at) == plain(at)
        assert remembering(at.astimezone(AMSTERDAM)) == plain(at)

    @pytest.mark.parametrize("dialect", DIALECTS, ids=lambda d: d.name)
    def test_a_naive_datetime_is_refused_every_time(self, dialect: Dialect) -> None:
        remembering, _ = _converters(dialect)
        naive = datetime(2026, 1, 1, 12, 0)
        remembering(naive.replace(tzinfo=UTC))  # the same wall time, aware, remembered
        for _ in range(2):
            with pytest.raises(ValueError, match="naive"):
                remembering(naive)

    def test_it_remembers_a_bounded_number_of_values(self, monkeypatch: Any) -> None:
        monkeypatch.setattr(base, "_REMEMBERED_VALUES", 3)
        remembering, plain = _converters(sqlite.dialect())
        start = datetime(2026, 1, 1, tzinfo=UTC)
        values = [start + timedelta(seconds=n) for n in range(10)]
        assert [remembering(v) for v in values] == [plain(v) for v in values]
        [remembered] = [
            cell.cell_contents
            for cell in remembering.__closure__
            if isinstance(cell.cell_contents, dict)
        ]
        assert 0 < len(remembered) <= 3

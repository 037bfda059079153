"""A registration's end date (Jeugdwet art. 7.1.4.5), with its cached parts."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from verwijsindex.clock import AMSTERDAM
from verwijsindex.errors import InvalidBirthDate, SubjectTooOld
from verwijsindex.registrations.lifecycle import registration_end


def _years_later(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)


def _expected(birth_date: date, created_at: datetime) -> datetime | type[Exception]:
    """The rule written out on its own: two years after creation (Amsterdam wall time), or
    earlier Amsterdam midnight on the first day of the month of the 23rd birthday (the
    birthday itself when that first day has passed)."""
    local = created_at.astimezone(AMSTERDAM)
    if birth_date > local.date():
        return InvalidBirthDate
    birthday = _years_later(birth_date, 23)
    if birthday <= local.date():
        return SubjectTooOld

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time.min, tzinfo=AMSTERDAM).astimezone(UTC)

    limit = midnight(birthday.replace(day=1))
    if limit <= created_at:
        limit = midnight(birthday)
    wall = local.timetz().replace(tzinfo=None)
    term = datetime.combine(_years_later(local.date(), 2), wall, tzinfo=AMSTERDAM)
    return min(limit, term.astimezone(UTC))


_CREATED = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2040, 1, 1), timezones=st.just(UTC)
)
_BORN = st.dates(min_value=date(1995, 1, 1), max_value=date(2041, 1, 1))


class TestRegistrationEnd:
    @settings(max_examples=300, deadline=None)
    @given(created=st.lists(_CREATED, min_size=1, max_size=3), born=st.lists(_BORN, min_size=1))
    def test_every_youth_of_every_creation_time_gets_the_rule(
        self, created: list[datetime], born: list[date]
    ) -> None:
        # Many youths per creation time, as a write group has, and creation times revisited.
        for created_at in created + created:
            for birth_date in born:
                expected = _expected(birth_date, created_at)
                if isinstance(expected, datetime):
                    assert registration_end(birth_date=birth_date, created_at=created_at) == (
                        expected
                    )
                else:
                    with pytest.raises(expected):
                        registration_end(birth_date=birth_date, created_at=created_at)

    def test_the_same_instant_in_another_zone_ends_alike(self) -> None:
        created_at = datetime(2026, 10, 25, 0, 30, tzinfo=UTC)  # the night the clocks go back
        for birth_date in (date(2012, 5, 1), date(2003, 11, 7)):
            utc = registration_end(birth_date=birth_date, created_at=created_at)
            local = registration_end(
                birth_date=birth_date, created_at=created_at.astimezone(AMSTERDAM)
            )
            assert utc == local == _expected(birth_date, created_at)
            assert utc - created_at <= timedelta(days=731)

    def test_the_day_is_amsterdams(self) -> None:
        # 22:30 UTC on 30 June is 00:30 on 1 July in Amsterdam.
        created_at = datetime(2026, 6, 30, 22, 30, tzinfo=UTC)
        born_today = registration_end(birth_date=date(2026, 7, 1), created_at=created_at)
        assert born_today == _expected(date(2026, 7, 1), created_at)
        with pytest.raises(SubjectTooOld):
            registration_end(birth_date=date(2003, 7, 1), created_at=created_at)
        with pytest.raises(InvalidBirthDate):
            registration_end(birth_date=date(2026, 7, 2), created_at=created_at)

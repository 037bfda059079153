"""Dates of a registration's life (Jeugdwet art. 7.1.4.5).

A registration ends at the latest two years after it was made and on the youth's 23rd
birthday. The birth date is given at registration, used here and then discarded. So that the
stored end date does not disclose the birth date, the age limit is rounded down to the first
day of the month of the 23rd birthday (ending a registration early is always allowed); only
when that day has already passed is the birthday itself used (see docs/adr/0002).
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from functools import lru_cache
from typing import TypeVar

from verwijsindex.clock import AMSTERDAM
from verwijsindex.errors import InvalidBirthDate, SubjectTooOld

D = TypeVar("D", date, datetime)

MAX_AGE = 23
MAX_REGISTRATION_YEARS = 2


def add_years(day: D, years: int) -> D:
    """The same calendar day ``years`` later; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


@lru_cache(maxsize=1024)
def _local_midnight_utc(day: date) -> datetime:
    # Cached: the age limits of most youths are the first day of a month.
    return datetime.combine(day, time.min, tzinfo=AMSTERDAM).astimezone(UTC)


@lru_cache(maxsize=64)
def _term(created_at: datetime) -> tuple[date, datetime]:
    """The day (in Amsterdam) of ``created_at`` and the end of a registration's term made
    then. Cached: the registrations of one write group share their creation time (equal
    datetimes are one instant, so they have one answer)."""
    local = created_at.astimezone(AMSTERDAM)
    by_term = add_years(local.date(), MAX_REGISTRATION_YEARS)
    term_end = datetime.combine(
        by_term, local.timetz().replace(tzinfo=None), tzinfo=AMSTERDAM
    ).astimezone(UTC)
    return local.date(), term_end


_CALENDAR_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def parse_birth_date(value: str | date) -> date:
    """``YYYY-MM-DD`` as a date. ``date.fromisoformat`` alone also reads ISO week dates
    (``2012-W18-2``) and ordinal dates (``2012-122``), which are not what the API promises."""
    if isinstance(value, date):
        return value
    try:
        if not isinstance(value, str) or not _CALENDAR_DATE.fullmatch(value):
            raise ValueError
        return date.fromisoformat(value)
    except (TypeError, ValueError):
        raise InvalidBirthDate("birth_date must be a calendar date as YYYY-MM-DD") from None


def registration_end(*, birth_date: date, created_at: datetime) -> datetime:
    """When a registration made at ``created_at`` ends, or raise for an ineligible youth."""
    today, term_end = _term(created_at)
    if birth_date > today:
        raise InvalidBirthDate("birth_date lies in the future")
    birthday_23 = add_years(birth_date, MAX_AGE)
    if birthday_23 <= today:
        raise SubjectTooOld("only youths younger than 23 may be registered")
    age_limit = _local_midnight_utc(birthday_23.replace(day=1))
    if age_limit <= created_at:
        age_limit = _local_midnight_utc(birthday_23)
    return min(age_limit, term_end)

"""Dates of a registration's life (Jeugdwet art. 7.1.4.5).

A registration ends at the latest two years after it was made and on the youth's 23rd
birthday; the registering professional may choose a shorter term (``P6M``, ``P1Y``…) and renew
it before it ends (a new term from the renewal, with the same limits; the renewal presents the
birth date again, so the age limit is checked without storing it). The birth date is given
at registration, used here and then discarded. So that the
stored end date does not disclose the birth date, the age limit is rounded down to the first
day of the month of the 23rd birthday (ending a registration early is always allowed); only
when that day has already passed is the birthday itself used (see docs/adr/0002).
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from typing import TypeVar

from verwijsindex.clock import AMSTERDAM
from verwijsindex.errors import InvalidBirthDate, InvalidTerm, SubjectTooOld

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


_TERM = re.compile(r"P(?:([0-9]{1,2})Y)?(?:([0-9]{1,3})M)?(?:([0-9]{1,4})D)?")


@dataclass(frozen=True, slots=True)
class Term:
    """A registration's term as chosen: years, months and days (ISO 8601 ``PnYnMnD``)."""

    years: int = 0
    months: int = 0
    days: int = 0

    def end(self, start: datetime) -> datetime:
        """``start`` plus the term, in calendar days of Amsterdam (the 31st plus a month is
        the month's last day)."""
        local = start.astimezone(AMSTERDAM)
        months = local.month - 1 + self.months + 12 * self.years
        year, month = local.year + months // 12, months % 12 + 1
        day = min(local.day, calendar.monthrange(year, month)[1])
        moved = local.replace(year=year, month=month, day=day, tzinfo=None)
        return (
            datetime.combine(moved.date() + timedelta(days=self.days), moved.time())
            .replace(tzinfo=AMSTERDAM)
            .astimezone(UTC)
        )


def parse_term(value: str | None) -> Term | None:
    """An ISO 8601 duration of years, months and days (``P1Y``, ``P6M``, ``P1Y6M``,
    ``P90D``), at least a day and at most two years; None for none (the maximum)."""
    if value is None:
        return None
    match = _TERM.fullmatch(value) if isinstance(value, str) else None
    if match is None or value == "P":
        raise InvalidTerm("term must be an ISO 8601 duration such as P6M, P1Y or P90D")
    years, months, days = (int(g) if g else 0 for g in match.groups())
    term = Term(years, months, days)
    if years == months == days == 0:
        raise InvalidTerm("term must be at least one day")
    reference = datetime(2024, 1, 1, tzinfo=UTC)
    if term.end(reference) > Term(years=MAX_REGISTRATION_YEARS).end(reference):
        raise InvalidTerm(f"term must be at most {MAX_REGISTRATION_YEARS} years")
    return term


def age_limit_of(birth_date: date, created_at: datetime) -> datetime:
    """The latest end of a registration of a youth born on ``birth_date`` made at
    ``created_at``: the first day of the month of the 23rd birthday (Amsterdam), or the
    birthday itself when that day has passed. Raises for an ineligible youth."""
    today, _ = _term(created_at)
    if birth_date > today:
        raise InvalidBirthDate("birth_date lies in the future")
    birthday_23 = add_years(birth_date, MAX_AGE)
    if birthday_23 <= today:
        raise SubjectTooOld("only youths younger than 23 may be registered")
    limit = _local_midnight_utc(birthday_23.replace(day=1))
    if limit <= created_at:
        limit = _local_midnight_utc(birthday_23)
    return limit


def registration_end(
    *, birth_date: date, created_at: datetime, term: Term | None = None
) -> datetime:
    """When a registration made (or renewed) at ``created_at`` for ``term`` (None: the
    longest) ends, or raise for an ineligible youth."""
    if term is not None:
        return min(age_limit_of(birth_date, created_at), term.end(created_at), _term(created_at)[1])
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

"""Timestamps taken from a request: aware, and normalised to UTC when they are read.

Every aware datetime with an offset under 24 hours parses, but near the ends of the calendar
one can name an instant that does not exist in UTC (``0001-01-01T00:00:00+23:59`` is a moment
of the year 0): converting it for the database raised ``OverflowError``, a 500, and in the
access-log export it ended the stream mid-response. Such a timestamp is now invalid input
(422), found where the request is read, before a query or a response starts.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field

__all__ = ["CalendarDate", "UtcDatetime", "to_utc"]


def to_utc(value: datetime) -> datetime:
    """``value`` (aware) as UTC; ``ValueError`` when that instant is outside the calendar."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the timestamp is out of range in UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(to_utc)]
"""An RFC 3339 timestamp with an offset, given back in UTC (422 when it cannot be)."""


_CALENDAR_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


def _calendar_date_text(value: object) -> object:
    """Only ``YYYY-MM-DD`` text reaches the date parser: not a number (read as a Unix time),
    not a timestamp, not an ISO week or ordinal date."""
    if isinstance(value, date):
        return value
    if not isinstance(value, str) or not _CALENDAR_DATE.fullmatch(value):
        raise ValueError("a date must be given as YYYY-MM-DD")
    return value


CalendarDate = Annotated[
    date,
    BeforeValidator(_calendar_date_text),
    Field(json_schema_extra={"pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$"}),
]
"""A calendar date, given as ``YYYY-MM-DD`` and nothing else (422 otherwise)."""

"""Timestamps taken from a request: aware, and normalised to UTC when they are read.

Every aware datetime with an offset under 24 hours parses, but near the ends of the calendar
one can name an instant that does not exist in UTC (``0001-01-01T00:00:00+23:59`` is a moment
of the year 0): converting it for the database raised ``OverflowError``, a 500, and in the
access-log export it ended the stream mid-response. Such a timestamp is now invalid input
(422), found where the request is read, before a query or a response starts.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, AwareDatetime

__all__ = ["UtcDatetime", "to_utc"]


def to_utc(value: datetime) -> datetime:
    """``value`` (aware) as UTC; ``ValueError`` when that instant is outside the calendar."""
    try:
        return value.astimezone(UTC)
    except OverflowError:
        raise ValueError("the timestamp is out of range in UTC") from None


UtcDatetime = Annotated[AwareDatetime, AfterValidator(to_utc)]
"""An RFC 3339 timestamp with an offset, given back in UTC (422 when it cannot be)."""

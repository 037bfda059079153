"""ISO 8601 durations as the covenant states them (``P2D``, ``PT12H``, ``P5Y``).

Only whole numbers, only the designators ``Y M W D`` and, after ``T``, ``H M S``. A year counts
as 365 days and a month as 30 days: a covenant's deadlines are spans of time, not calendar
dates, and the same text must always mean the same span.
"""

from __future__ import annotations

import re
from datetime import timedelta

from verwijsindex.errors import InvalidInput

_DURATION = re.compile(
    r"^P(?!$)(?:(?P<Y>\d{1,4})Y)?(?:(?P<Mo>\d{1,4})M)?(?:(?P<W>\d{1,4})W)?(?:(?P<D>\d{1,5})D)?"
    r"(?:T(?=\d)(?:(?P<H>\d{1,6})H)?(?:(?P<Mi>\d{1,6})M)?(?:(?P<S>\d{1,8})S)?)?$"
)
_SECONDS = {"Y": 365 * 86400, "Mo": 30 * 86400, "W": 7 * 86400, "D": 86400, "H": 3600, "Mi": 60}


def parse_duration(text: str, field: str) -> timedelta:
    """The span ``text`` names; :class:`InvalidInput` (naming ``field``, never the value) when
    it is not such a duration or is zero."""
    match = _DURATION.match(text) if isinstance(text, str) and len(text) <= 32 else None
    if match is None:
        raise InvalidInput(f"{field} must be an ISO 8601 duration such as P2D or PT12H")
    seconds = 0
    for name, value in match.groupdict().items():
        if value is not None:
            seconds += int(value) * _SECONDS.get(name, 1)
    if seconds <= 0:
        raise InvalidInput(f"{field} must be longer than zero")
    return timedelta(seconds=seconds)


def format_duration(span: timedelta) -> str:
    """A canonical ISO 8601 text of ``span`` (days, then hours, minutes, seconds)."""
    total = int(span.total_seconds())
    days, rest = divmod(total, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    text = "P" + (f"{days}D" if days else "")
    clock = (
        (f"{hours}H" if hours else "")
        + (f"{minutes}M" if minutes else "")
        + (f"{seconds}S" if seconds else "")
    )
    return text + ("T" + clock if clock else "") if (days or clock) else "PT0S"

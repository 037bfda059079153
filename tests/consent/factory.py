"""Builders for consent events in tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from consent import (
    AgeBand,
    ConsentEvent,
    DataCategory,
    Direction,
    EventKind,
    GrantorRole,
    Method,
    Purpose,
)

T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
A = "org-a"
B = "org-b"
C = "org-c"
CARE = Purpose.CARE_COORDINATION
_ids = itertools.count(1)


def at(days: float) -> datetime:
    return T0 + timedelta(days=days)


def ev(
    kind: EventKind | str = EventKind.GIVEN,
    grantor: GrantorRole | str = GrantorRole.YOUTH,
    *,
    day: float = 0,
    band: AgeBand | str = AgeBand.FROM_16,
    org: str = A,
    counterpart: str = B,
    direction: Direction | str = Direction.OUTGOING,
    categories: str = "care",
    purpose: Purpose = CARE,
    valid_from: datetime | None = None,
    valid_until: datetime | None = None,
    id: str | None = None,
) -> ConsentEvent:
    return ConsentEvent(
        id=id or f"ev-{next(_ids)}",
        recorded_at=at(day),
        organisation_id=org,
        counterpart_organisation_id=counterpart,
        kind=EventKind(kind),
        grantor=GrantorRole(grantor),
        purpose=purpose,
        data_categories=frozenset(DataCategory(c) for c in categories.split(",")),
        direction=Direction(direction),
        age_band=AgeBand(band),
        method=Method.WRITTEN,
        valid_from=valid_from,
        valid_until=valid_until,
    )

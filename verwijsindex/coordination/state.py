"""What a read shows of a match's coordination. A leaf module: the match read imports it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


class CoordinationStatus(StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    ESCALATED = "escalated"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class CoordinationSummary:
    """``status``, ``level``, the (proposed or accepted) coordinator, the next deadline and
    when the coordination was confirmed as agreed."""

    match_id: str
    status: CoordinationStatus
    level: int
    coordinator_organisation_id: str | None
    coordinator_registration_id: str | None
    due_at: datetime | None
    agreed_at: datetime | None

"""The coordination of each match and its history. Both hold ids, codes and times only:
never anything about the youth, never free text."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from verwijsindex.coordination.state import CoordinationStatus
from verwijsindex.storage.base import ID, Base, StrEnumText


class Coordination(Base):
    """One row per match, from the moment the match opens. ``version`` rises with every
    change: writers update only the version they read (and lock the row on PostgreSQL)."""

    __tablename__ = "coordinations"

    match_id: Mapped[str] = mapped_column(
        ForeignKey("matches.id", ondelete="CASCADE"), primary_key=True
    )
    municipality: Mapped[str] = mapped_column(String(4))
    covenant_id: Mapped[str | None] = mapped_column(ID)
    """The covenant version the match started under; NULL: the default covenant."""
    status: Mapped[CoordinationStatus] = mapped_column(StrEnumText(CoordinationStatus, 12))
    level: Mapped[int]
    coordinator_organisation_id: Mapped[str | None] = mapped_column(ID)
    coordinator_registration_id: Mapped[str | None] = mapped_column(ID)
    handover_from_organisation_id: Mapped[str | None] = mapped_column(ID)
    handover_from_registration_id: Mapped[str | None] = mapped_column(ID)
    declined: Mapped[str] = mapped_column(Text)
    """Organisation ids that declined in this round of proposals, comma-separated."""
    due_at: Mapped[datetime | None]
    """The deadline the sweeper watches: acceptance while proposed, closing while accepted
    (until confirmed as agreed)."""
    coordinate_due_at: Mapped[datetime | None]
    reminded: Mapped[bool]
    version: Mapped[int]
    match_created_at: Mapped[datetime]
    """When the match opened: with ``first_accepted_at``, the lead time to a coordinator."""
    first_accepted_at: Mapped[datetime | None]
    accepted_at: Mapped[datetime | None]
    agreed_at: Mapped[datetime | None]
    """When the coordinator confirmed the coordination as agreed (``confirm``); NULL while not
    agreed. While set, ``due_at`` is NULL: the coordination deadline no longer applies."""
    closed_at: Mapped[datetime | None]
    updated_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_coordinations_due_at", "due_at"),
        Index("ix_coordinations_municipality_status", "municipality", "status"),
    )


class CoordinationEvent(Base):
    """Who did what and when: one row per change, never content."""

    __tablename__ = "coordination_events"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    match_id: Mapped[str] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    at: Mapped[datetime]
    action: Mapped[str] = mapped_column(String(32))
    actor_role: Mapped[str] = mapped_column(String(20))
    """``professional``, ``municipality-admin`` or ``system``."""
    actor_organisation_id: Mapped[str | None] = mapped_column(ID)
    reason: Mapped[str | None] = mapped_column(String(200))
    """A code (or closure checks, comma-separated) from docs/coordination.md."""
    target_organisation_id: Mapped[str | None] = mapped_column(ID)
    status: Mapped[CoordinationStatus] = mapped_column(StrEnumText(CoordinationStatus, 12))
    level: Mapped[int]
    coordinator_organisation_id: Mapped[str | None] = mapped_column(ID)

    __table_args__ = (
        Index("ix_coordination_events_match_at", "match_id", "at", "id"),
        # The statistics rollup counts the events of a window of time.
        Index("ix_coordination_events_at", "at"),
    )

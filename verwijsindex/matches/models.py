"""Tables of matches and their participants. A match never holds more about the youth than
the pseudonym that keeps one open match per youth."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crypto import Pseudonym
from verwijsindex.storage.base import ID, Base, StrEnumText, new_id, partial_index


class MatchStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class Match(Base):
    __tablename__ = "matches"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    # The youth's pseudonym of the registration that opened the match; enforces one open
    # match per youth. Never shown in a response.
    subject_pseudonym: Mapped[Pseudonym] = mapped_column(String(64))
    status: Mapped[MatchStatus] = mapped_column(StrEnumText(MatchStatus, 12))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    __table_args__ = (
        partial_index(
            "uq_matches_open_subject",
            "subject_pseudonym",
            where="status = 'open'",
            unique=True,
        ),
        # A youth's closed matches (subject access and erasure), and the purge of closed matches.
        partial_index(
            "ix_matches_closed_subject",
            "subject_pseudonym",
            where="status <> 'open'",
        ),
        partial_index(
            "ix_matches_closed_at",
            "closed_at",
            where="status = 'closed'",
        ),
        # The statistics rollup counts the matches made in a window of time (off the hot
        # path; an append-only index, ADR 0017).
        Index("ix_matches_created_at", "created_at"),
    )


class MatchParticipant(Base):
    __tablename__ = "match_participants"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    match_id: Mapped[str] = mapped_column(ForeignKey("matches.id", ondelete="CASCADE"))
    registration_id: Mapped[str] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"))
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "uq_match_participants_match_registration", "match_id", "registration_id", unique=True
        ),
        Index("ix_match_participants_registration", "registration_id"),
        Index("ix_match_participants_org", "organisation_id", "match_id"),
    )

"""Tables of family matches and their participants. A family match holds no pseudonym at all:
which registrations share a parent is only in ``registration_parents``, and only while those
registrations are active."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index
from sqlalchemy.orm import Mapped, mapped_column

from verwijsindex.storage.base import ID, Base, StrEnumText, new_id, partial_index


class FamilyMatchStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


class FamilyCloseReason(StrEnum):
    NO_PAIR_LEFT = "no_pair_left"
    """No two remaining registrations of different youths by different professionals share
    a parent any more."""
    MERGED = "merged"
    """A registration linked it to an older family match, which its participants joined."""


class FamilyMatch(Base):
    __tablename__ = "family_matches"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    status: Mapped[FamilyMatchStatus] = mapped_column(StrEnumText(FamilyMatchStatus, 12))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]
    close_reason: Mapped[FamilyCloseReason | None] = mapped_column(
        StrEnumText(FamilyCloseReason, 20)
    )

    __table_args__ = (
        # Statistics count family matches made per month; the purge finds closed ones.
        Index("ix_family_matches_created_at", "created_at"),
        partial_index("ix_family_matches_closed_at", "closed_at", where="status = 'closed'"),
    )


class FamilyMatchParticipant(Base):
    __tablename__ = "family_match_participants"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    family_match_id: Mapped[str] = mapped_column(
        ForeignKey("family_matches.id", ondelete="CASCADE")
    )
    registration_id: Mapped[str] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"))
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]

    __table_args__ = (
        # A registration takes part in at most one family match at a time: a race that would
        # put it in two ends here.
        partial_index(
            "uq_family_match_participants_current_registration",
            "registration_id",
            where="left_at IS NULL",
            unique=True,
        ),
        Index("ix_family_match_participants_match", "family_match_id"),
        Index("ix_family_match_participants_org", "organisation_id", "family_match_id"),
        Index("ix_family_match_participants_registration", "registration_id"),
    )

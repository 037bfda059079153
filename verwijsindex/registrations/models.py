"""The registrations table. Nothing about a youth but the keyed pseudonym is stored."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import Boolean, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from crypto import Pseudonym
from verwijsindex.storage.base import ID, Base, StrEnumText, new_id, partial_index


class RegistrationStatus(StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"
    ENDED = "ended"


class EndReason(StrEnum):
    UNJUSTIFIED = "unjustified"
    RISK_RESOLVED = "risk_resolved"
    DECEASED = "deceased"
    OTHER = "other"
    EXPIRED = "expired"
    ERASURE = "erasure"


WITHDRAW_REASONS = (
    EndReason.UNJUSTIFIED,
    EndReason.RISK_RESOLVED,
    EndReason.DECEASED,
    EndReason.OTHER,
)


class Registration(Base):
    __tablename__ = "registrations"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    pseudonym: Mapped[Pseudonym] = mapped_column(String(64))
    key_version: Mapped[int]
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    professional_id: Mapped[str] = mapped_column(ForeignKey("professionals.id"))
    municipality: Mapped[str] = mapped_column(String(4))
    status: Mapped[RegistrationStatus] = mapped_column(StrEnumText(RegistrationStatus, 12))
    created_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[EndReason | None] = mapped_column(StrEnumText(EndReason, 20))

    __table_args__ = (
        # One active registration per professional and youth: the race of a professional
        # with itself ends here.
        partial_index(
            "uq_registrations_active_professional_pseudonym",
            "pseudonym",
            "professional_id",
            where="status = 'active'",
            unique=True,
        ),
        # The youth's withdrawn and ended registrations (subject access and erasure). With the
        # index above, every registration is in exactly one index keyed by the pseudonym, so a
        # new registration writes one randomly placed index entry, not two (at national size
        # those scattered pages are most of what a WAL checkpoint writes).
        partial_index(
            "ix_registrations_ended_pseudonym",
            "pseudonym",
            where="status <> 'active'",
        ),
        # Expiry by the sweeper.
        partial_index(
            "ix_registrations_active_ends_at",
            "ends_at",
            where="status = 'active'",
        ),
        Index("ix_registrations_org_created", "organisation_id", "created_at"),
        # Purge after the retention period.
        partial_index(
            "ix_registrations_ended_at",
            "ended_at",
            where="status <> 'active'",
        ),
    )


class RegistrationParent(Base):
    """A parent or guardian named on an active registration, by a keyed pseudonym under its
    own purpose (``parent-pseudonym``). Deleted when the registration ends: a link lives
    exactly as long as the registration may match (ADR 0016)."""

    __tablename__ = "registration_parents"

    # Looked up by parent: the primary key starts with the pseudonym, and on SQLite the table
    # is its primary key (no row id), so a link is written to two B-trees, not three.
    pseudonym: Mapped[Pseudonym] = mapped_column(String(64), primary_key=True)
    registration_id: Mapped[str] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), primary_key=True
    )
    key_version: Mapped[int]

    __table_args__ = (
        Index("ix_registration_parents_registration", "registration_id"),
        {"sqlite_with_rowid": False},
    )


class InformingStatus(StrEnum):
    INFORMED = "informed"
    POSTPONED = "postponed"


class PostponeReason(StrEnum):
    """Why informing the youth or parents is postponed (Jeugdwet art. 7.1.4.3): informing now
    would endanger the youth (``safety_youth``) or someone else (``safety_others``), the
    youth and parents cannot be reached yet (``unreachable``), or another reason the
    organisation's file records (``other``)."""

    SAFETY_YOUTH = "safety_youth"
    SAFETY_OTHERS = "safety_others"
    UNREACHABLE = "unreachable"
    OTHER = "other"


class RegistrationInforming(Base):
    """One record of the duty to inform: who was informed and when, or why informing is
    postponed and when to look again. The latest record of a registration is its state; the
    earlier ones stay as its history (and for the statistics)."""

    __tablename__ = "registration_informing"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    registration_id: Mapped[str] = mapped_column(ForeignKey("registrations.id", ondelete="CASCADE"))
    status: Mapped[InformingStatus] = mapped_column(StrEnumText(InformingStatus, 12))
    youth_informed: Mapped[bool] = mapped_column(Boolean)
    parents_informed: Mapped[bool] = mapped_column(Boolean)
    informed_on: Mapped[date | None]
    reason: Mapped[PostponeReason | None] = mapped_column(StrEnumText(PostponeReason, 20))
    revisit_on: Mapped[date | None]
    professional_id: Mapped[str] = mapped_column(ForeignKey("professionals.id"))
    recorded_at: Mapped[datetime]

    __table_args__ = (
        Index("ix_registration_informing_registration", "registration_id", "recorded_at"),
        Index("ix_registration_informing_recorded_at", "recorded_at"),
        # The sweep's postponements whose day to look again has come.
        Index("ix_registration_informing_revisit_on", "revisit_on"),
    )


class ReminderKind(StrEnum):
    INFORM_DUE = "inform_due"
    EXPIRING = "expiring"


class RegistrationReminder(Base):
    """A reminder the sweeper has sent: one row per registration, kind and due moment, written
    in the transaction that puts the webhook event in the outbox, so a reminder is sent once
    whatever the number of sweepers and whenever one is killed."""

    __tablename__ = "registration_reminders"

    registration_id: Mapped[str] = mapped_column(
        ForeignKey("registrations.id", ondelete="CASCADE"), primary_key=True
    )
    kind: Mapped[ReminderKind] = mapped_column(StrEnumText(ReminderKind, 20), primary_key=True)
    due_at: Mapped[datetime] = mapped_column(primary_key=True)
    sent_at: Mapped[datetime]


class EarlierInvolvement(Base):
    """An ended registration kept, by the youth's pseudonym, for a municipality that switched
    on earlier involvement (its covenant's ``earlier_involvement``): a new registration of the
    youth learns that this organisation was involved until ``ended_at``. Deleted at
    ``purge_after`` (at most five years after the end)."""

    __tablename__ = "earlier_involvements"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    pseudonym: Mapped[Pseudonym] = mapped_column(String(64))
    key_version: Mapped[int]
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    professional_id: Mapped[str] = mapped_column(ForeignKey("professionals.id"))
    municipality: Mapped[str] = mapped_column(String(4))
    ended_at: Mapped[datetime]
    purge_after: Mapped[datetime]

    __table_args__ = (
        Index("ix_earlier_involvements_pseudonym", "pseudonym"),
        Index("ix_earlier_involvements_purge_after", "purge_after"),
    )


@dataclass(slots=True)
class RegistrationRow:
    """A registration as a plain row: what the registration write path reads and creates.

    Building and reading mapped objects costs more than the insert itself on that path, so it
    works on these and writes them with one Core ``executemany`` (:func:`insert_registrations`).
    """

    id: str
    pseudonym: Pseudonym
    key_version: int
    organisation_id: str
    professional_id: str
    municipality: str
    status: RegistrationStatus
    created_at: datetime
    ends_at: datetime
    ended_at: datetime | None
    end_reason: EndReason | None


REGISTRATION_COLUMNS: tuple[str, ...] = tuple(c.name for c in Registration.__table__.columns)
"""The table's columns in its own order: the order of :class:`RegistrationRow`'s fields, of the
write path's inserts and of its reads."""

if tuple(f.name for f in fields(RegistrationRow)) != REGISTRATION_COLUMNS:  # pragma: no cover
    raise RuntimeError("RegistrationRow's fields must be the registrations table's columns")

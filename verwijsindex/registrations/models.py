"""The registrations table. Nothing about a youth but the keyed pseudonym is stored."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String
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

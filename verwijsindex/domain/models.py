"""Tables of the index. Nothing about a youth but the keyed pseudonym is stored."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from verwijsindex.db.base import ID, Base, new_id


class Sector(StrEnum):
    YOUTH_CARE = "youth-care"
    EDUCATION = "education"
    POLICE = "police"
    YOUTH_WORK = "youth-work"
    MUNICIPAL_TEAM = "municipal-team"
    YOUTH_PROTECTION = "youth-protection"
    VEILIG_THUIS = "veilig-thuis"
    HEALTH_CARE = "health-care"
    MUNICIPALITY = "municipality"
    OTHER = "other"


class Role(StrEnum):
    """API key roles (docs/security.md, "Roles"). ``auditor`` and ``privacy-officer`` are
    issued only on the command line; an org-admin issues ``professional`` and ``reviewer``."""

    PROFESSIONAL = "professional"
    ORG_ADMIN = "org-admin"
    AUDITOR = "auditor"
    """Appointed by the operator or the supervisory authority: the consent ledger's metadata,
    never its personal parts; the access log of the organisation it was appointed for."""
    REVIEWER = "reviewer"
    """An organisation's own review: its own access-log records, anomaly flags and ledger
    entries."""
    PRIVACY_OFFICER = "privacy-officer"


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


class MatchStatus(StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def _partial(name: str, *columns: str, where: str, unique: bool = False) -> Index:
    """An index of the rows that satisfy ``where`` only, on both databases. Queries that should
    use it must state ``where`` with constants (``repository.status_is``)."""
    condition = text(where)
    return Index(name, *columns, unique=unique, sqlite_where=condition, postgresql_where=condition)


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    sector: Mapped[str] = mapped_column(String(40))
    municipality: Mapped[str] = mapped_column(String(4))
    created_at: Mapped[datetime]


class Professional(Base):
    __tablename__ = "professionals"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    phone: Mapped[str] = mapped_column(String(40))
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime]


class ApiKey(Base):
    __tablename__ = "api_keys"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"), index=True)
    role: Mapped[str] = mapped_column(String(20))
    prefix: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]


class Registration(Base):
    __tablename__ = "registrations"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    pseudonym: Mapped[str] = mapped_column(String(64))
    key_version: Mapped[int]
    organisation_id: Mapped[str] = mapped_column(ForeignKey("organisations.id"))
    professional_id: Mapped[str] = mapped_column(ForeignKey("professionals.id"))
    municipality: Mapped[str] = mapped_column(String(4))
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime]
    ends_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]
    end_reason: Mapped[str | None] = mapped_column(String(20))

    __table_args__ = (
        # One active registration per professional and youth: the race of a professional
        # with itself ends here.
        _partial(
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
        _partial(
            "ix_registrations_ended_pseudonym",
            "pseudonym",
            where="status <> 'active'",
        ),
        # Expiry by the sweeper.
        _partial(
            "ix_registrations_active_ends_at",
            "ends_at",
            where="status = 'active'",
        ),
        Index("ix_registrations_org_created", "organisation_id", "created_at"),
        # Purge after the retention period.
        _partial(
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
    pseudonym: str
    key_version: int
    organisation_id: str
    professional_id: str
    municipality: str
    status: str
    created_at: datetime
    ends_at: datetime
    ended_at: datetime | None
    end_reason: str | None


REGISTRATION_COLUMNS = tuple(f.name for f in fields(RegistrationRow))


class Match(Base):
    __tablename__ = "matches"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    # The youth's pseudonym of the registration that opened the match; enforces one open
    # match per youth. Never shown in a response.
    subject_pseudonym: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(12))
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    __table_args__ = (
        _partial(
            "uq_matches_open_subject",
            "subject_pseudonym",
            where="status = 'open'",
            unique=True,
        ),
        # A youth's closed matches (subject access and erasure), and the purge of closed matches.
        _partial(
            "ix_matches_closed_subject",
            "subject_pseudonym",
            where="status <> 'open'",
        ),
        _partial(
            "ix_matches_closed_at",
            "closed_at",
            where="status = 'closed'",
        ),
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

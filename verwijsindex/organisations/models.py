"""Tables of organisations, their professionals and their API keys."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column

from verwijsindex.storage.base import ID, Base, StrEnumText, new_id


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
    issued only on the command line; an org-admin issues ``professional`` and ``reviewer``.
    ``privacy-officer`` and ``municipality-admin`` belong to an organisation of sector
    ``municipality``."""

    PROFESSIONAL = "professional"
    ORG_ADMIN = "org-admin"
    AUDITOR = "auditor"
    """Appointed by the operator or the supervisory authority: the consent ledger's metadata,
    never its personal parts; the access log of the organisation it was appointed for."""
    REVIEWER = "reviewer"
    """An organisation's own review: its own access-log records, anomaly flags and ledger
    entries."""
    PRIVACY_OFFICER = "privacy-officer"
    MUNICIPALITY_ADMIN = "municipality-admin"
    """A municipality's covenant manager (an organisation of sector ``municipality``): its
    own municipality's covenant and the coordination of matches under it. Issued only on the
    command line."""


class Organisation(Base):
    __tablename__ = "organisations"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    name: Mapped[str] = mapped_column(String(200))
    sector: Mapped[Sector] = mapped_column(StrEnumText(Sector, 40))
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
    role: Mapped[Role] = mapped_column(StrEnumText(Role, 20))
    prefix: Mapped[str] = mapped_column(String(20))
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_at: Mapped[datetime]
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]

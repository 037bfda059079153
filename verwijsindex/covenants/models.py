"""The versions of each municipality's covenant. A row is never changed: a new covenant is a
new version, so a match keeps the version it started under and every change says who and
when."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from verwijsindex.storage.base import ID, Base, new_id


class CovenantVersion(Base):
    __tablename__ = "covenant_versions"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    municipality: Mapped[str] = mapped_column(String(4))
    version: Mapped[int]
    coordinator_sectors: Mapped[str] = mapped_column(Text)
    """The ordered sectors, comma-separated (each a ``Sector`` value)."""
    respond_within: Mapped[str] = mapped_column(String(32))
    coordinate_within: Mapped[str] = mapped_column(String(32))
    inform_within: Mapped[str] = mapped_column(String(32))
    earlier_involvement_enabled: Mapped[bool]
    earlier_involvement_retention: Mapped[str] = mapped_column(String(32))
    changed_at: Mapped[datetime]
    changed_by_organisation_id: Mapped[str] = mapped_column(ID)
    changed_by_api_key_id: Mapped[str | None] = mapped_column(ID)
    """Set when the change came through the API."""
    changed_by_professional_id: Mapped[str | None] = mapped_column(ID)
    """Set when the change came from the portal: the signed-in professional."""

    __table_args__ = (
        Index("uq_covenant_versions_municipality_version", "municipality", "version", unique=True),
    )

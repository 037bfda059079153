"""Tables of the enumeration defence: fixed-window counters, anomaly flags and bulk-import
grants."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Float, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from verwijsindex.storage.base import ID, Base, new_id


class RateLimitCounter(Base):
    """Hits of one subject (professional or organisation) in one fixed window of one scope."""

    __tablename__ = "rate_limit_counters"

    scope: Mapped[str] = mapped_column(String(24), primary_key=True)
    subject_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(primary_key=True)
    hits: Mapped[int]

    __table_args__ = (Index("ix_rate_limit_counters_window", "window_start"),)


class AnomalyFlag(Base):
    """An unusual pattern for auditors to look at. Raised at most once per ``dedupe_key``."""

    __tablename__ = "anomaly_flags"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    rule: Mapped[str] = mapped_column(String(40))
    organisation_id: Mapped[str] = mapped_column(String(36))
    professional_id: Mapped[str | None] = mapped_column(String(36))
    subject_ref_type: Mapped[str | None] = mapped_column(String(20))
    subject_ref: Mapped[str | None] = mapped_column(String(64))
    window_start: Mapped[datetime | None]
    observed: Mapped[float] = mapped_column(Float)
    threshold: Mapped[float] = mapped_column(Float)
    raised_at: Mapped[datetime]
    dedupe_key: Mapped[str] = mapped_column(String(200), unique=True)

    __table_args__ = (Index("ix_anomaly_flags_org_raised", "organisation_id", "raised_at"),)


class BulkImportGrant(Base):
    """An operator's permission for one organisation to register up to ``items`` youths
    through the batch endpoint before ``expires_at`` without the per-professional limits
    (``verwijsindex admin grant-bulk-import``). Its use is counted in ``rate_limit_counters``
    (scope ``bulk-import``, the grant's id, window start ``expires_at``)."""

    __tablename__ = "bulk_import_grants"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    organisation_id: Mapped[str] = mapped_column(String(36))
    items: Mapped[int]
    granted_at: Mapped[datetime]
    expires_at: Mapped[datetime]
    revoked_at: Mapped[datetime | None]
    reference: Mapped[str | None] = mapped_column(String(100))

    __table_args__ = (Index("ix_bulk_import_grants_org_expires", "organisation_id", "expires_at"),)

"""Tables of the access log: the records (a hash chain) and the signed heads."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from verwijsindex.storage.base import ID, Base


class AccessLogRecord(Base):
    """One processing operation on one data subject. Rows are only ever inserted.

    ``seq`` is gap-free and assigned under the append lock; ``hash`` covers the canonical
    record including ``prev_hash`` (see :mod:`verwijsindex.accesslog._chain`).
    """

    __tablename__ = "access_log"

    seq: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    id: Mapped[str] = mapped_column(ID, unique=True)
    trace_id: Mapped[str] = mapped_column(String(32))
    span_id: Mapped[str] = mapped_column(String(16))
    parent_span_id: Mapped[str | None] = mapped_column(String(16))
    operation: Mapped[str] = mapped_column(String(64))
    activity_id: Mapped[str] = mapped_column(String(16))
    status: Mapped[str] = mapped_column(String(10))
    started_at: Mapped[datetime]
    ended_at: Mapped[datetime]
    professional_id: Mapped[str | None] = mapped_column(String(36))
    organisation_id: Mapped[str | None] = mapped_column(String(36))
    on_behalf_of: Mapped[str | None] = mapped_column(String(36))
    role: Mapped[str | None] = mapped_column(String(20))
    subject_pseudonym: Mapped[str | None] = mapped_column(String(64))
    subject_ref_type: Mapped[str | None] = mapped_column(String(20))
    subject_ref: Mapped[str | None] = mapped_column(String(64))
    reason: Mapped[str | None] = mapped_column(String(40))
    reference: Mapped[str | None] = mapped_column(String(100))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    __table_args__ = (
        Index("ix_access_log_org_started", "organisation_id", "started_at"),
        Index("ix_access_log_professional_started", "professional_id", "started_at"),
        Index("ix_access_log_started", "started_at"),
        Index("ix_access_log_subject_pseudonym", "subject_pseudonym"),
        Index("ix_access_log_subject_ref", "subject_ref"),
    )


class AccessLogHead(Base):
    """A signed statement "the log held ``count`` records ending in ``head_hash``"."""

    __tablename__ = "access_log_heads"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    count: Mapped[int] = mapped_column(BigInteger)
    head_hash: Mapped[str] = mapped_column(String(64))
    signed_at: Mapped[datetime]
    key_id: Mapped[str] = mapped_column(String(64))
    signature: Mapped[str] = mapped_column(Text)

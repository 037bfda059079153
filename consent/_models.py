"""Tables of the consent package: events, organisation keys, exchanges and the ledger.

Nothing here holds a birth date, a BSN or exchanged content in the clear: consent events
keep only the youth's age band, exchanges keep only HPKE ciphertext, and ledger entries keep
metadata with a salted commitment to the few personal fields.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, LargeBinary, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from consent._db import ConsentBase

ID = String(36)


class ConsentEventRow(ConsentBase):
    """One immutable consent event. Rows are inserted, never updated."""

    __tablename__ = "consent_events"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    match_id: Mapped[str] = mapped_column(ID)
    organisation_id: Mapped[str] = mapped_column(ID)
    counterpart_organisation_id: Mapped[str] = mapped_column(ID)
    recorded_by: Mapped[str] = mapped_column(ID)
    kind: Mapped[str] = mapped_column(String(12))
    grantor: Mapped[str] = mapped_column(String(12))
    purpose: Mapped[str] = mapped_column(String(40))
    data_categories: Mapped[str] = mapped_column(String(200))
    direction: Mapped[str] = mapped_column(String(12))
    age_band: Mapped[str] = mapped_column(String(12))
    method: Mapped[str] = mapped_column(String(12))
    valid_from: Mapped[datetime | None]
    valid_until: Mapped[datetime | None]
    evidence_hash: Mapped[str | None] = mapped_column(String(64))
    recorded_at: Mapped[datetime]
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)

    __table_args__ = (
        Index("ix_consent_events_match_recorded", "match_id", "recorded_at"),
        # The statistics rollup counts the events recorded in a window of time.
        Index("ix_consent_events_recorded_at", "recorded_at"),
    )


class OrganisationKey(ConsentBase):
    """An organisation's X25519 public key for HPKE; rotation retires the previous one."""

    __tablename__ = "organisation_encryption_keys"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    organisation_id: Mapped[str] = mapped_column(ID)
    public_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[datetime]
    retired_at: Mapped[datetime | None]

    __table_args__ = (
        Index("ix_organisation_encryption_keys_org", "organisation_id", "retired_at"),
    )


class Exchange(ConsentBase):
    """One encrypted exchange. The service holds ciphertext only, until acknowledged."""

    __tablename__ = "exchanges"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    match_id: Mapped[str] = mapped_column(ID)
    sender_organisation_id: Mapped[str] = mapped_column(ID)
    sender_professional_id: Mapped[str] = mapped_column(ID)
    recipient_organisation_id: Mapped[str] = mapped_column(ID)
    purpose: Mapped[str] = mapped_column(String(40))
    data_category: Mapped[str] = mapped_column(String(20))
    consent_reference: Mapped[str] = mapped_column(Text)
    """JSON list of the consent event ids (or ``["legal-ground:<code>"]``) bound in ``info``."""
    legal_ground: Mapped[str | None] = mapped_column(String(20))
    legal_ground_justification: Mapped[str | None] = mapped_column(Text)
    flagged_for_review: Mapped[bool]
    enc: Mapped[bytes | None] = mapped_column(LargeBinary)
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary)
    ciphertext_sha256: Mapped[str] = mapped_column(String(64))
    recipient_key_id: Mapped[str] = mapped_column(ID)
    created_at: Mapped[datetime]
    delivered_at: Mapped[datetime | None]
    acknowledged_at: Mapped[datetime | None]
    deleted_at: Mapped[datetime | None]
    deletion_reason: Mapped[str | None] = mapped_column(String(30))
    ledger_index: Mapped[int] = mapped_column(BigInteger, unique=True)

    __table_args__ = (
        Index("ix_exchanges_recipient_created", "recipient_organisation_id", "created_at"),
        Index("ix_exchanges_match", "match_id"),
        Index("ix_exchanges_pending", "deleted_at", "created_at"),
        # The statistics rollup counts the exchanges made in a window of time.
        Index("ix_exchanges_created_at", "created_at"),
    )


class LedgerEntry(ConsentBase):
    """One leaf of the Merkle log. ``record`` is exactly the leaf data (canonical JSON).

    ``record`` carries a ``commitment`` = SHA-256(salt || personal) instead of the personal
    fields; erasing ``salt`` and ``personal`` keeps the leaf (and the log) intact.
    """

    __tablename__ = "ledger_entries"

    idx: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    record: Mapped[str] = mapped_column(Text)
    salt: Mapped[bytes | None] = mapped_column(LargeBinary(16))
    personal: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime]
    erased_at: Mapped[datetime | None]


class LedgerCheckpoint(ConsentBase):
    """A signed checkpoint. Each one was checked to extend the previous before signing."""

    __tablename__ = "ledger_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

"""Tables of federation: a region's hand-off to the hub and its view of cross-region matches,
and the hub's tables. Nothing here holds a BSN or a region's stored pseudonym: the hub's
tables hold a federated pseudonym (under a key only the regions share), the region's id, an
opaque reference and a participant card sealed for the regions."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from verwijsindex.matches.models import MatchStatus
from verwijsindex.storage.base import ID, Base, StrEnumText, new_id, partial_index

REGION_ID_LENGTH = 32
REFERENCE_LENGTH = 48


class HandoffKind(StrEnum):
    ACTIVE = "active"
    ENDED = "ended"


# --- a region's side --------------------------------------------------------------------


class FederationOutbox(Base):
    """What the region still has to tell the hub, in order of the (time-ordered) id, which is
    also the idempotency key; a row goes once the hub has it. Its only index is the primary
    key: one index entry per registration on the write path. ``registration_id`` finds the
    card when the row is sent (and the registration for the access log)."""

    __tablename__ = "federation_outbox"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    kind: Mapped[HandoffKind] = mapped_column(StrEnumText(HandoffKind, 12))
    reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH))
    registration_id: Mapped[str | None] = mapped_column(String(36))
    federated_pseudonym: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime]


class FederatedMatch(Base):
    """A cross-region match as this region knows it; its id is the hub's match id."""

    __tablename__ = "federated_matches"

    id: Mapped[str] = mapped_column(ID, primary_key=True)
    status: Mapped[MatchStatus] = mapped_column(StrEnumText(MatchStatus, 12))
    version: Mapped[int]
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]


class FederatedParticipant(Base):
    """One participant of a cross-region match: this region's (``registration_id`` and
    ``organisation_id`` set) or another region's (``card``: what that region shares)."""

    __tablename__ = "federated_participants"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    match_id: Mapped[str] = mapped_column(ForeignKey("federated_matches.id", ondelete="CASCADE"))
    region: Mapped[str] = mapped_column(String(REGION_ID_LENGTH))
    reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH))
    registration_id: Mapped[str | None] = mapped_column(String(36))
    organisation_id: Mapped[str | None] = mapped_column(String(36))
    card: Mapped[str | None] = mapped_column(Text)
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]

    __table_args__ = (
        Index(
            "uq_federated_participants_match_ref", "match_id", "region", "reference", unique=True
        ),
        Index("ix_federated_participants_org", "organisation_id", "match_id"),
        Index("ix_federated_participants_registration", "registration_id"),
    )


# --- the hub's side ---------------------------------------------------------------------


class HubRegion(Base):
    """A region the hub knows: where its callbacks go and which key version signs them."""

    __tablename__ = "hub_regions"

    id: Mapped[str] = mapped_column(String(REGION_ID_LENGTH), primary_key=True)
    callback_url: Mapped[str] = mapped_column(String(2048))
    key_version: Mapped[int]
    created_at: Mapped[datetime]
    disabled_at: Mapped[datetime | None]


class HubRegistration(Base):
    """A region's registration as the hub knows it: region, reference, federated pseudonym
    and the sealed card (which the hub cannot read)."""

    __tablename__ = "hub_registrations"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    region: Mapped[str] = mapped_column(String(REGION_ID_LENGTH))
    reference: Mapped[str] = mapped_column(String(REFERENCE_LENGTH))
    federated_pseudonym: Mapped[str] = mapped_column(String(64))
    card: Mapped[str] = mapped_column(Text)
    active: Mapped[bool]
    created_at: Mapped[datetime]
    ended_at: Mapped[datetime | None]

    __table_args__ = (
        Index("uq_hub_registrations_region_ref", "region", "reference", unique=True),
        partial_index(
            "ix_hub_registrations_active_fp", "federated_pseudonym", where="active = true"
        ),
    )


class HubMatch(Base):
    __tablename__ = "hub_matches"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    federated_pseudonym: Mapped[str] = mapped_column(String(64))
    status: Mapped[MatchStatus] = mapped_column(StrEnumText(MatchStatus, 12))
    version: Mapped[int]
    created_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]

    __table_args__ = (
        partial_index(
            "uq_hub_matches_open_fp", "federated_pseudonym", where="status = 'open'", unique=True
        ),
    )


class HubParticipant(Base):
    __tablename__ = "hub_participants"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    match_id: Mapped[str] = mapped_column(ForeignKey("hub_matches.id", ondelete="CASCADE"))
    registration_id: Mapped[str] = mapped_column(
        ForeignKey("hub_registrations.id", ondelete="CASCADE")
    )
    joined_at: Mapped[datetime]
    left_at: Mapped[datetime | None]

    __table_args__ = (
        Index("uq_hub_participants_match_reg", "match_id", "registration_id", unique=True),
    )


class HubReceived(Base):
    """Idempotency keys of hand-offs the hub has applied (a retry is answered, not applied)."""

    __tablename__ = "hub_received"

    region: Mapped[str] = mapped_column(String(REGION_ID_LENGTH), primary_key=True)
    key: Mapped[str] = mapped_column(String(36), primary_key=True)
    received_at: Mapped[datetime]


class HubOutbox(Base):
    """A report for one region, in order; the row id is the idempotency key. Deleted once the
    region has acknowledged it."""

    __tablename__ = "hub_outbox"

    id: Mapped[str] = mapped_column(ID, primary_key=True, default=new_id)
    region: Mapped[str] = mapped_column(String(REGION_ID_LENGTH))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime]

    __table_args__ = (Index("ix_hub_outbox_region", "region", "id"),)

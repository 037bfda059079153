"""Request and response bodies of consent events, encryption keys and exchanges
(``/v1/matches/{id}/consents…``, ``/v1/organisations/…/encryption-key``, ``/v1/exchanges…``)."""

from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from consent import (
    AgeBand,
    DataCategory,
    Direction,
    EventKind,
    GrantorRole,
    LegalGround,
    Method,
    Party,
    Purpose,
)
from verwijsindex.http.timestamps import CalendarDate, UtcDatetime


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ConsentCreate(_Strict):
    counterpart_organisation_id: str = Field(max_length=64)
    event: EventKind
    grantor: GrantorRole
    purpose: Purpose
    data_categories: list[DataCategory] = Field(min_length=1, max_length=5)
    direction: Direction = Field(
        description="Seen from the caller's organisation: outgoing = it may disclose to the"
        " counterpart; incoming = the counterpart may disclose to it; both."
    )
    subject_birth_date: CalendarDate = Field(
        description="The youth's birth date, used for the age band and never stored"
    )
    valid_from: UtcDatetime | None = None
    valid_until: UtcDatetime | None = None
    method: Method
    evidence_hash: str | None = Field(
        default=None,
        pattern=r"^[0-9a-f]{64}$",
        description="Lowercase hex SHA-256 of the signed form or recording the organisation keeps",
    )


class ConsentOut(BaseModel):
    id: str
    match_id: str
    ledger_index: int
    organisation_id: str
    counterpart_organisation_id: str
    recorded_by: str
    event: EventKind
    grantor: GrantorRole
    purpose: Purpose
    data_categories: list[DataCategory]
    direction: Direction
    age_band: AgeBand
    method: Method
    valid_from: datetime | None
    valid_until: datetime | None
    evidence_hash: str | None
    recorded_at: datetime


class DecisionOut(BaseModel):
    sender_organisation_id: str
    recipient_organisation_id: str
    purpose: Purpose
    data_category: DataCategory
    allowed: bool
    consent_reference: list[str]
    missing: list[Party]
    refused_by: list[GrantorRole]
    age_band: AgeBand | None
    explanation: str


class ConsentList(BaseModel):
    events: list[ConsentOut]
    state: list[DecisionOut] = Field(
        description="The folded decision for every sender → recipient, purpose and data"
        " category some event speaks about, at the time of the request"
    )


class EncryptionKeyIn(_Strict):
    public_key: str = Field(description="Base64 of the raw 32-byte X25519 public key")


class EncryptionKeyOut(BaseModel):
    key_id: str
    organisation_id: str
    public_key: str
    created_at: datetime


class LegalGroundIn(_Strict):
    code: LegalGround
    justification: str = Field(max_length=4000)


class ExchangeCreate(_Strict):
    recipient_organisation_id: str = Field(max_length=64)
    purpose: Purpose
    data_category: DataCategory
    enc: str = Field(description="Base64 HPKE encapsulated key (32 bytes)")
    ciphertext: str = Field(description="Base64 HPKE ciphertext")
    legal_ground: LegalGroundIn | None = None
    consent_reference: list[str] | None = Field(
        default=None,
        description="The consent reference the sender bound in the HPKE info (from"
        " GET …/consents/decision); 409 when it is no longer the current decision",
    )
    recipient_key_id: str | None = Field(
        default=None, description="The recipient key sealed to; 409 when it was rotated"
    )


class ExchangeCreated(BaseModel):
    id: str
    ledger_index: int
    consent_reference: list[str]
    flagged_for_review: bool
    recipient_key_id: str
    created_at: datetime


class ExchangeSummary(BaseModel):
    id: str
    match_id: str
    sender_organisation_id: str
    recipient_organisation_id: str
    purpose: Purpose
    data_category: DataCategory
    legal_ground: LegalGround | None
    flagged_for_review: bool
    ledger_index: int
    created_at: datetime
    delivered_at: datetime | None
    acknowledged_at: datetime | None
    deleted_at: datetime | None
    deletion_reason: str | None


class ExchangeInfo(BaseModel):
    match_id: str
    consent_reference: list[str]
    sender_org: str
    recipient_org: str


class ExchangeOut(ExchangeSummary):
    recipient_key_id: str
    enc: str
    ciphertext: str
    info: ExchangeInfo = Field(description="The parameters of crypto.exchange_info")
    info_b64: str = Field(description="The exact HPKE info bytes, base64")


class ExchangeInbox(BaseModel):
    items: list[ExchangeSummary]

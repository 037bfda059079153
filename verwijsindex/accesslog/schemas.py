"""Bodies of the audit (access log, anomalies) and subject-rights endpoints."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from verwijsindex.http.schemas import OrganisationRef
from verwijsindex.matches.models import MatchStatus
from verwijsindex.registrations.models import RegistrationStatus


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccessLogEntryOut(BaseModel):
    seq: int = Field(description="Position in the hash chain, gap-free from 1")
    id: str
    trace_id: str
    span_id: str
    parent_span_id: str | None
    operation: str
    activity_id: str = Field(description="Processing activity (see docs/access-log.md)")
    status: Literal["success", "failure", "denied"]
    started_at: datetime
    ended_at: datetime
    professional_id: str | None
    organisation_id: str | None
    on_behalf_of: str | None
    role: str | None
    subject_pseudonym: str | None = Field(
        description="Keyed access-log pseudonym of the youth (not the index's pseudonym)"
    )
    subject_ref_type: str | None
    subject_ref: str | None
    reason: str | None
    reference: str | None
    prev_hash: str
    hash: str


class AccessLogPage(BaseModel):
    items: list[AccessLogEntryOut]
    next_cursor: str | None


class AnomalyOut(BaseModel):
    id: str
    rule: Literal["registration-volume", "withdrawn-after-match"]
    organisation_id: str
    professional_id: str | None
    subject_ref_type: str | None
    subject_ref: str | None
    window_start: datetime | None
    observed: float = Field(description="Registrations in the hour, or minutes to withdrawal")
    threshold: float
    raised_at: datetime


class AnomalyPage(BaseModel):
    items: list[AnomalyOut]
    next_cursor: str | None


class SubjectAccessRequest(_Strict):
    bsn: str = Field(description="The youth's BSN; used to compute pseudonyms, never stored")
    birth_date: str | None = Field(
        default=None, description="YYYY-MM-DD, checked when given; never stored"
    )


ErasureReason = Literal["data-subject-request", "unlawful-processing", "court-order", "other"]


class SubjectErasureRequest(_Strict):
    bsn: str = Field(description="The youth's BSN; used to compute pseudonyms, never stored")
    reason: ErasureReason
    request_reference: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._:/\-]*$",
        description="The privacy office's case number (no personal data)",
    )


class SubjectRegistrationOut(BaseModel):
    id: str
    organisation: OrganisationRef
    municipality: str
    created_at: datetime
    status: RegistrationStatus
    ended_at: datetime | None
    end_reason: str | None


class SubjectParticipantOut(BaseModel):
    registration_id: str
    organisation: OrganisationRef
    joined_at: datetime
    left_at: datetime | None


class SubjectMatchOut(BaseModel):
    id: str
    created_at: datetime
    status: MatchStatus
    closed_at: datetime | None
    participants: list[SubjectParticipantOut]


class SubjectAccessOut(BaseModel):
    registrations: list[SubjectRegistrationOut]
    matches: list[SubjectMatchOut]
    access_log: list[AccessLogEntryOut]


class ErasureExtensionOut(BaseModel):
    name: str
    erased: int


class SubjectErasureOut(BaseModel):
    request_reference: str
    ended_registrations: int
    erased_registrations: int
    erased_matches: int
    erased_participations: int
    completed_at: datetime
    extensions: list[ErasureExtensionOut] = Field(
        description="Records erased elsewhere by registered erasure hooks"
    )

"""Bodies of the audit (access log, anomalies) and subject-rights endpoints."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from verwijsindex.families.models import FamilyMatchStatus
from verwijsindex.http.schemas import OrganisationRef
from verwijsindex.matches.models import MatchStatus
from verwijsindex.registrations.models import InformingStatus, RegistrationStatus


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


class SubjectCrossRegionParticipantOut(BaseModel):
    region: str | None = Field(description="null: this region's own participant")
    registration_id: str | None = Field(description="Only for this region's participants")
    organisation: OrganisationRef | None = Field(
        description="Another region's organisation as its card shows it (null when not shared)"
    )
    joined_at: datetime
    left_at: datetime | None


class SubjectCrossRegionMatchOut(BaseModel):
    id: str
    created_at: datetime
    status: MatchStatus
    closed_at: datetime | None
    participants: list[SubjectCrossRegionParticipantOut]


class SubjectAccessOut(BaseModel):
    registrations: list[SubjectRegistrationOut]
    matches: list[SubjectMatchOut]
    cross_region_matches: list[SubjectCrossRegionMatchOut] = Field(
        description="A federated region's cross-region matches of the youth's registrations"
        " (docs/federation.md); empty elsewhere"
    )
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


class ParentAccessRequest(_Strict):
    bsn: str = Field(
        description="The parent's or guardian's BSN; used to compute pseudonyms, never stored"
    )


class ParentErasureRequest(SubjectErasureRequest):
    bsn: str = Field(
        description="The parent's or guardian's BSN; used to compute pseudonyms, never stored"
    )


class InformingStateOut(BaseModel):
    status: InformingStatus
    youth_informed: bool
    parents_informed: bool
    informed_on: date | None
    revisit_on: date | None = Field(description="Postponed: the day to look again")


class FamilyMatchRefOut(BaseModel):
    id: str
    status: FamilyMatchStatus
    created_at: datetime


class ParentLinkOut(BaseModel):
    registration: SubjectRegistrationOut
    informing: InformingStateOut | None = Field(
        description="The registration's latest record of the duty to inform (null: none yet)"
    )
    disclose: bool = Field(
        description="true only when that record says the parents were informed; otherwise the"
        " officer withholds this registration from the parent (docs/subject-rights.md)"
    )
    family_match: FamilyMatchRefOut | None


class ParentAccessOut(BaseModel):
    links: list[ParentLinkOut] = Field(
        description="The active registrations naming the parent (a link ends with its registration)"
    )


class ParentErasureOut(BaseModel):
    request_reference: str
    unlinked_registrations: int = Field(description="Registrations whose link was removed")
    family_matches_changed: int = Field(description="Open family matches looked at again")
    completed_at: datetime

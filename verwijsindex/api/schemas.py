"""Request and response bodies. Requests reject unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RegistrationCreate(_Strict):
    bsn: str = Field(description="Nine digits passing the 11-test. Used, never stored.")
    birth_date: str = Field(
        description="YYYY-MM-DD. Used to check the age limit and the end date, never stored."
    )
    municipality: str | None = Field(
        default=None, description="CBS municipality code; default the organisation's"
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"bsn": "111222333", "birth_date": "2012-05-01"}]},
    )


class BatchItem(_Strict):
    bsn: str
    birth_date: str
    municipality: str | None = None
    professional_id: str | None = Field(
        default=None,
        description="A professional of the caller's organisation; default X-Professional-Id",
    )


class RegistrationBatch(_Strict):
    items: list[BatchItem] = Field(min_length=1, max_length=1000)


class BatchItemProblem(BaseModel):
    type: str
    status: int
    detail: str


class BatchItemResult(BaseModel):
    index: int
    status: int
    registration: RegistrationOut | None = None
    problem: BatchItemProblem | None = None


class RegistrationBatchResult(BaseModel):
    created: int
    existing: int
    failed: int
    results: list[BatchItemResult]


class RegistrationWithdraw(_Strict):
    reason: Literal["unjustified", "risk_resolved", "deceased", "other"]


class RegistrationOut(BaseModel):
    id: str
    status: Literal["active", "withdrawn", "ended"]
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    match_id: str | None
    organisation_id: str
    professional_id: str
    municipality: str


class RegistrationPage(BaseModel):
    items: list[RegistrationOut]
    next_cursor: str | None


class OrganisationRef(BaseModel):
    id: str
    name: str
    sector: str


class ProfessionalContact(BaseModel):
    name: str
    email: str
    phone: str


class ParticipantOut(BaseModel):
    registration_id: str
    organisation: OrganisationRef
    professional: ProfessionalContact
    registered_at: datetime
    joined_at: datetime
    left_at: datetime | None


class MatchOut(BaseModel):
    id: str
    status: Literal["open", "closed"]
    created_at: datetime
    closed_at: datetime | None
    participants: list[ParticipantOut]


class MatchSummary(BaseModel):
    id: str
    status: Literal["open", "closed"]
    created_at: datetime
    closed_at: datetime | None


class MatchPage(BaseModel):
    items: list[MatchSummary]
    next_cursor: str | None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None

"""Request and response bodies. Requests reject unknown fields."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from verwijsindex.coordination.schemas import CoordinationOut
from verwijsindex.families.models import FamilyMatchStatus
from verwijsindex.matches.models import MatchStatus
from verwijsindex.organisations.models import Role
from verwijsindex.registrations.models import RegistrationStatus


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


# What the service accepts, stated in the schema. The values are checked by the domain (with
# its own problem types: invalid-bsn, invalid-birth-date, invalid-input), not by pydantic, so
# these are schema facts only: a client generated from the schema refuses what the server
# would refuse (and the server may still refuse a BSN that fails the 11-test).
BSN_SCHEMA: dict[str, Any] = {"minLength": 9, "maxLength": 9, "pattern": "^[0-9]{9}$"}
BIRTH_DATE_SCHEMA: dict[str, Any] = {
    "format": "date",
    "minLength": 10,
    "maxLength": 10,
    "pattern": "^[0-9]{4}-[0-9]{2}-[0-9]{2}$",
}
MUNICIPALITY_SCHEMA: dict[str, Any] = {"pattern": "^[0-9]{4}$"}
SUBJECT_TOKEN_SCHEMA: dict[str, Any] = {
    "minLength": 89,
    "maxLength": 96,
    "pattern": "^t[1-9][0-9]{0,8}\\.[A-Za-z0-9_-]{86}$",
}
_ONE_SUBJECT: dict[str, Any] = {
    "oneOf": [{"required": ["bsn"]}, {"required": ["subject_token"]}],
}
_SUBJECT_DESCRIPTION = (
    "The blind path, instead of bsn: the youth's RFC 9497 OPRF output from the key service"
    " (t<key version>.<base64url>), finalised by the organisation, which checked the BSN's"
    " 11-test. Used, never stored (docs/blind-pseudonyms.md)."
)
_EARLIER_DESCRIPTION = (
    "With subject_token: the tokens under every earlier key version the key service offers"
    " (the youth's older pseudonyms move over)"
)


TERM_SCHEMA: dict[str, Any] = {
    "pattern": "^P(?:[0-9]{1,2}Y)?(?:[0-9]{1,3}M)?(?:[0-9]{1,4}D)?$",
    "examples": ["P1Y", "P6M", "P90D"],
}


PARENTS_DESCRIPTION = (
    "The youth's parents or guardians (at most 4, duplicates counted once). Registrations of"
    " different youths by different professionals that share a parent form a family match."
)
TERM_DESCRIPTION = (
    "The registration's term, an ISO 8601 duration of years, months and days (P1Y, P6M,"
    " P90D); at most two years and never past the 23rd birthday. Default the longest."
)


class _OneSubject(BaseModel):
    """Exactly one of ``bsn`` (direct path) and ``subject_token`` (blind path)."""

    @model_validator(mode="after")
    def _one_subject(self) -> Any:
        bsn = getattr(self, "bsn", None)
        token = getattr(self, "subject_token", None)
        if (bsn is None) == (token is None):
            raise ValueError("give exactly one of bsn and subject_token")
        if token is None and getattr(self, "earlier_subject_tokens", None):
            raise ValueError("earlier_subject_tokens go with subject_token")
        return self


class ParentIn(_Strict, _OneSubject):
    """A parent or guardian: by ``bsn`` beside a youth named by BSN, by ``subject_token``
    beside a youth named by subject token (the blind path); mixed forms are refused (422)."""

    bsn: str | None = Field(
        default=None,
        description="A parent's or guardian's BSN (nine digits passing the 11-test), beside a"
        " youth's bsn. Used for a keyed pseudonym of its own purpose, never stored.",
        json_schema_extra=BSN_SCHEMA,
    )
    subject_token: str | None = Field(
        default=None,
        description="The blind path, beside a youth's subject_token: the parent's OPRF output"
        " from the key service, as for a youth. Used for a keyed pseudonym of its own purpose"
        " (blind-parent-pseudonym), never stored.",
        json_schema_extra=SUBJECT_TOKEN_SCHEMA,
    )
    earlier_subject_tokens: list[str] = Field(
        default_factory=list,
        max_length=8,
        description="With subject_token: the parent's tokens under every earlier key version"
        " the key service offers",
    )

    model_config = ConfigDict(extra="forbid", json_schema_extra=_ONE_SUBJECT)


class RegistrationCreate(_Strict, _OneSubject):
    bsn: str | None = Field(
        default=None,
        description="Nine digits passing the 11-test. Used, never stored.",
        json_schema_extra=BSN_SCHEMA,
    )
    subject_token: str | None = Field(
        default=None, description=_SUBJECT_DESCRIPTION, json_schema_extra=SUBJECT_TOKEN_SCHEMA
    )
    earlier_subject_tokens: list[str] = Field(
        default_factory=list,
        max_length=8,
        description=_EARLIER_DESCRIPTION,
    )
    birth_date: str = Field(
        description="YYYY-MM-DD. Used to check the age limit and the end date, never stored.",
        json_schema_extra=BIRTH_DATE_SCHEMA,
    )
    municipality: str | None = Field(
        default=None,
        description="CBS municipality code (four digits); default the organisation's",
        json_schema_extra=MUNICIPALITY_SCHEMA,
    )
    parents: list[ParentIn] = Field(
        default_factory=list, description=PARENTS_DESCRIPTION, json_schema_extra={"maxItems": 4}
    )
    term: str | None = Field(
        default=None, description=TERM_DESCRIPTION, json_schema_extra=TERM_SCHEMA
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"bsn": "111222333", "birth_date": "2012-05-01"}],
            **_ONE_SUBJECT,
        },
    )


class BatchItem(_Strict, _OneSubject):
    model_config = ConfigDict(extra="forbid", json_schema_extra=_ONE_SUBJECT)

    bsn: str | None = Field(default=None, json_schema_extra=BSN_SCHEMA)
    subject_token: str | None = Field(
        default=None, description=_SUBJECT_DESCRIPTION, json_schema_extra=SUBJECT_TOKEN_SCHEMA
    )
    earlier_subject_tokens: list[str] = Field(
        default_factory=list, max_length=8, description=_EARLIER_DESCRIPTION
    )
    birth_date: str = Field(json_schema_extra=BIRTH_DATE_SCHEMA)
    municipality: str | None = Field(default=None, json_schema_extra=MUNICIPALITY_SCHEMA)
    professional_id: str | None = Field(
        default=None,
        description="A professional of the caller's organisation; default X-Professional-Id",
    )
    parents: list[ParentIn] = Field(
        default_factory=list, description=PARENTS_DESCRIPTION, json_schema_extra={"maxItems": 4}
    )
    term: str | None = Field(
        default=None, description=TERM_DESCRIPTION, json_schema_extra=TERM_SCHEMA
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
    status: RegistrationStatus
    created_at: datetime
    expires_at: datetime
    ended_at: datetime | None
    end_reason: str | None
    match_id: str | None
    family_match_id: str | None
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


MatchScope = Literal["regional", "cross_region"]


class ParticipantOut(BaseModel):
    registration_id: str = Field(
        description="The registration; of a participant in another region, that region's"
        " opaque reference"
    )
    organisation: OrganisationRef
    professional: ProfessionalContact | None = Field(
        description="Null only for a participant in another region when that region or this"
        " one does not share professionals' contact details"
    )
    registered_at: datetime
    joined_at: datetime
    left_at: datetime | None
    region: str | None = Field(
        default=None,
        description="The region of a participant registered in another region (a cross-region"
        " match); null for this region's participants",
    )


class MatchOut(BaseModel):
    id: str
    status: MatchStatus
    created_at: datetime
    closed_at: datetime | None
    participants: list[ParticipantOut]
    coordination: CoordinationOut | None = Field(
        description="Who coordinates the match (regie); docs/coordination.md"
    )
    scope: MatchScope = Field(
        default="regional",
        description="'cross_region' when the hub matched registrations of this and other"
        " regions (docs/federation.md); 'regional' otherwise",
    )


class MatchSummary(BaseModel):
    id: str
    status: MatchStatus
    created_at: datetime
    closed_at: datetime | None
    scope: MatchScope = "regional"


class MatchPage(BaseModel):
    items: list[MatchSummary]
    next_cursor: str | None


class InformingCreate(_Strict):
    status: Literal["informed", "postponed"]
    informed: list[Literal["youth", "parents"]] = Field(
        default_factory=list,
        description="With informed: who was informed (the youth from 12, the parents under 16)",
    )
    informed_on: str | None = Field(
        default=None,
        description="With informed: the day they were informed (YYYY-MM-DD, not in the future)",
        json_schema_extra={"format": "date"},
    )
    reason: Literal["safety_youth", "safety_others", "unreachable", "other"] | None = Field(
        default=None, description="With postponed: why informing waits (a code, no free text)"
    )
    revisit_on: str | None = Field(
        default=None,
        description="With postponed: the day to look again (after today, before the end)",
        json_schema_extra={"format": "date"},
    )

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "status": "informed",
                    "informed": ["youth", "parents"],
                    "informed_on": "2026-03-01",
                },
                {"status": "postponed", "reason": "safety_youth", "revisit_on": "2026-04-01"},
            ]
        },
    )


class InformingOut(BaseModel):
    id: str
    status: Literal["informed", "postponed"]
    informed: list[Literal["youth", "parents"]]
    informed_on: str | None
    reason: str | None
    revisit_on: str | None
    professional_id: str
    recorded_at: datetime


class InformingState(BaseModel):
    """A registration's informing: its records, oldest first; ``current`` is the last (null:
    nothing recorded yet)."""

    current: InformingOut | None
    records: list[InformingOut]


class RegistrationRenew(_Strict):
    bsn: str = Field(
        description="The registration's youth (checked against its pseudonym). Never stored.",
        json_schema_extra=BSN_SCHEMA,
    )
    birth_date: str = Field(
        description="Presented again for the age limit (it is not stored). Never stored.",
        json_schema_extra=BIRTH_DATE_SCHEMA,
    )
    term: str | None = Field(
        default=None, description=TERM_DESCRIPTION, json_schema_extra=TERM_SCHEMA
    )


class EarlierInvolvementOut(BaseModel):
    organisation: OrganisationRef
    professional: ProfessionalContact
    ended_at: datetime


class EarlierInvolvementList(BaseModel):
    items: list[EarlierInvolvementOut]


class FamilyParticipantOut(BaseModel):
    """A participant of a family match, in a match participant's shape. Another
    organisation's participation shows the organisation and professional only
    (``registration_id`` and ``registered_at`` are null, and one professional's several
    registrations are one entry): never which child, never which parent."""

    registration_id: str | None
    organisation: OrganisationRef
    professional: ProfessionalContact
    registered_at: datetime | None
    joined_at: datetime
    left_at: datetime | None


class FamilyMatchOut(BaseModel):
    id: str
    status: FamilyMatchStatus
    created_at: datetime
    closed_at: datetime | None
    participants: list[FamilyParticipantOut]


class FamilyMatchSummary(BaseModel):
    id: str
    status: FamilyMatchStatus
    created_at: datetime
    closed_at: datetime | None


class FamilyMatchPage(BaseModel):
    items: list[FamilyMatchSummary]
    next_cursor: str | None


class Problem(BaseModel):
    """RFC 9457 problem details."""

    type: str = Field(description="https://verwijsindex.nl/problems/<code>; stable")
    title: str
    status: int
    detail: str = Field(description="Human-readable; never echoes the request's values")
    instance: str | None = None
    errors: list[dict[str, str]] | None = Field(
        default=None, description="Validation problems: field and kind, never the value"
    )


_PROBLEM_DESCRIPTIONS = {
    400: "Malformed request: a control character in the path, query string, a header or a"
    " JSON string; or a body that is not strict UTF-8 JSON (a duplicate key, NaN/Infinity, an"
    " out-of-range number)",
    401: "No, an unknown, a revoked or an expired API key",
    403: "The key's role, or the named professional, may not do this",
    404: "No such resource, or one of another organisation",
    409: "The resource's state does not allow this",
    413: "The request body is larger than VERWIJSINDEX_MAX_BODY_BYTES",
    415: "The request body is not application/json",
    422: "The request does not match the schema or the domain's rules",
}


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` for problem+json errors, with the Problem schema under the
    media type actually served (not ``application/json``)."""
    schema = Problem.model_json_schema()
    return {
        status: {
            "description": _PROBLEM_DESCRIPTIONS.get(status, "Problem"),
            "content": {"application/problem+json": {"schema": schema}},
        }
        for status in statuses
    }


READ_PROBLEMS = (400, 401, 403, 404, 422)
WRITE_PROBLEMS = (400, 401, 403, 404, 413, 415, 422)


class ApiKeyCreate(_Strict):
    role: Literal["professional", "reviewer"] = Field(
        description="An org-admin issues keys for its own organisation's systems and for its"
        " own review (`reviewer`). `auditor`, `org-admin` and `privacy-officer` keys are issued"
        " only on the command line (422 here)."
    )
    expires_in_days: int | None = Field(
        default=None, ge=1, le=3650, description="Optional lifetime; the key stops working then"
    )


class ApiKeyOut(BaseModel):
    """An API key's public record. The key itself is never stored; only a hash is."""

    id: str
    prefix: str = Field(description="The first characters of the key, to recognise it")
    organisation_id: str
    role: Role
    created_at: datetime
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None


class ApiKeyIssued(ApiKeyOut):
    key: str = Field(description="The API key, shown this once")


class ApiKeyList(BaseModel):
    items: list[ApiKeyOut]

"""Bodies between a region and the hub (both directions)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from verwijsindex.federation.models import HandoffKind
from verwijsindex.matches.models import MatchStatus

_REGION = Field(pattern=r"^[a-z0-9][a-z0-9-]{0,31}$")
_REFERENCE = Field(pattern=r"^[A-Za-z0-9_=-]{1,48}$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Handoff(_Strict):
    """One registration's news: active (with its federated pseudonym and sealed card) or
    ended."""

    key: Annotated[str, Field(min_length=1, max_length=36, description="Idempotency key")]
    kind: HandoffKind
    reference: Annotated[str, _REFERENCE]
    federated_pseudonym: Annotated[
        str | None, Field(default=None, pattern=r"^f[0-9]{1,6}\.[A-Za-z0-9_-]{43}$")
    ] = None
    card: Annotated[str | None, Field(default=None, max_length=4096)] = None


class Submission(_Strict):
    items: Annotated[list[Handoff], Field(max_length=1000)]


class SubmissionResult(BaseModel):
    applied: int
    duplicates: int


class CatchUpResult(BaseModel):
    pending: int


class ReportParticipant(_Strict):
    region: Annotated[str, _REGION]
    reference: Annotated[str, _REFERENCE]
    card: Annotated[str, Field(max_length=4096)]
    joined_at: datetime
    left_at: datetime | None
    ended: bool = Field(
        default=False,
        description="The registration ended (withdrawn, expired, erased): it left on its own"
        " rather than with the match's closing",
    )


class MatchReport(_Strict):
    """The whole current state of one cross-region match; a higher version replaces a lower."""

    key: Annotated[str, Field(min_length=1, max_length=36, description="Idempotency key")]
    match_id: Annotated[str, Field(min_length=1, max_length=36)]
    version: Annotated[int, Field(ge=1)]
    status: MatchStatus
    created_at: datetime
    closed_at: datetime | None
    participants: list[ReportParticipant]


class Reports(_Strict):
    messages: Annotated[list[MatchReport], Field(max_length=1000)]


class ReportsResult(BaseModel):
    applied: int

"""Request and response bodies of coordination (``/v1/matches/{id}/coordination…``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from verwijsindex.coordination.state import CoordinationStatus, CoordinationSummary


class CoordinatorOut(BaseModel):
    organisation_id: str
    registration_id: str = Field(description="The coordinator's registration in the match")


class CoordinationOut(BaseModel):
    """A match's coordination: who coordinates (or is proposed to), at which level, until
    when."""

    status: CoordinationStatus = Field(
        description="proposed (waiting for the coordinator's acceptance), accepted, escalated"
        " (procesregie by the municipality, or beyond it), closed"
    )
    level: Literal[1, 2, 3] = Field(
        description="1 casusregie by a participant, 2 procesregie by the municipality,"
        " 3 escalated beyond the municipality"
    )
    coordinator: CoordinatorOut | None = Field(
        description="The proposed (status proposed) or accepted coordinator; null when escalated"
    )
    due_at: datetime | None = Field(
        description="The next deadline: acceptance while proposed, closing while accepted and"
        " not yet confirmed as agreed; null otherwise"
    )
    agreed_at: datetime | None = Field(
        description="When the coordinator confirmed that the professionals agreed who does"
        " what (action confirm); from then on the coordination deadline no longer applies."
        " Null while not agreed; cleared by a handover, a new acceptance or an escalation",
    )

    @classmethod
    def of(cls, summary: CoordinationSummary) -> CoordinationOut:
        return cls.model_validate(_fields(summary))


def _fields(summary: CoordinationSummary) -> dict[str, object]:
    coordinator = None
    if summary.coordinator_organisation_id and summary.coordinator_registration_id:
        coordinator = CoordinatorOut(
            organisation_id=summary.coordinator_organisation_id,
            registration_id=summary.coordinator_registration_id,
        )
    return {
        "status": summary.status,
        "level": summary.level,
        "coordinator": coordinator,
        "due_at": summary.due_at,
        "agreed_at": summary.agreed_at,
    }


class MatchCoordinationOut(CoordinationOut):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "match_id": "0190a5c8-9b1f-7e2d-8c3a-1d2e3f4a5b6c",
                    "status": "accepted",
                    "level": 1,
                    "coordinator": {
                        "organisation_id": "0190a5c8-8a3e-7c1a-9d6e-2f4b5a6c7d8e",
                        "registration_id": "0190a5c8-8b4f-7d2b-8e7f-3a5c6b7d8e9f",
                    },
                    "due_at": None,
                    "agreed_at": "2026-03-06T14:05:00Z",
                }
            ]
        }
    )

    match_id: str

    @classmethod
    def of(cls, summary: CoordinationSummary) -> MatchCoordinationOut:
        return cls.model_validate({"match_id": summary.match_id, **_fields(summary)})


class MatchCoordinationList(BaseModel):
    items: list[MatchCoordinationOut]


class CoordinationActionIn(BaseModel):
    """The body of an action. ``decline`` and ``escalate`` take a ``reason`` code; ``close``
    takes the closure checks (all three) as ``reason``; ``handover`` and ``assign`` take the
    ``organisation_id`` of a participant. ``accept``, ``confirm`` and ``de-escalate`` take no
    body. There is no free-text field (ADR 0015)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"reason": "no-capacity"},
                {"organisation_id": "0190a5c8-8a3e-7c1a-9d6e-2f4b5a6c7d8e"},
                {
                    "reason": [
                        "risks-covered",
                        "aftercare-arranged",
                        "registering-professionals-told",
                    ]
                },
            ]
        },
    )

    reason: str | list[str] | None = Field(
        default=None,
        max_length=64,
        description="A code from docs/coordination.md (decline: no-capacity,"
        " other-better-placed, not-involved-enough, outside-mandate, conflict-of-interest;"
        " escalate: no-coordinator, no-progress, safety-concern, disagreement,"
        " beyond-mandate); for close, the list of closure checks: risks-covered,"
        " aftercare-arranged, registering-professionals-told",
    )
    organisation_id: str | None = Field(default=None, max_length=64)


class HistoryActor(BaseModel):
    role: str = Field(description="professional, municipality-admin or system")
    organisation_id: str | None


class HistoryItemOut(BaseModel):
    at: datetime
    action: str = Field(
        description="start, accept, decline, handover, escalate, close, confirm, assign,"
        " de-escalate, respond-deadline, remind, coordinate-deadline, coordinator-left,"
        " match-closed"
    )
    actor: HistoryActor
    reason: str | None = Field(description="A code (closure checks comma-separated)")
    target_organisation_id: str | None
    status: CoordinationStatus = Field(description="The status after this change")
    level: int
    coordinator_organisation_id: str | None


class HistoryOut(BaseModel):
    items: list[HistoryItemOut] = Field(description="Oldest first")

"""Request and response bodies of ``/v1/municipalities/{code}/covenant``."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from verwijsindex.covenants.service import DEFAULT_TERMS, Covenant
from verwijsindex.organisations.models import Sector

_DURATION: dict[str, Any] = {"pattern": "^P", "maxLength": 32, "examples": ["P2D", "PT12H"]}


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class EarlierInvolvementIn(_Strict):
    enabled: bool = False
    retention: str = Field(
        default=DEFAULT_TERMS.earlier_involvement.retention,
        description="ISO 8601 duration, at most P5Y (more is 422)",
        json_schema_extra=_DURATION,
    )


class CovenantIn(_Strict):
    """A whole covenant: a PUT replaces the current version; an optional field left out takes
    its default, not the previous version's value."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "coordinator_sectors": ["youth-protection", "veilig-thuis", "municipal-team"],
                    "respond_within": "P2D",
                    "coordinate_within": "P10D",
                    "inform_within": "P14D",
                    "earlier_involvement": {"enabled": False, "retention": "P5Y"},
                }
            ]
        },
    )

    coordinator_sectors: list[Sector] = Field(
        min_length=1,
        max_length=len(Sector),
        description="The sectors eligible to coordinate, in order of preference; no repeats",
    )
    respond_within: str = Field(
        description="How long a proposed coordinator has to accept (ISO 8601 duration; at"
        " least PT1H in production, development also accepts seconds such as PT2S)",
        json_schema_extra=_DURATION,
    )
    coordinate_within: str = Field(
        description="How long an accepted coordinator has to close the coordination",
        json_schema_extra=_DURATION,
    )
    inform_within: str = Field(
        default=DEFAULT_TERMS.inform_within,
        description="After how long a registration with nothing recorded about informing the"
        " youth or parents triggers a reminder",
        json_schema_extra=_DURATION,
    )
    earlier_involvement: EarlierInvolvementIn = Field(default_factory=EarlierInvolvementIn)


class EarlierInvolvementOut(BaseModel):
    enabled: bool
    retention: str


class ChangedBy(BaseModel):
    organisation_id: str
    professional_id: str | None = Field(
        default=None,
        description="The professional who made this version in the web portal; null when it"
        " was made through the API (with one of the organisation's API keys)",
    )


class CovenantOut(BaseModel):
    municipality: str
    version: int = Field(description="0 for the default of a municipality without a covenant")
    default: bool = Field(description="Whether this is the documented default covenant")
    coordinator_sectors: list[Sector]
    respond_within: str
    coordinate_within: str
    inform_within: str
    earlier_involvement: EarlierInvolvementOut
    changed_at: datetime | None
    changed_by: ChangedBy | None

    @classmethod
    def of(cls, covenant: Covenant) -> CovenantOut:
        terms = covenant.terms
        changed_by = covenant.changed_by_organisation_id
        return cls(
            municipality=covenant.municipality,
            version=covenant.version,
            default=covenant.is_default,
            coordinator_sectors=list(terms.coordinator_sectors),
            respond_within=terms.respond_within,
            coordinate_within=terms.coordinate_within,
            inform_within=terms.inform_within,
            earlier_involvement=EarlierInvolvementOut(
                enabled=terms.earlier_involvement.enabled,
                retention=terms.earlier_involvement.retention,
            ),
            changed_at=covenant.changed_at,
            changed_by=ChangedBy(
                organisation_id=changed_by, professional_id=covenant.changed_by_professional_id
            )
            if changed_by
            else None,
        )


class CovenantVersions(BaseModel):
    items: list[CovenantOut] = Field(description="Newest first")

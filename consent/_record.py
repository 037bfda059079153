"""Export shapes of a consent event: an ISO/IEC TS 27560-shaped record and FHIR R5.

Both take the subject as a pseudonymous reference (never a BSN, name or birth date) and
return plain ``dict`` values ready for ``json.dumps``.

The 27560 record follows the sections of the specification (header, PII processing,
party identification, event) with snake_case field names; it is shaped after the TS, not
a certified encoding of it. The FHIR export is a ``Consent`` resource of FHIR R5
(http://hl7.org/fhir/R5/consent.html). R5 has no ``rejected`` status: a refusal or a
withdrawal is an ``active`` Consent whose ``decision`` is ``deny``; a grant that has
expired at the export time is ``inactive``. The single top-level ``provision`` states the
scope (flows, purpose, data categories, period) that the ``decision`` is about.
"""

from __future__ import annotations

from datetime import datetime

from consent._errors import InvalidConsent
from consent._rules import ConsentEvent, LegalGroundClaim
from consent._vocabulary import EventKind, GrantorRole

__all__ = ["to_consent_record", "to_fhir_consent"]

SCHEMA_VERSION = "verwijsindex-consent-record-v1"
CODE_SYSTEM_BASE = "https://verwijsindex.nl/fhir/CodeSystem"
"""Base of the code systems of this service (purpose, data category, grantor role)."""
SUBJECT_SYSTEM = "urn:verwijsindex:subject-pseudonym"
ORGANISATION_SYSTEM = "urn:verwijsindex:organisation"
EVENT_SYSTEM = "urn:verwijsindex:consent-event"

_CONSENT_ACTION = "http://terminology.hl7.org/CodeSystem/consentaction"
_PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
_ROLE_CODE = "http://terminology.hl7.org/CodeSystem/v3-RoleCode"

_GDPR_CONSENT = "AVG art. 6(1)(a) (consent)"


def _iso(value: datetime) -> str:
    return value.isoformat()


def _check_subject(subject_ref: str) -> None:
    if not isinstance(subject_ref, str) or not subject_ref:
        raise InvalidConsent("subject_ref must be a non-empty pseudonymous reference")
    if subject_ref.isdigit():
        raise InvalidConsent("subject_ref must be a pseudonym, never a number such as a BSN")


def _flows(event: ConsentEvent) -> list[dict[str, str]]:
    return [{"sender": s, "recipient": r} for s, r in sorted(event.flows)]


def to_consent_record(
    event: ConsentEvent,
    *,
    subject_ref: str,
    legal_ground: LegalGroundClaim | None = None,
) -> dict[str, object]:
    """Return an ISO/IEC TS 27560-shaped consent record of ``event``.

    ``subject_ref`` is a pseudonymous reference to the youth. Without ``legal_ground`` the
    lawful basis is consent (AVG art. 6(1)(a)).
    """
    _check_subject(subject_ref)
    if legal_ground is None:
        lawful_basis: dict[str, object] = {"type": "consent", "reference": _GDPR_CONSENT}
    else:
        lawful_basis = {
            "type": "legal-ground",
            "code": legal_ground.ground.value,
            "reference": legal_ground.ground.statutory_reference,
            "justification": legal_ground.justification,
        }
    return {
        "schema_version": SCHEMA_VERSION,
        "record_id": event.id,
        "pii_principal_id": subject_ref,
        "pii_controllers": sorted([event.organisation_id, event.counterpart_organisation_id]),
        "processing": {
            "purposes": [event.purpose.value],
            "processing_operations": ["disclose"],
            "direction": event.direction.value,
            "flows": _flows(event),
            "pii_categories": sorted(c.value for c in event.data_categories),
            "lawful_basis": lawful_basis,
        },
        "event": {
            "event_type": event.kind.value,
            "event_time": _iso(event.recorded_at),
            "event_by": {"role": event.grantor.value},
            "recorded_by": event.organisation_id,
            "age_band": event.age_band.value,
            "collection_method": event.method.value,
            "evidence_sha256": event.evidence_hash,
        },
        "validity": {
            "valid_from": _iso(event.effective_from),
            "valid_until": None if event.valid_until is None else _iso(event.valid_until),
        },
    }


def _org(org_id: str) -> dict[str, object]:
    return {"type": "Organization", "identifier": {"system": ORGANISATION_SYSTEM, "value": org_id}}


def _coding(system: str, code: str, display: str | None = None) -> dict[str, str]:
    coding = {"system": system, "code": code}
    if display is not None:
        coding["display"] = display
    return coding


def _grantor(event: ConsentEvent, subject: dict[str, object]) -> dict[str, object]:
    if event.grantor is GrantorRole.YOUTH:
        return {**subject, "display": "the youth"}
    return {"type": "RelatedPerson", "display": f"{event.grantor.value} of the youth"}


def to_fhir_consent(
    event: ConsentEvent, *, subject_ref: str, at: datetime | None = None
) -> dict[str, object]:
    """Return ``event`` as a FHIR R5 ``Consent`` resource (JSON as a ``dict``).

    ``subject_ref`` is a pseudonymous reference to the youth, exported as an identifier
    reference (no BSN). ``at`` (default: the event time) decides whether a grant has
    expired (``inactive``).
    """
    _check_subject(subject_ref)
    moment = at if at is not None else event.recorded_at
    subject: dict[str, object] = {
        "type": "Patient",
        "identifier": {"system": SUBJECT_SYSTEM, "value": subject_ref},
    }
    if event.kind is EventKind.GIVEN:
        expired = event.valid_until is not None and event.valid_until <= moment
        status, decision = ("inactive" if expired else "active"), "permit"
    else:
        status, decision = "active", "deny"
    period: dict[str, str] = {"start": _iso(event.effective_from)}
    if event.valid_until is not None:
        period["end"] = _iso(event.valid_until)
    recipients = sorted({r for _, r in event.flows})
    senders = sorted({s for s, _ in event.flows})
    actors: list[dict[str, object]] = [
        {
            "role": {"coding": [_coding(_PARTICIPATION, "PRCP", "primary information recipient")]},
            "reference": _org(org),
        }
        for org in recipients
    ] + [
        {"role": {"coding": [_coding(_PARTICIPATION, "CST", "custodian")]}, "reference": _org(org)}
        for org in senders
    ]
    return {
        "resourceType": "Consent",
        "id": event.id,
        "identifier": [{"system": EVENT_SYSTEM, "value": event.id}],
        "status": status,
        "category": [
            {
                "coding": [
                    _coding(
                        f"{CODE_SYSTEM_BASE}/consent-category",
                        "information-exchange",
                        "Exchange of content between professionals after a match",
                    )
                ]
            }
        ],
        "subject": subject,
        "date": event.recorded_at.date().isoformat(),
        "period": period,
        "grantor": [_grantor(event, subject)],
        "grantee": [_org(org) for org in recipients],
        "controller": [
            _org(org) for org in sorted([event.organisation_id, event.counterpart_organisation_id])
        ],
        "regulatoryBasis": [
            {"text": _GDPR_CONSENT},
        ],
        "verification": [
            {
                "verified": event.evidence_hash is not None,
                "verificationType": {
                    "coding": [_coding(f"{CODE_SYSTEM_BASE}/consent-method", event.method.value)]
                },
            }
        ],
        "decision": decision,
        "provision": [
            {
                "period": period,
                "actor": actors,
                "action": [{"coding": [_coding(_CONSENT_ACTION, "disclose", "Disclose")]}],
                "purpose": [_coding(f"{CODE_SYSTEM_BASE}/purpose", event.purpose.value)],
                "code": [
                    {"coding": [_coding(f"{CODE_SYSTEM_BASE}/data-category", c.value)]}
                    for c in sorted(event.data_categories)
                ],
                "extension": [
                    {
                        "url": f"{CODE_SYSTEM_BASE}/direction",
                        "valueCode": event.direction.value,
                    }
                ],
            }
        ],
        "extension": [
            {"url": f"{CODE_SYSTEM_BASE}/age-band", "valueCode": event.age_band.value},
            {"url": f"{CODE_SYSTEM_BASE}/event-kind", "valueCode": event.kind.value},
        ],
    }
